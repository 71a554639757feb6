"""A chapter notebook read as a plan: what each cell is to the student and to a grader.

``make student`` and ``make assignments`` both start here, so the three
outputs agree on what is a solution, what is graded and what a student sees.
The conventions (CONTRIBUTING.md, "Cells that answer, cells that reveal"):

* an exercise is a markdown cell with ``exercise`` metadata; its region runs to
  the next exercise or to a heading of level 1-2 outside a solution;
* from ``{solution-start}`` to the end of ``{solution-end}`` is the solution:
  its prose (removed from student notebooks), its code cells with nbgrader's
  ``### BEGIN/END SOLUTION`` markers (stubbed), and code cells without markers
  (shown only in the book);
* tags: ``solution`` (an assert that holds only with the solution: the graded
  test), ``answer-check`` (backs a predict/explain/experiment solution),
  ``student-remove`` (shown in the book only);
* after an implement exercise's solution, a code cell calling a ``check_*``
  function is its checker; in the other kinds' regions, code cells are run cells;
* the first code cell is the Colab bootstrap: it is moved to the very top.

:func:`plan` returns :class:`Item` records in order, with an ``answer`` item
(the student's "YOUR ANSWER HERE") for every predict, explain and experiment
exercise: right after a predict exercise (commit before running anything),
after the solution's place for the others.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from _bookrefs import cell_source
from bnlib.exercises.catalog import Exercise, parse_exercise_cell

__all__ = ["BEGIN", "END", "Item", "ExerciseInfo", "plan", "stub_code", "solution_regions", "CHECK_CALL",
           "exercise_header", "exercise_body", "ANSWER"]

ANSWER = "YOUR ANSWER HERE"

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
CHECK_CALL = re.compile(r"\b(check_\w+)\s*\(")
_SOL_START = re.compile(r"^\s*(`{3,}|:{3,})\{solution-start\}")
_SOL_END = re.compile(r"^\s*(`{3,}|:{3,})\{solution-end\}")
_HEADING = re.compile(r"^#{1,2}\s")


@dataclass
class ExerciseInfo:
    """One exercise and the cells that belong to it."""

    exercise: Exercise
    source: str                                       # the exercise cell's markdown
    prose: list = field(default_factory=list)         # solution prose, markdown strings
    checkers: list = field(default_factory=list)      # checker cells' sources
    graded: list = field(default_factory=list)        # `solution`-tagged asserts
    solutions: list = field(default_factory=list)     # code cells with markers

    @property
    def tag(self) -> str:
        """"2_1" for Exercise 2.1: a name nbgrader and otter accept."""
        return self.exercise.id.replace(".", "_")


@dataclass
class Item:
    """One cell of the plan: its ``role``, the source cell (None for an answer), its exercise."""

    role: str     # bootstrap markdown exercise code run checker solution answer graded
    #               answer-check removed solution-only prose
    cell: object
    info: ExerciseInfo | None = None
    text: str = ""      # markdown kept outside solution spans (role markdown/exercise)
    index: int = -1     # position in the source notebook


def solution_regions(source: str) -> list[str]:
    """The code between each BEGIN/END SOLUTION pair of ``source`` (ValueError if unbalanced)."""
    out, inside, lines = [], False, []
    for n, line in enumerate(source.split("\n"), 1):
        text = line.strip()
        if text.startswith(BEGIN):
            if inside:
                raise ValueError(f"line {n}: {BEGIN} inside another solution region")
            inside, lines = True, []
        elif text.startswith(END):
            if not inside:
                raise ValueError(f"line {n}: {END} without {BEGIN}")
            inside = False
            out.append("\n".join(lines))
        elif inside:
            lines.append(line)
    if inside:
        raise ValueError(f"{BEGIN} without {END}")
    return out


def stub_code(source: str, message: str) -> str:
    """Replace every BEGIN/END SOLUTION region of ``source`` with a stub raising ``message``."""
    solution_regions(source)            # validates the markers
    out, inside = [], False
    for line in source.split("\n"):
        text = line.strip()
        if text.startswith(BEGIN):
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out += [f"{indent}# YOUR CODE HERE",
                    f"{indent}raise NotImplementedError({json.dumps(message, ensure_ascii=False)})"]
        elif text.startswith(END):
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


class _Span:
    """Splits markdown into what lies outside and inside solution spans (which may cover cells)."""

    def __init__(self):
        self.inside = False      # between solution-start and solution-end
        self.fence = None        # the fence that closes the directive being read
        self.closes_span = False

    def split(self, source: str) -> tuple[str, str]:
        kept, removed = [], []
        for line in source.split("\n"):
            s = line.strip()
            if self.fence is not None:                       # in a directive's own lines
                if s and set(s) == {self.fence[0]} and len(s) >= len(self.fence):
                    self.fence = None
                    self.inside = not self.closes_span
                continue
            start, end = _SOL_START.match(line), _SOL_END.match(line)
            if start and not self.inside:
                self.fence, self.closes_span, self.inside = start.group(1), False, True
            elif end and self.inside:
                self.fence, self.closes_span = end.group(1), True
            else:
                (removed if self.inside else kept).append(line)
        if self.fence is not None:                           # a directive left open ends with its cell
            self.inside, self.fence = (not self.closes_span), None
        return "\n".join(kept).strip("\n"), "\n".join(removed).strip("\n")


_OLD_HEADER = re.compile(r"^Exercise \d+\.\d+ · .*$", re.M)


def exercise_header(ex: Exercise) -> str:
    """The plain-markdown title of an exercise: number, title, then kind, level, minutes, points."""
    points = f"{ex.points} point{'s' if ex.points != 1 else ''}" + ("" if ex.autograded else ", graded by hand")
    return f"### Exercise {ex.id} · {ex.title}\n\n*{ex.kind} · {ex.stars} · {ex.minutes} min · {points}*"


def exercise_body(plain: str) -> str:
    """An exercise cell converted to plain markdown, without the old one-line header."""
    return re.sub(r"\n{3,}", "\n\n", _OLD_HEADER.sub("", plain)).strip("\n")


def _tags(cell) -> list:
    return cell.get("metadata", {}).get("tags", [])


def plan(nb, name: str = "notebook") -> list[Item]:
    """The notebook's cells as :class:`Item` records, answer cells added (``nb`` is not changed)."""
    items, span, info, bootstrap = [], _Span(), None, None
    for i, cell in enumerate(nb.cells):
        src, tags = cell_source(cell), _tags(cell)
        was_inside = span.inside
        if cell.get("cell_type") == "markdown":
            ex = parse_exercise_cell(cell, name)
            kept, removed = span.split(src)
            if ex is not None and not was_inside:
                info = ExerciseInfo(ex, kept)
                items.append(Item("exercise", cell, info, kept, i))
                if ex.kind == "predict":
                    items.append(Item("answer", None, info))
                continue
            if info and not was_inside and _HEADING.match(kept):
                info = None                                # "## Summary" ends the region
            if removed and info:
                info.prose.append(removed)
            if kept.strip():
                items.append(Item("markdown", cell, info, kept, i))
            if was_inside and not span.inside and info and info.exercise.kind not in ("implement", "predict"):
                items.append(Item("answer", None, info))
            continue
        if cell.get("cell_type") != "code":
            continue
        if "student-remove" in tags:
            items.append(Item("removed", cell, info, index=i))
        elif "answer-check" in tags:
            items.append(Item("answer-check", cell, info, index=i))
        elif "solution" in tags:
            if info:
                info.graded.append(src)
            items.append(Item("graded", cell, info, index=i))
        elif BEGIN in src or END in src:
            try:
                solution_regions(src)
            except ValueError as e:
                raise ValueError(f"{name}, cell {i}: {e}") from None
            if info:
                info.solutions.append(cell)
            items.append(Item("solution", cell, info, index=i))
        elif was_inside:
            items.append(Item("solution-only", cell, info, index=i))
        elif bootstrap is None:
            bootstrap = cell
            items.append(Item("bootstrap", cell, None, index=i))
        elif info and info.exercise.kind == "implement" and CHECK_CALL.search(src):
            info.checkers.append(src)
            items.append(Item("checker", cell, info, index=i))
        else:
            items.append(Item("run" if info else "code", cell, info, index=i))
    _close_answers(items)
    # the Colab bootstrap goes first, so a student notebook runs as it is (some chapters open with a title)
    items.sort(key=lambda it: it.role != "bootstrap")
    return items


def _close_answers(items: list[Item]) -> None:
    """Give every non-implement exercise exactly one answer item (at its region's end if none yet)."""
    have = {id(it.info) for it in items if it.role == "answer"}
    last = {}
    for k, it in enumerate(items):
        if it.info is not None:
            last[id(it.info)] = (k, it.info)
    for k, info in sorted(last.values(), key=lambda p: -p[0]):
        if info.exercise.kind != "implement" and id(info) not in have:
            items.insert(k + 1, Item("answer", None, info))
