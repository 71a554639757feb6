"""Compare a student's outputs with the reference, and name a known mistake when one matches.

For every test case the checker computes the right answer and a set of
*variants*: the answers that known mistakes give on the same inputs. An output
that is wrong is compared with every variant on every case; a variant that
matches on all cases names the mistake. The test inputs are chosen so that
different mistakes give different answers (tests assert this), so a match is
unambiguous.

Tolerance: ``TOL`` on gradcheck's relative error,
``max|a - b| / (max|a| + max|b|)``, in float64.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..gradcheck import rel_error
from ._result import Fail

__all__ = ["TOL", "Case", "Mistake", "judge"]

TOL = 1e-7
"""Largest relative error accepted (float64 references; a right answer is at ~1e-15)."""


@dataclass(frozen=True)
class Mistake:
    """A known mistake: a short name and a hint that points at the fix."""

    name: str
    hint: str


@dataclass
class Case:
    """One test case: its label, the right outputs, and each mistake's outputs."""

    label: str
    want: dict
    variants: dict = field(default_factory=dict)   # mistake key -> {output name: array}


def _where(got: np.ndarray, want: np.ndarray) -> str:
    diff = np.abs(got - want)
    idx = np.unravel_index(int(np.argmax(diff)), diff.shape) if diff.ndim else ()
    loc = f" at index {tuple(int(i) for i in idx)}" if idx else ""
    return f"worst{loc}: yours {float(got[idx]):.6g}, expected {float(want[idx]):.6g}"


def _matches(name: str, outputs: list, cases: list, mistakes: dict, tol: float) -> list:
    found = []
    for key in mistakes:
        ok = True
        for out, case in zip(outputs, cases):
            variant = case.variants.get(key, {})
            if name not in variant or rel_error(out[name], variant[name]) > tol:
                ok = False
                break
        if ok:
            found.append(key)
    return found


def _differs(name, outputs, cases, key, tol) -> bool:
    """True if the student's ``name`` differs from mistake ``key``'s on some case."""
    return any(rel_error(o[name], c.variants[key][name]) > tol for o, c in zip(outputs, cases))


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
            if err > tol:
                wrong[name] = (case, err)
                break
    if not wrong:
        return (f"{what} matches the reference on {len(cases)} test cases "
                f"({', '.join(c.label for c in cases)}); worst relative error {worst:.1e} "
                f"(tolerance {tol:.0e}).")
    lines, named = [], set()
    for name, (case, err) in wrong.items():
        got = next(o[name] for o, c in zip(outputs, cases) if c is case)
        lines.append(f"`{name}` is wrong (test case: {case.label}): relative error {err:.1e}, "
                     f"{_where(got, case.want[name])}.")
        found = _matches(name, outputs, cases, mistakes, tol)
        whole = [k for k in found if all(n == name or not _differs(n, outputs, cases, k, tol)
                                         for n in cases[0].variants.get(k, {}))]
        found = whole or found
        if len(found) == 1 and found[0] in named:
            lines.append(f"Same mistake: {mistakes[found[0]].name}.")
        elif len(found) == 1:
            m = mistakes[found[0]]
            lines.append(f"This matches a known mistake: {m.name}. Hint: {m.hint}")
        elif found:
            lines.append("This matches known mistakes: " + "; ".join(mistakes[k].name for k in found)
                         + ". Hint: " + mistakes[found[0]].hint)
        else:
            lines.append("It matches none of the mistakes this checker knows; compare your code "
                         "with the formulas line by line on a tiny input.")
        named.update(found)
    right = [n for n in names if n not in wrong]
    if right:
        lines.append(f"({', '.join(f'`{n}`' for n in right)} "
                     f"{'is' if len(right) == 1 else 'are'} right.)")
    raise Fail("\n".join(lines))
