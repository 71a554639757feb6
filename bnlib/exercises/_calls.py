"""Calling the student's code at arm's length, and validating what it returns.

:func:`call_student` passes copies of the inputs, turns every exception the
student's code raises (``SystemExit`` and ``KeyboardInterrupt`` included) into
a :class:`Fail` with a plain-words message, and reports inputs changed in
place. :func:`unpack`, :func:`as_output` and :func:`as_outputs` check the
returned values: a tuple of the right length, real numpy arrays of the right
shape (naming a transposed result, a reduction over the wrong axis, or values
returned in the wrong order), finite, in float32 or float64.
"""
from __future__ import annotations

import ast
import inspect
import sys
import textwrap
import threading

import numpy as np

from ._limits import TimedOut
from ._outcome import NOT_IMPLEMENTED, Fail

__all__ = ["call_student", "call_traced", "unpack", "as_output", "as_outputs", "last_call"]

_log = threading.local()


def last_call() -> tuple:
    """``(what, case)`` of the student call running or run last in this thread's check."""
    return getattr(_log, "call", (None, None))


def _fname(fn) -> str:
    return getattr(fn, "__name__", None) or type(fn).__name__


def _is_stub(fn) -> bool:
    """True if ``fn``'s body is only ``...`` (the prompt otter leaves) or ``pass``, after a docstring."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError, IndentationError):
        return False
    body = tree.body[0].body if tree.body and hasattr(tree.body[0], "body") else []
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    return len(body) == 1 and (isinstance(body[0], ast.Pass) or (
        isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
        and body[0].value.value is Ellipsis))


def _copies(args):
    return tuple(np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args)


def _run(fn, args, what, case, frame_locals=None):
    """Call ``fn(*args)``; with ``frame_locals`` (a dict), fill it with the student's local variables.

    Those are the locals of every function defined in the same file (notebook
    cell) as ``fn`` when it returned, the outermost last, so a lambda or a
    helper around the real work still shows its variables.
    """
    code = getattr(getattr(fn, "__func__", fn), "__code__", None)
    filename = getattr(code, "co_filename", None)
    tracing = frame_locals is not None and code is not None
    previous = sys.getprofile()

    def profile(frame, event, arg):
        if event == "return" and frame.f_code.co_filename == filename:
            frame_locals.update(frame.f_locals)

    _log.call = (what, case)
    if tracing:
        sys.setprofile(profile)
    try:
        with np.errstate(all="ignore"):
            return fn(*args)
    except TimedOut:
        raise
    except NotImplementedError as e:
        raise Fail(f"{NOT_IMPLEMENTED}: {_fname(fn)} raised NotImplementedError"
                   f"{f' ({e})' if str(e) else ''}. Replace `raise NotImplementedError` with "
                   f"your code, then run this cell again.", status="todo") from None
    except (SystemExit, KeyboardInterrupt) as e:
        word = "called exit()" if isinstance(e, SystemExit) else "was interrupted (KeyboardInterrupt)"
        raise Fail(f"{_fname(fn)} {word} (test case: {case}). A function being checked must "
                   f"return its result; it should not stop the program.") from None
    except BaseException as e:  # noqa: BLE001 - whatever the student's code raises is reported
        raise Fail(f"{_fname(fn)} raised {type(e).__name__}: {e} (test case: {case}). "
                   f"Run it yourself on small arrays to find the line.") from None
    finally:
        if tracing:
            sys.setprofile(previous)


def _call(fn, args, what, case, names, frame_locals=None):
    if not callable(fn):
        raise Fail(f"{what} should be a function; got {type(fn).__name__} {fn!r:.60}.")
    originals, passed = _copies(args), _copies(args)
    result = _run(fn, passed, what, case, frame_locals)
    if result is None and _is_stub(fn):
        raise Fail(f"{NOT_IMPLEMENTED}: the body of {_fname(fn)} is still a placeholder "
                   f"(`...` or `pass`). Write your code there, then run this cell again.", status="todo")
    for i, (orig, given) in enumerate(zip(originals, passed)):
        if isinstance(orig, np.ndarray) and not np.array_equal(orig, given, equal_nan=True):
            label = names[i] if i < len(names) else f"argument {i + 1}"
            raise Fail(f"{_fname(fn)} changed its input `{label}` in place (test case: {case}). "
                       f"Work on new arrays (e.g. `x = x - mu`, not `x -= mu`): callers "
                       f"still need their inputs.")
    return result


def call_student(fn, args: tuple, what: str, case: str, names: tuple[str, ...] = ()):
    """Call ``fn(*args)`` on copies of ``args``; report exceptions and in-place changes.

    ``names`` labels the arguments in messages. Returns whatever ``fn`` returned.
    """
    return _call(fn, args, what, case, names)


def call_traced(fn, args: tuple, what: str, case: str, names: tuple[str, ...] = ()):
    """Like :func:`call_student`, also returning fn's local variables when it returned."""
    frame_locals: dict = {}
    return _call(fn, args, what, case, names, frame_locals), frame_locals


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


