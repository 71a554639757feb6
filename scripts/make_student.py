#!/usr/bin/env python
"""Write student notebooks (solutions removed) from book/*.ipynb to _build/student/.

Run by ``make student``. ``book/`` is only read. For each notebook:

* code between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (nbgrader's markers)
  becomes ``# YOUR CODE HERE`` and ``raise NotImplementedError("Exercise N.M: title")``,
  indented like the markers, with N.M and the title taken from the exercise cell
  before it (its ``exercise`` metadata and its ``exercise-start`` directive);
* markdown from a ``{solution-start}`` directive to the end of the matching
  ``{solution-end}`` directive is removed, and so are code cells inside that
  span that hold no markers (solution-only code) and cells tagged ``solution``;
* outputs, execution counts and widget state are cleared;
* links to ``../images/`` point to a copy of ``images/`` next to the notebooks.

The instructor page is skipped. The output folder is rebuilt from scratch each
run (written beside it, then swapped in), so the result only depends on book/.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bnlib.exercises.catalog import cell_source, parse_exercise_cell  # noqa: E402

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
SKIP = {"instructor.ipynb"}
_SOL_START = re.compile(r"^\s*(`{3,}|:{3,})\{solution-start\}")
_SOL_END = re.compile(r"^\s*(`{3,}|:{3,})\{solution-end\}")


def stub_code(source: str, message: str) -> str:
    """Replace every BEGIN/END SOLUTION region of ``source`` with a stub raising ``message``."""
    out, inside = [], False
    for n, line in enumerate(source.split("\n"), 1):
        text = line.strip()
        if text.startswith(BEGIN):
            if inside:
                raise ValueError(f"line {n}: {BEGIN} inside another solution region")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out += [f"{indent}# YOUR CODE HERE",
                    f"{indent}raise NotImplementedError({json.dumps(message, ensure_ascii=False)})"]
        elif text.startswith(END):
            if not inside:
                raise ValueError(f"line {n}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{BEGIN} without {END}")
    return "\n".join(out)


class _Prose:
    """Removes markdown from a solution-start directive to the end of its solution-end directive.

    The span may cover several cells, so the state lives across calls.
    """

    def __init__(self):
        self.inside = False      # between solution-start and solution-end
        self.closing = None      # fence that closes the solution-end directive

    def strip(self, source: str) -> str:
        kept = []
        for line in source.split("\n"):
            if self.closing is not None:
                if line.strip() and set(line.strip()) == {self.closing[0]} \
                        and len(line.strip()) >= len(self.closing):
                    self.closing, self.inside = None, False
                continue
            if not self.inside:
                if _SOL_START.match(line):
                    self.inside = True
                else:
                    kept.append(line)
                continue
            end = _SOL_END.match(line)
            if end:
                self.closing = end.group(1)
        if self.closing is not None:     # a directive left open at the end of a cell ends there
            self.closing, self.inside = None, False
        return "\n".join(kept).strip("\n")


def make_student(nb, name: str = "notebook") -> tuple:
    """Return (student notebook, number of stubbed regions); ``nb`` is not changed."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    prose, current, cells, stubs = _Prose(), None, [], 0
    for i, cell in enumerate(nb.cells):
        src = cell_source(cell)
        if "solution" in cell.get("metadata", {}).get("tags", []):
            continue
        if cell.cell_type == "markdown":
            ex = parse_exercise_cell(cell, name)
            if ex is not None and not prose.inside:
                current = f"Exercise {ex.id}: {ex.title}" if ex.title else f"Exercise {ex.id}"
            cell.source = prose.strip(src).replace("../images/", "images/")
            if cell.source.strip():
                cells.append(cell)
            continue
        if cell.cell_type == "code":
            if BEGIN in src or END in src:
                try:
                    cell.source = stub_code(src, current or "Exercise: write your code here")
                except ValueError as e:
                    raise ValueError(f"{name}, cell {i}: {e}") from None
                stubs += src.count(BEGIN)
            elif prose.inside:
                continue          # solution-only code shown in the book's dropdown
            cell.outputs, cell.execution_count = [], None
            cell.metadata.pop("execution", None)
        cells.append(cell)
    nb.cells = cells
    nb.metadata.pop("widgets", None)
    return nb, stubs


def _readme(rows) -> str:
    lines = ["# Student notebooks", "",
             "Generated by `make student` from `book/`: each exercise's solution is replaced by",
             "`raise NotImplementedError(...)`. Write your code where it says `# YOUR CODE HERE`;",
             "the checker cell after it then tells you whether it is right (it prints",
             "\"not implemented yet\" until you do). Needs bnlib: `pip install -e .` in the",
             "repository, or run the first cell on Colab.", "",
             "| notebook | exercises | code to write |", "|---|---|---|"]
    lines += [f"| [{n}]({n}) | {e} | {s} |" for n, e, s in rows]
    return "\n".join(lines) + "\n"


def build(book: Path, out: Path) -> list:
    """Write every student notebook and the README to ``out``; return the README rows."""
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    rows = []
    for path in sorted(book.glob("*.ipynb")):
        if path.name in SKIP:
            continue
        nb = nbformat.read(path, as_version=4)
        student, stubs = make_student(nb, path.name)
        exercises = sum(parse_exercise_cell(c) is not None for c in student.cells)
        nbformat.write(student, tmp / path.name)
        rows.append((path.name, exercises, stubs))
    images = book.parent / "images"
    if images.is_dir():
        shutil.copytree(images, tmp / "images")
    (tmp / "README.md").write_text(_readme(rows), encoding="utf-8")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--book", type=Path, default=ROOT / "book")
    p.add_argument("--out", type=Path, default=ROOT / "_build" / "student")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    try:
        rows = build(args.book, args.out)
    except ValueError as e:
        print(f"make_student: {e}", file=sys.stderr)
        return 1
    print(f"Wrote {len(rows)} student notebooks ({sum(r[1] for r in rows)} exercises, "
          f"{sum(r[2] for r in rows)} code stubs) to {args.out} in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
