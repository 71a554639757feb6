"""A chapter as an otter-grader master notebook (otter 7, the notebook format with raw cells).

``otter assign <stem>.ipynb dist/`` turns it into a student notebook and an
autograder (for Gradescope, or ``otter run`` locally). What otter needs, found
by trying: an ``# ASSIGNMENT CONFIG`` raw cell without the ``runtime`` key and
with ``generate`` on (with it off, otter's own test run fails); ``# BEGIN
SOLUTION`` markers with one ``#`` (nbgrader's ``###`` crash it); plain markdown
(MyST fences pass through untouched).

* implement exercise: a question with its points, from the exercise cell to the
  tests. Solution code in a ``# BEGIN SOLUTION`` block (otter leaves ``...``,
  which the checkers call "not implemented yet"); the checker cells; a public
  test (the ``solution``-tagged asserts) and a hidden one (checkers reset and
  run again, as in the nbgrader output);
* predict, explain, experiment: a manually graded question (``manual: true``)
  where the answer goes: a prompt "YOUR ANSWER HERE" and the model answer as
  its solution; an experiment's solution code joins that question.

The Colab bootstrap stays first; the next cell creates otter's grader (and
installs otter-grader on Colab when it is missing).
"""
from __future__ import annotations

import copy
import re

from nbformat.v4 import new_code_cell, new_markdown_cell, new_raw_cell

from _chapter import ANSWER
from _outputs import code, hidden_test, markdown, public_test

__all__ = ["otter_notebook", "OTTER_VERSION"]

OTTER_VERSION = "7.0.0"


def _config(stem: str, files: list[str]) -> str:
    lines = ["# ASSIGNMENT CONFIG", f"name: {stem}", "init_cell: false", "check_all_cell: false",
             "export_cell: false", "requirements: requirements.txt", "generate:", "  pdf: false",
             "  filtering: false", "tests:", "  files: false", "  ok_format: true"]
    if files:
        lines += ["files:"] + [f"  - {f}" for f in files]
    return "\n".join(lines)


def _init(stem: str):
    return _new(new_code_cell(
        "# otter-grader checks your exercises: run `grader.check(\"q2_1\")` (the cell after each one).\n"
        "try:\n    import otter\nexcept ImportError:  # e.g. on Colab\n"
        f"    %pip install -q otter-grader=={OTTER_VERSION}\n    import otter\n"
        f"grader = otter.Notebook(\"{stem}.ipynb\")"))


def _markers(source: str) -> str:
    """nbgrader's ``### BEGIN SOLUTION`` as otter's ``# BEGIN SOLUTION`` (same for END)."""
    return re.sub(r"^(\s*)#+ (BEGIN|END) SOLUTION", r"\1# \2 SOLUTION", source, flags=re.M)


def _new(cell):
    """A generated cell gets its id when written (``_outputs.write_notebook``), so output is reproducible."""
    cell.pop("id", None)
    return cell


def _raw(text: str):
    return _new(new_raw_cell(text))


class _Writer:
    def __init__(self, ch):
        self.ch, self.cells, self.open = ch, [], None    # open: the question being written

    def begin(self, info, manual: bool):
        if self.open is info:
            return
        self.end()
        config = f"# BEGIN QUESTION\nname: q{info.tag}\npoints: {info.exercise.points}"
        self.cells.append(_raw(config + ("\nmanual: true" if manual else "")))
        if manual:   # otter locks a manual question's first markdown cell: let it be a label
            ex = info.exercise
            self.cells.append(_new(new_markdown_cell(f"**Your answer to Exercise {ex.id}** ({ex.points} "
                                                f"point{'s' if ex.points != 1 else ''}, graded by hand):")))
        self.open = info

    def end(self):
        if self.open is not None:
            self.cells.append(_raw("# END QUESTION"))
            self.open = None

    def add(self, *cells):
        self.cells.extend(cells)


def otter_notebook(ch, files: list[str] = ()):
    """The otter master version of a :class:`_outputs.Chapter`."""
    w, stem = _Writer(ch), ch.path.stem
    for it in ch.items:
        info = it.info
        if w.open is not None and info is not w.open:
            w.end()
        if it.role == "bootstrap":
            w.add(code(it.cell), _raw(_config(stem, list(files))), _init(stem))
        elif it.role == "exercise" and info.exercise.autograded:
            w.begin(info, manual=False)
            w.add(markdown(it, ch.conv))
        elif it.role in ("markdown", "exercise"):
            cell = markdown(it, ch.conv)
            if cell.source.strip():
                w.add(cell)
        elif it.role == "solution":
            w.begin(info, manual=not info.exercise.autograded)
            w.add(_raw("# BEGIN SOLUTION"), code(it.cell, _markers(it.cell.source)), _raw("# END SOLUTION"))
        elif it.role == "answer":
            w.begin(info, manual=True)
            prose = "\n\n".join(ch.conv.convert(p, 0)[0] for p in info.prose) or "(No model answer in the book.)"
            w.add(_raw("# BEGIN PROMPT"), _new(new_markdown_cell(ANSWER)), _raw("# END PROMPT"),
                  _raw("# BEGIN SOLUTION"), _new(new_markdown_cell(prose)), _raw("# END SOLUTION"))
            w.end()
        elif it.role == "graded" and info and info.exercise.autograded and w.open is info:
            w.add(_raw("# BEGIN TESTS"), _new(new_code_cell(public_test(info))),
                  _new(new_code_cell("# HIDDEN\n" + hidden_test(info))), _raw("# END TESTS"))
            w.end()
        elif it.role in ("code", "run", "checker"):
            w.add(code(it.cell))
    w.end()
    nb = copy.deepcopy(ch.nb)
    nb.cells = w.cells
    nb.metadata.pop("widgets", None)
    nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    return nb
