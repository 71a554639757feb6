"""A time limit for each check, so a student function that never returns cannot hang a notebook.

In the main thread (where signals are delivered) the limit is a SIGALRM timer
set with ``setitimer``: the handler raises :class:`TimedOut` inside the
student's Python code, and the previous handler and timer are put back
afterwards. Python only runs a signal handler between bytecodes, so one long
numpy call (a C loop) finishes first; the elapsed time is measured as well, and
a check that took longer than the limit is reported as too slow either way.
Elsewhere (another thread, or no SIGALRM) the check runs in a daemon worker
thread; after the limit the caller stops waiting and an asynchronous
``TimedOut`` is sent to the worker, which stops a Python loop (not a C call).

The default limit is :data:`DEFAULT_TIME_LIMIT` seconds, or the number in the
environment variable ``BNLIB_CHECK_TIME_LIMIT``; :func:`set_time_limit` changes it.
"""
from __future__ import annotations

import ctypes
import math
import os
import signal
import threading
import time

__all__ = ["DEFAULT_TIME_LIMIT", "TimedOut", "check_seconds", "get_time_limit", "set_time_limit", "run_limited"]

DEFAULT_TIME_LIMIT = 5.0
"""Seconds a check may take: the checks' inputs are tiny, a right answer needs milliseconds."""

_REPEAT = 0.05
"""Seconds between repeated interruptions once the limit has passed."""
_state = threading.local()


class TimedOut(BaseException):
    """The check ran out of time (a BaseException, so ``except Exception`` does not swallow it)."""


def check_seconds(seconds, name: str) -> float:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"{name} must be a number of seconds; got {type(seconds).__name__} {seconds!r}")
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"{name} must be a positive, finite number of seconds; got {seconds!r}")
    return float(seconds)


def _from_env() -> float:
    text = os.environ.get("BNLIB_CHECK_TIME_LIMIT", "")
    try:
        return check_seconds(float(text), "BNLIB_CHECK_TIME_LIMIT") if text else DEFAULT_TIME_LIMIT
    except ValueError:
        return DEFAULT_TIME_LIMIT


_limit = _from_env()


def get_time_limit() -> float:
    """The current time limit of a check, in seconds."""
    return _limit


def set_time_limit(seconds: float) -> float:
    """Set the time limit of every later check; returns the previous limit."""
    global _limit
    previous, _limit = _limit, check_seconds(seconds, "seconds")
    return previous


def _on_alarm(signum, frame):
    if getattr(_state, "armed", False):
        raise TimedOut()


def _with_alarm(body, seconds: float):
    old_handler = signal.signal(signal.SIGALRM, _on_alarm)
    # after the deadline the alarm repeats, in case the student's code catches the first one
    old_delay, old_interval = signal.setitimer(signal.ITIMER_REAL, seconds, _REPEAT)
    start, _state.armed = time.monotonic(), True
    try:
        return body()
    finally:
        _state.armed = False          # a signal arriving now must not interrupt the clean-up
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_handler)
        if old_delay > 0:             # someone else's timer: re-arm it with what was left
            left = max(old_delay - (time.monotonic() - start), 1e-3)
            signal.setitimer(signal.ITIMER_REAL, left, old_interval)


def _in_thread(body, seconds: float):
    box = {}

    def target():
        _state.depth = 1              # checks nested inside run under this limit
        try:
            box["value"] = body()
        except BaseException as e:  # noqa: BLE001 - handed back to the caller
            box["error"] = e

    worker = threading.Thread(target=target, name="bnlib-check", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        for _ in range(40):           # repeated for up to 2 s, in case the student's code catches one
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(worker.ident),
                                                       ctypes.py_object(TimedOut))
            worker.join(_REPEAT)
            if not worker.is_alive():
                break
        raise TimedOut()
    if "error" in box:
        raise box["error"]
    return box.get("value")


def run_limited(body, seconds: float | None = None):
    """Return ``body()``, or raise :class:`TimedOut` if it takes more than ``seconds``.

    Nested calls run under the outer limit.
    """
    seconds = _limit if seconds is None else check_seconds(seconds, "time_limit")
    if getattr(_state, "depth", 0):
        return body()
    use_alarm = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    start, _state.depth = time.monotonic(), 1
    try:
        value = (_with_alarm if use_alarm else _in_thread)(body, seconds)
    finally:
        _state.depth = 0
    if time.monotonic() - start > seconds:     # e.g. one long C call, or a swallowed TimedOut
        raise TimedOut()
    return value
