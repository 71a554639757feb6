"""What a check returns (:class:`CheckResult`) and how a check stops early (:class:`Fail`).

The bottom of the exercises package: it imports nothing from the rest of it.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass

__all__ = ["CheckResult", "Fail", "STATUSES", "NOT_IMPLEMENTED"]

NOT_IMPLEMENTED = "not implemented yet"
STATUSES = ("passed", "failed", "todo")
"""``passed``: right; ``failed``: wrong (or the check could not run); ``todo``: still a stub."""

_STYLES = {  # (border, background, symbol, word): green, red, and amber for a stub
    "passed": ("#1a7f37", "#e6f4ea", "✓", "Passed"),
    "failed": ("#c62828", "#fdecea", "✗", "Not yet right"),
    "todo": ("#b26a00", "#fff4e0", "…", "Not implemented yet"),
}


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: ``passed`` (bool), a plain-words ``message`` and a ``status``.

    ``status`` is one of ``STATUSES``; left out, it follows ``passed``
    ("passed" or "failed"). Shows as a coloured box in a notebook (green
    passed, red failed, amber todo) and as one line of text elsewhere.
    """

    passed: bool
    message: str
    title: str = "check"
    status: str = ""

    def __post_init__(self):
        status = self.status or ("passed" if self.passed else "failed")
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}; got {status!r}")
        if (status == "passed") != bool(self.passed):
            raise ValueError(f"status {status!r} contradicts passed={self.passed!r}")
        object.__setattr__(self, "passed", bool(self.passed))
        object.__setattr__(self, "status", status)

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return f"[{self.status.upper()}] {self.title}: {self.message}"

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
    """Raised inside a check to stop with a message for the student.

    ``status`` is "failed" (a wrong answer) or "todo" (the code is still a stub).
    """

    def __init__(self, message: str, status: str = "failed"):
        if status not in ("failed", "todo"):
            raise ValueError(f"a Fail has status 'failed' or 'todo'; got {status!r}")
        super().__init__(message)
        self.status = status