def _array(value, name: str, shape: tuple, what: str) -> np.ndarray:
    """A plain numpy copy of ``value``, or Fail saying why it is not an array of numbers."""
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
    return np.array(value, copy=True, subok=False)   # a subclass could change arithmetic


def as_output(value, name: str, shape: tuple[int, ...], what: str) -> np.ndarray:
    """Validate one returned array: real numbers, ``shape``, all finite.

    float64 and integers come back as float64, float32 stays float32 (the
    judge then uses float32's tolerance); anything coarser is rejected.
    """
    shape = tuple(shape)
    value = _array(value, name, shape, what)
    if value.dtype.kind not in "fiu":
        raise Fail(f"`{name}` from {what} has dtype {value.dtype}; it should hold real numbers.")
    if value.dtype.kind == "f" and value.dtype.itemsize < 4:
        raise Fail(f"`{name}` from {what} is {value.dtype}, too coarse to check: keep float64 "
                   f"(or at least float32).")
    if value.shape != shape:
        raise Fail(f"`{name}` from {what} has shape {value.shape}; it should have shape "
                   f"{shape}.{_shape_hint(value.shape, shape)}")
    bad = ~np.isfinite(value)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        kind = "NaN" if np.isnan(value[where]) else "inf"
        raise Fail(f"`{name}` from {what} contains {kind} (first at index {where}). Look for a "
                   f"division by zero or the square root of a negative number.")
    return value if value.dtype == np.float32 else value.astype(np.float64, copy=False)


def as_outputs(values, names: tuple[str, ...], shapes: tuple, what: str) -> dict:
    """Validate several returned arrays; name values returned in the wrong order.

    When the shapes are wrong but each array has the shape of another output,
    the message says which output each one looks like.
    """
    shapes = tuple(tuple(s) for s in shapes)
    got = tuple(np.shape(v) if isinstance(v, np.ndarray) else None for v in values)
    if got != shapes and None not in got and sorted(got) == sorted(shapes):
        looks = [" or ".join(f"`{n}`" for n, s in zip(names, shapes) if s == g) for g in got]
        pairs = ", ".join(f"value {i + 1} has the shape of {n} {g}" for i, (n, g) in enumerate(zip(looks, got)))
        raise Fail(f"{what} returns its values in the wrong order: {pairs}. Return them in the "
                   f"order ({', '.join(names)}), one gradient per input of the forward, in its order.")
    return {n: as_output(v, n, s, what) for n, v, s in zip(names, values, shapes)}


def _shape_hint(got, want) -> str:
    if len(want) == 2 and got == want[::-1] and got != want:
        return (" It is transposed: the two axes are swapped (a stray `.T`, or a reshape or "
                "transpose with the axes in the wrong order).")
    if got != () and tuple(d for d in got if d != 1) == tuple(d for d in want if d != 1):
        return " Only axes of length 1 differ: drop keepdims=True or reshape to the expected shape."
    if len(want) >= 2 and got == want[:1]:
        return (f" It has one value per example (axis 0, length {want[0]}): you reduced over "
                f"the wrong axis.")
    if len(want) == 1 and len(got) >= 2 and want[0] in got:
        return (" It still has the batch axis: a broadcast value's gradient is a sum over the "
                "batch (axis 0), one value per feature.")
    if len(want) == 1 and len(got) == 1:
        return " A sum or mean over the wrong axis?"
    if got == ():
        return " It is a single number: a sum or mean over all axes instead of one?"
    if len(got) == len(want) + 1 or len(got) + 1 == len(want):
        return " Check `keepdims` and which axis you reduced over."
    return ""
