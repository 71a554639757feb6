"""The result a checker returns, and the guarded calls that keep student code at arm's length.

Every checker is wrapped by :func:`checker`: whatever the student's code does
(raise, return None, return a list, change its inputs), the checker turns it
into a :class:`CheckResult` with a plain-words message and never raises.
"""
from __future__ import annotations

import functools
import html
import re
from dataclasses import dataclass

import numpy as np

__all__ = ["CheckResult", "Fail", "checker", "call_student", "as_output", "unpack", "NOT_IMPLEMENTED"]

NOT_IMPLEMENTED = "not implemented yet"

_STYLES = {  # (border, background, symbol, word): green, red, and amber for a stub
    "passed": ("#1a7f37", "#e6f4ea", "✓", "Passed"),
    "failed": ("#c62828", "#fdecea", "✗", "Not yet right"),
    "todo": ("#b26a00", "#fff4e0", "…", "Not implemented yet"),
}


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: ``passed`` (bool) and a plain-words ``message``.

    Shows as a coloured box in a notebook (green passed, red wrong, amber
    not implemented yet) and as one line of text elsewhere.
    """

    passed: bool
    message: str
    title: str = "check"

    @property
    def status(self) -> str:
        if self.passed:
            return "passed"
        return "todo" if self.message.startswith(NOT_IMPLEMENTED) else "failed"

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        word = {"passed": "PASSED", "failed": "FAILED", "todo": "TODO"}[self.status]
        return f"[{word}] {self.title}: {self.message}"

    def _repr_html_(self) -> str:
        border, back, symbol, word = _STYLES[self.status]
        body = "".join(f"<p style='margin:0.3em 0'>{_code(html.escape(p))}</p>"
                       for p in self.message.split("\n") if p.strip())
        return (f"<div class='bn-check bn-check-{self.status}' style='border:2px solid {border};"
                f"background:{back};color:#1b1b1b;border-radius:6px;padding:0.5em 0.9em;margin:0.4em 0'>"
                f"<strong style='color:{border}'>{symbol} {word}: {html.escape(self.title)}</strong>"
                f"{body}</div>")


def _code(text: str) -> str:
    """Show `name` spans of an (escaped) message as inline code."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", text)


class Fail(Exception):
    """Raised inside a checker to stop with a message for the student."""


def checker(title: str):
    """Decorate a check function so that it always returns a CheckResult.

    The wrapped function returns a success message or raises :class:`Fail`;
    any other exception is a bug the student cannot fix, reported as such.
    """
    def wrap(fn):
        @functools.wraps(fn)
        def run(*args, **kwargs):
            try:
                return CheckResult(True, fn(*args, **kwargs), title)
            except Fail as e:
                return CheckResult(False, str(e), title)
            except Exception as e:  # noqa: BLE001 - a checker must never raise
                return CheckResult(False, f"the checker could not check this answer "
                                   f"({type(e).__name__}: {e}).", title)
        return run
    return wrap


def _fname(fn) -> str:
    return getattr(fn, "__name__", None) or type(fn).__name__


def call_student(fn, args: tuple, what: str, case: str, names: tuple[str, ...] = ()):
    """Call ``fn(*args)`` on copies of ``args``; report exceptions and in-place changes.

    ``names`` labels the arguments in messages. Returns whatever ``fn`` returned.
    """
    if not callable(fn):
        raise Fail(f"{what} should be a function; got {type(fn).__name__} {fn!r:.60}.")
    copies = tuple(np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args)
    passed = tuple(np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args)
    try:
        with np.errstate(all="ignore"):
            result = fn(*passed)
    except NotImplementedError as e:
        raise Fail(f"{NOT_IMPLEMENTED}: {_fname(fn)} raised NotImplementedError"
                   f"{f' ({e})' if str(e) else ''}. Replace `raise NotImplementedError` with "
                   f"your code, then run this cell again.") from None
    except Exception as e:  # noqa: BLE001
        raise Fail(f"{_fname(fn)} raised {type(e).__name__}: {e} (test case: {case}). "
                   f"Run it yourself on small arrays to find the line.") from None
    for i, (orig, given) in enumerate(zip(copies, passed)):
        if isinstance(orig, np.ndarray) and not np.array_equal(orig, given, equal_nan=True):
            label = names[i] if i < len(names) else f"argument {i + 1}"
            raise Fail(f"{_fname(fn)} changed its input `{label}` in place (test case: {case}). "
                       f"Work on new arrays (e.g. `x = x - mu`, not `x -= mu`): callers "
                       f"still need their inputs.")
    return result


