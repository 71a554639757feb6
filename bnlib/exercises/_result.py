"""The :func:`checker` decorator: every check returns a CheckResult and never raises.

Whatever the student's code does (raise anything, ``exit()``, loop forever,
return None or a list, change its inputs, rebind the checker's internals), the
decorated check turns it into a :class:`CheckResult` with a plain-words
message. It also re-exports the helpers checks are written with.
"""
from __future__ import annotations

import functools

from . import _integrity
from ._calls import as_output, as_outputs, call_student, call_traced, last_call, unpack
from ._limits import TimedOut, check_seconds, get_time_limit, run_limited
from ._outcome import NOT_IMPLEMENTED, CheckResult, Fail

__all__ = ["CheckResult", "Fail", "checker", "call_student", "call_traced", "as_output", "as_outputs",
           "unpack", "NOT_IMPLEMENTED"]


def _tampered(names: list[str], when: str) -> str:
    shown = ", ".join(f"`{n}`" for n in names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
    return (f"the checker's own code or the reference it compares with was changed {when}: {shown}. "
            f"Such a check proves nothing, so it fails; the originals have been put back. Run "
            f"the check again, without changing bnlib.")


def _too_slow(limit: float) -> str:
    what, case = last_call()
    where = f" (test case: {case})" if case else ""
    return (f"{what or 'the code being checked'} did not finish within {limit:g} s{where}. Look for a "
            f"loop that never ends, or far more work than the small test inputs need. (The limit "
            f"is bnlib.exercises.set_time_limit.)")


def checker(title: str):
    """Decorate a check so that it always returns a CheckResult, within a time limit.

    The wrapped function returns a success message or raises :class:`Fail`;
    any other exception is a bug the student cannot fix, reported as such.
    The wrapper takes an extra keyword ``time_limit`` (seconds; default
    :func:`bnlib.exercises.get_time_limit`).
    """
    def wrap(fn):
        @functools.wraps(fn)
        def run(*args, time_limit: float | None = None, **kwargs):
            # a wrong argument from the notebook's author (not the student) is an ordinary error
            limit = get_time_limit() if time_limit is None else check_seconds(time_limit, "time_limit")
            before = _integrity.changed()
            if before:
                _integrity.restore()   # first, so that even CheckResult itself is the real one
                return CheckResult(False, _tampered(before, "after bnlib was imported"), title)
            try:
                result = CheckResult(True, run_limited(lambda: fn(*args, **kwargs), limit), title)
            except Fail as e:
                result = CheckResult(False, str(e), title, e.status)
            except TimedOut:
                result = CheckResult(False, _too_slow(limit), title)
            except BaseException as e:  # noqa: BLE001 - a checker must never raise
                result = _could_not(e, title)
            after = _integrity.changed()
            if after:
                _integrity.restore()
                return CheckResult(False, _tampered(after, "while your code ran"), title)
            return result
        return run
    return wrap


def _could_not(e: BaseException, title: str) -> CheckResult:
    return CheckResult(False, f"the checker could not check this answer ({type(e).__name__}: {e}).", title)
