"""The book's exercises as data, read from the notebooks' exercise cells.

An exercise is a markdown cell that opens a sphinx-exercise ``exercise-start``
directive and carries cell metadata
``{"exercise": {"id": "3.2", "kind": ..., "difficulty": 1-3, "minutes": ..., "points": ...}}``
(see CONTRIBUTING.md; ``points`` are autograded for implement exercises and
graded by hand for the other kinds). :func:`list_exercises` scans a folder of notebooks, so
tables built from it stay true as chapters change. Reads the JSON directly:
no Jupyter packages needed.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from .._checks import check_int

__all__ = ["KINDS", "Exercise", "cell_source", "parse_exercise_cell", "list_exercises",
           "totals", "problems"]

KINDS = ("implement", "predict", "explain", "experiment")
_START = re.compile(r"^\s*(`{3,}|:{3,})\{exercise-start\}[ \t]*(.*?)[ \t]*$", re.M)
_LABEL = re.compile(r"^\s*:label:\s*(\S+)", re.M)
_NUMBER = re.compile(r"^(\d+)_")


@dataclass(frozen=True)
class Exercise:
    """One exercise: where it is and what its metadata says."""

    notebook: str          # file name, e.g. "03_backward.ipynb"
    id: str                # "3.2"
    title: str
    kind: str
    difficulty: int
    minutes: int
    label: str = ""
    points: int = 0

    @property
    def autograded(self) -> bool:
        """Implement exercises are graded by their checker; the other kinds by hand."""
        return self.kind == "implement"

    @property
    def chapter(self) -> int:
        """The chapter number, read from the id (the part before the dot)."""
        return int(self.id.split(".")[0])

    @property
    def stars(self) -> str:
        d = max(0, min(3, self.difficulty))
        return "★" * d + "☆" * (3 - d)


def cell_source(cell: dict) -> str:
    """A cell's source as one string (notebook JSON may store a list of lines)."""
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def parse_exercise_cell(cell: dict, notebook: str = "") -> Exercise | None:
    """The Exercise a cell opens, or None if it opens none.

    A cell with exercise metadata but no ``exercise-start`` directive (or the
    reverse) still counts, with what is missing left empty, so that
    :func:`problems` can report it.
    """
    meta = cell.get("metadata", {}).get("exercise")
    if cell.get("cell_type") != "markdown":
        return None
    src = cell_source(cell)
    start = _START.search(src)
    if meta is None and start is None:
        return None
    meta = meta if isinstance(meta, dict) else {}
    label = _LABEL.search(src)
    return Exercise(notebook, str(meta.get("id", "")), start.group(2) if start else "",
                    str(meta.get("kind", "")), _int(meta.get("difficulty")), _int(meta.get("minutes")),
                    label.group(1) if label else "", _int(meta.get("points")))


def _int(v) -> int:
    """An integer metadata value, or 0 when it is missing or not an int (problems() reports it)."""
    try:
        return check_int(v, "value", minimum=0)
    except (TypeError, ValueError):
        return 0


def _id_key(ex: Exercise):
    parts = ex.id.split(".")
    return tuple(int(p) if p.isdigit() else 0 for p in parts), ex.notebook


def list_exercises(book_dir) -> list[Exercise]:
    """Every exercise in ``book_dir/*.ipynb``, in chapter and id order."""
    found = []
    for path in sorted(Path(book_dir).glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb.get("cells", []):
            ex = parse_exercise_cell(cell, path.name)
            if ex is not None:
                found.append(ex)
    return sorted(found, key=_id_key)


def totals(exercises) -> dict:
    """Counts, minutes and points by kind and by notebook.

    ``{"kind": {kind: (count, minutes, points)}, "notebook": {name: (count, minutes, points)}}``.
    """
    out = {"kind": {}, "notebook": {}}
    for ex in exercises:
        for group, key in (("kind", ex.kind), ("notebook", ex.notebook)):
            n, minutes, points = out[group].get(key, (0, 0, 0))
            out[group][key] = (n + 1, minutes + ex.minutes, points + ex.points)
    return out


def problems(exercises, notebooks=(), min_total: int = 0, min_per_notebook: int = 0) -> list[str]:
    """What is wrong with the exercise metadata, in words (an empty list if nothing).

    Checks each id is "N.M" with N the notebook's number and unique, the kind,
    difficulty (1-3), minutes (> 0), points (> 0), a title, the label ``ex-N-M``, and the minimum counts;
    ``notebooks`` lists the chapter notebooks that must each have ``min_per_notebook``.
    """
    out, seen = [], set()
    for ex in exercises:
        where = f"{ex.notebook} exercise {ex.id or '(no id)'}"
        number = _NUMBER.match(ex.notebook)
        if not re.fullmatch(r"\d+\.\d+", ex.id):
            out.append(f"{where}: id should look like 'N.M'")
        elif number and int(number.group(1)) != ex.chapter:
            out.append(f"{where}: id should start with the notebook's number {int(number.group(1))}")
        if ex.id in seen:
            out.append(f"{where}: id used twice")
        seen.add(ex.id)
        if ex.kind not in KINDS:
            out.append(f"{where}: kind {ex.kind!r} is not one of {', '.join(KINDS)}")
        if not 1 <= ex.difficulty <= 3:
            out.append(f"{where}: difficulty should be 1, 2 or 3")
        if ex.minutes <= 0:
            out.append(f"{where}: minutes should be a positive number")
        if ex.points <= 0:
            out.append(f"{where}: points should be a positive whole number")
        if not ex.title:
            out.append(f"{where}: no exercise-start directive with a title")
        if not ex.label:
            out.append(f"{where}: no :label:")
        elif ex.label != "ex-" + ex.id.replace(".", "-"):
            out.append(f"{where}: label {ex.label!r} should be 'ex-{ex.id.replace('.', '-')}'")
    if len(exercises) < min_total:
        out.append(f"{len(exercises)} exercises in all; at least {min_total} wanted")
    counts = totals(exercises)["notebook"]
    for nb in notebooks:
        n = counts.get(nb, (0, 0))[0]
        if n < min_per_notebook:
            out.append(f"{nb}: {n} exercises; at least {min_per_notebook} wanted")
    return out
