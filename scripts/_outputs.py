"""What the student, nbgrader and otter outputs share: the book's context and the student-side cells.

:class:`BookContext` reads ``book/`` once (labels, bibliography, site URL) and
gives each chapter a :class:`_plainmd.Converter` fed with that chapter's
glued values. :func:`chapter` reads a notebook into its plan;
:func:`markdown` and :func:`code` make the cells a student sees.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat.v4 import new_markdown_cell

from _bookrefs import label_index, read_bib, site_url
from _chapter import exercise_body, exercise_header, plan
from _glue import glue_values
from _plainmd import Converter

__all__ = ["BookContext", "Chapter", "chapter", "markdown", "code", "SKIP", "write_notebook", "public_test",
           "hidden_test"]

SKIP = {"instructor.ipynb"}
"""Notebooks that are not chapters for students (the instructor page)."""


@dataclass
class BookContext:
    """The book as the generators see it: ``book/`` and the build folder holding executed values."""

    book: Path
    build: Path
    execute: bool = True
    warnings: list = field(default_factory=list)

    def __post_init__(self):
        self.labels = label_index(self.book)
        self.bib = read_bib(self.book / "references.bib")
        self.site = site_url(self.book.parent)

    def converter(self, path: Path) -> Converter:
        glue = glue_values(path, self.build, self.execute)
        return Converter(path.stem, self.labels, self.bib, glue, self.site, self.warnings)


@dataclass
class Chapter:
    """One notebook: its source, its plan and the converter for its markdown."""

    path: Path
    nb: object
    items: list
    conv: Converter

    @property
    def exercises(self) -> list:
        seen = []
        for it in self.items:
            if it.info is not None and it.info not in seen:
                seen.append(it.info)
        return seen


def chapter(path: Path, ctx: BookContext) -> Chapter:
    nb = nbformat.read(path, as_version=4)
    return Chapter(path, nb, plan(nb, path.name), ctx.converter(path))


def markdown(item, conv: Converter):
    """The plain-markdown cell a student sees for a ``markdown`` or ``exercise`` item."""
    text, attachments = conv.convert(item.text, item.index)
    if item.role == "exercise":
        text = exercise_header(item.info.exercise) + "\n\n" + exercise_body(text)
    cell = new_markdown_cell(text.replace("../images/", "images/"))
    cell.id = item.cell.get("id") or f"bn-md-{item.index}"
    if attachments:
        cell.attachments = attachments
    return cell


def code(cell, source: str | None = None):
    """A copy of a code cell with no outputs (and ``source`` if given)."""
    out = copy.deepcopy(cell)
    out.outputs, out.execution_count = [], None
    out.metadata.pop("execution", None)
    if source is not None:
        out.source = source
    return out


def write_notebook(nb, path: Path) -> None:
    """Write a notebook validated, as nbformat 4.5 (every cell has an id), in the repository's JSON form."""
    nb.nbformat, nb.nbformat_minor = 4, max(5, nb.get("nbformat_minor", 5))
    seen = set()
    for k, cell in enumerate(nb.cells):
        if not cell.get("id") or cell["id"] in seen:
            cell["id"] = f"bn-{k}"
        seen.add(cell["id"])
    nbformat.validate(nb)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def public_test(info) -> str:
    """The graded asserts of an implement exercise (the cells tagged ``solution``)."""
    return "\n".join(src.strip() for src in info.graded)


def hidden_test(info) -> str:
    """Run the exercise's checker cells again with the checkers reset, then the graded asserts.

    Re-inserted from the source at grading time, this is what a student cannot
    get around by overwriting a result variable, rebinding a ``check_*``
    function or changing the checkers' internals in their notebook. Printed
    output is swallowed (otter compares doctest output).
    """
    checkers = "\n\n".join(src.strip() for src in info.checkers)
    quoted = f"'''\n{checkers}\n'''" if "'''" not in checkers and "\\" not in checkers else repr(checkers)
    return ("# Grading: the checker again, as imported, on the functions as they are now.\n"
            "import contextlib as _contextlib, io as _io\n"
            "import bnlib.exercises as _exercises\n"
            "_undone = _exercises.reset_checkers()\n"
            f"_recheck = {quoted}\n"
            "with _contextlib.redirect_stdout(_io.StringIO()):\n"
            "    exec(_recheck, globals())\n"
            f"{public_test(info)}")
