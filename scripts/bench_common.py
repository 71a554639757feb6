"""What the benchmark scripts share: verdicts, tables, summaries (no timing code: that is bnlib.timing)."""
from __future__ import annotations

import math
import statistics

__all__ = ["geomean", "verdict", "md_table", "summarize", "best_ratio"]


def geomean(values) -> float:
    """Geometric mean of positive numbers (nan if there are none)."""
    values = [v for v in values if v is not None and v > 0 and math.isfinite(v)]
    return math.exp(sum(map(math.log, values)) / len(values)) if values else float("nan")


def verdict(value, limit) -> str:
    """'PASS' when value <= limit, 'MISS' otherwise (or when value is missing)."""
    return "PASS" if value is not None and math.isfinite(value) and value <= limit else "MISS"


def md_table(header, rows) -> str:
    """A markdown table; None cells print as an en dash."""
    fmt = [["–" if c is None else str(c) for c in row] for row in rows]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in fmt])


def summarize(samples) -> dict:
    """Median and min of a list of per-call times in seconds."""
    return {"median": statistics.median(samples), "min": min(samples)}


def best_ratio(a, b) -> float:
    """min(a) / min(b): the ratio of the fastest runs.

    On a shared machine other work only ever adds time, so the fastest of many
    interleaved runs is the best estimate of each contender's own cost.
    """
    return min(a) / min(b)