def unpack(result, count: int, what: str, names: tuple[str, ...]):
    """Check that ``result`` is a tuple of ``count`` values (named ``names``)."""
    want = ", ".join(names)
    if result is None:
        raise Fail(f"{what} returned None; it should return ({want}). Did you forget `return`?")
    if isinstance(result, np.ndarray) or not isinstance(result, (tuple, list)):
        raise Fail(f"{what} returned a single {type(result).__name__}; it should return a "
                   f"tuple ({want}).")
    if len(result) != count:
        raise Fail(f"{what} returned {len(result)} value{'s' if len(result) != 1 else ''}; "
                   f"it should return {count}: ({want}).")
    return tuple(result)


def as_output(value, name: str, shape: tuple[int, ...], what: str) -> np.ndarray:
    """Validate one returned array: a real numpy array of ``shape``, all finite."""
    if value is None:
        raise Fail(f"`{name}` from {what} is None; it should be an array of shape {shape}.")
    if isinstance(value, (list, tuple)):
        raise Fail(f"`{name}` from {what} is a Python {type(value).__name__}; return a numpy "
                   f"array of shape {shape} (numpy operations give you one).")
    if isinstance(value, (np.generic, int, float)) and not isinstance(value, (bool, np.bool_)):
        value = np.asarray(value)   # a number: let the shape check explain
    if not isinstance(value, np.ndarray):
        raise Fail(f"`{name}` from {what} is a {type(value).__name__}; it should be a numpy "
                   f"array of shape {shape}.")
    if value.dtype.kind not in "fiu":
        raise Fail(f"`{name}` from {what} has dtype {value.dtype}; it should hold real numbers.")
    if value.dtype.kind == "f" and value.dtype.itemsize < 8:
        raise Fail(f"`{name}` from {what} is {value.dtype}, but the test inputs are float64: "
                   f"something converts to lower precision; keep float64 so the answer can be "
                   f"checked to a tight tolerance.")
    if value.shape != tuple(shape):
        raise Fail(f"`{name}` from {what} has shape {value.shape}; it should have shape "
                   f"{tuple(shape)}.{_shape_hint(value.shape, tuple(shape))}")
    bad = ~np.isfinite(value)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        kind = "NaN" if np.isnan(value[where]) else "inf"
        raise Fail(f"`{name}` from {what} contains {kind} (first at index {where}). Look for a "
                   f"division by zero or the square root of a negative number.")
    return value.astype(np.float64, copy=False)


def _shape_hint(got, want) -> str:
    if got != () and tuple(d for d in got if d != 1) == tuple(d for d in want if d != 1):
        return " Only axes of length 1 differ: drop keepdims=True or reshape to the expected shape."
    if len(want) >= 2 and got == want[:1]:
        return " It has one value per example: a sum or mean over the wrong axis?"
    if len(want) == 1 and len(got) >= 2 and want[0] in got:
        return " It still has the batch axis: sum over the batch (axis 0) to get one value per feature."
    if len(want) == 1 and len(got) == 1:
        return " A sum or mean over the wrong axis?"
    if got == ():
        return " It is a single number: a sum or mean over all axes instead of one?"
    if len(got) == len(want) + 1 or len(got) + 1 == len(want):
        return " Check `keepdims` and which axis you reduced over."
    return ""
