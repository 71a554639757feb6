"""Compare a student's outputs with the reference, and name a known mistake when one matches.

For every test case the checker computes the right answer and a set of
*variants*: the answers that known mistakes give on the same inputs. An output
that is wrong is compared with every variant on every case; a variant that
matches on all cases names the mistake. The test inputs are chosen so that
different mistakes give different answers (tests assert this), so a match is
unambiguous. A wrong output that matches no variant gets a diagnosis from
:mod:`._diagnose` where a simple test finds one (a constant factor, a sign,
zero, transposed, outputs swapped).

Tolerance: ``TOL`` on gradcheck's relative error,
``max|a - b| / (max|a| + max|b|)``, for float64 outputs; ``TOL32`` when the
student's output is float32 (a correct float32 implementation is at ~1e-6).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..gradcheck import rel_error
from ._diagnose import explain, swapped_outputs
from ._outcome import Fail

__all__ = ["TOL", "TOL32", "Case", "Mistake", "judge", "tolerance", "differ"]

TOL = 1e-7
"""Largest relative error accepted for float64 outputs (a right answer is at ~1e-15)."""
TOL32 = 1e-4
"""Largest relative error accepted for float32 outputs (a right answer is at ~1e-6)."""


@dataclass(frozen=True)
class Mistake:
    """A known mistake: a short name and a hint that points at the fix."""

    name: str
    hint: str


@dataclass
class Case:
    """One test case: its label, the right outputs, each mistake's outputs, and sizes by name.

    ``sizes`` (e.g. ``{"N": 8}``) lets a diagnosis say "exactly 1/N"; without it
    the axes' lengths are used.
    """

    label: str
    want: dict
    variants: dict = field(default_factory=dict)   # mistake key -> {output name: array}
    sizes: dict = field(default_factory=dict)


def tolerance(value, tol: float = TOL) -> float:
    """The tolerance for one output: ``tol``, or at least ``TOL32`` for float32."""
    return max(tol, TOL32) if getattr(value, "dtype", None) == np.float32 else tol


def differ(a: float, b: float) -> tuple[str, str]:
    """``a`` and ``b`` with just enough significant digits to tell them apart (at least 6)."""
    for digits in range(6, 18):
        sa, sb = f"{a:.{digits}g}", f"{b:.{digits}g}"
        if sa != sb:
            return sa, sb
    return f"{a:.17g}", f"{b:.17g}"


def _where(got: np.ndarray, want: np.ndarray) -> str:
    diff = np.abs(np.asarray(got, dtype=np.float64) - want)
    idx = np.unravel_index(int(np.argmax(diff)), diff.shape) if diff.ndim else ()
    loc = f" at index {tuple(int(i) for i in idx)}" if idx else ""
    yours, expected = differ(float(got[idx]), float(want[idx]))
    return f"worst{loc}: yours {yours}, expected {expected}"


def _matches(name, outputs, cases, mistakes, tol) -> list:
    found = []
    for key in mistakes:
        if all(name in c.variants.get(key, {}) and
               rel_error(o[name], c.variants[key][name]) <= tolerance(o[name], tol)
               for o, c in zip(outputs, cases)):
            found.append(key)
    return found


def _differs(name, outputs, cases, key, tol) -> bool:
    """True if the student's ``name`` differs from mistake ``key``'s on some case."""
    return any(rel_error(o[name], c.variants[key][name]) > tolerance(o[name], tol)
               for o, c in zip(outputs, cases))


def _named(name, outputs, cases, mistakes, tol, named) -> str:
    """The sentence naming the known mistake(s) that output ``name`` matches, or ""."""
    found = _matches(name, outputs, cases, mistakes, tol)
    whole = [k for k in found if all(n == name or not _differs(n, outputs, cases, k, tol)
                                     for n in cases[0].variants.get(k, {}))]
    found = whole or found
    already = len(found) == 1 and found[0] in named
    named.update(found)
    if already:
        return f"Same mistake: {mistakes[found[0]].name}."
    if len(found) == 1:
        m = mistakes[found[0]]
        return f"This matches a known mistake: {m.name}. Hint: {m.hint}"
    if found:
        return ("This matches known mistakes: " + "; ".join(mistakes[k].name for k in found)
                + ". Hint: " + mistakes[found[0]].hint)
    return ""


def judge(outputs: list, cases: list, what: str, mistakes: dict, tol: float = TOL) -> str:
    """Return a success message, or raise Fail describing every wrong output.

    ``outputs[i]`` maps output names to the student's arrays for ``cases[i]``.
    """
    names = list(cases[0].want)
    wrong, worst = {}, 0.0
    for name in names:
        for out, case in zip(outputs, cases):
            err = rel_error(out[name], case.want[name])
            worst = max(worst, err)
            if err > tolerance(out[name], tol):
                wrong[name] = (case, err)
                break
    if not wrong:
        used = sorted({tolerance(o[n], tol) for o in outputs for n in names})
        return (f"{what} matches the reference on {len(cases)} test cases "
                f"({', '.join(c.label for c in cases)}); worst relative error {worst:.1e} "
                f"(tolerance {used[-1]:.0e}{', float32' if used[-1] > tol else ''}).")
    raise Fail("\n".join(_report(wrong, names, outputs, cases, what, mistakes, tol)))


def _report(wrong, names, outputs, cases, what, mistakes, tol) -> list:
    lines, named, said = [], set(), set()
    case0 = next(iter(wrong.values()))[0]
    out0 = next(o for o, c in zip(outputs, cases) if c is case0)
    pairs = [p for p in swapped_outputs(out0, case0.want, tol) if p[0] in wrong and p[1] in wrong]
    for name, (case, err) in wrong.items():
        got = next(o[name] for o, c in zip(outputs, cases) if c is case)
        lines.append(f"`{name}` is wrong (test case: {case.label}): relative error {err:.1e}, "
                     f"{_where(got, case.want[name])}.")
        line = _named(name, outputs, cases, mistakes, tol, named)
        pair = next((p for p in pairs if name in p), None)
        if not line and pair:
            line = "" if pair in said else (f"`{pair[0]}` and `{pair[1]}` hold each other's values: "
                                            f"they are returned in the wrong order.")
            said.add(pair)
        if not line:
            line = explain(got, case.want[name], tolerance(got, tol), case.sizes) or (
                "It matches none of the mistakes this checker knows; compare your code "
                "with the formulas line by line on a tiny input.")
        if line:
            lines.append(line)
    right = [n for n in names if n not in wrong]
    if right:
        lines.append(f"({', '.join(f'`{n}`' for n in right)} "
                     f"{'is' if len(right) == 1 else 'are'} right.)")
    return lines
