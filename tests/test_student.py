"""Student notebooks: solutions removed, exercises kept, and they run with only NotImplementedError.

Unit tests of scripts/make_student.py use a small notebook built here, so they run
without any chapter. Tests marked ``student`` check every chapter with exercises
(run by ``make test`` after ``make student``): they compare ``_build/student`` with
a fresh build, look for any trace of the solutions, and execute each student
notebook with nbclient, two at a time.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

import bnlib.exercises
from bnlib.exercises.catalog import cell_source, parse_exercise_cell

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
_spec = importlib.util.spec_from_file_location("make_student", ROOT / "scripts" / "make_student.py")
ms = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ms)


# --- the transformation on a synthetic notebook ----------------------------------------------

def _exercise(id_, title, fence="```"):
    cell = new_markdown_cell(f"{fence}{{exercise-start}} {title}\n:label: ex-{id_.replace('.', '-')}\n{fence}\n"
                             f"Exercise {id_} · implement · ★☆☆ · 5 min\n\nWrite `f` (TASK-{id_}).\n"
                             f"{fence}{{exercise-end}}\n{fence}")
    cell.metadata["exercise"] = {"id": id_, "kind": "implement", "difficulty": 1, "minutes": 5}
    return cell


def synthetic():
    nb = new_notebook()
    nb.metadata["widgets"] = {"state": {}}
    solved = new_code_cell("class Model:\n    def f(self, x):\n        y = x + 1\n        ### BEGIN SOLUTION\n"
                           "        secret_one = y * 2\n        return secret_one\n        ### END SOLUTION\n\n"
                           "def g(x):\n    ### BEGIN SOLUTION\n    return 'secret_two'\n    ### END SOLUTION")
    solved.outputs = [nbformat.v4.new_output("stream", text="old output")]
    solved.execution_count = 7
    nb.cells = [
        new_markdown_cell("# Title\nIntro text stays."),
        new_code_cell("import numpy as np"),
        _exercise("9.1", 'Two "quoted" functions'),
        new_markdown_cell("```{solution-start} ex-9-1\n:class: dropdown\n```"),
        new_markdown_cell("SECRET PROSE one: the idea."),
        solved,
        new_code_cell("print('secret demo only in the solution')"),
        new_markdown_cell("```{solution-end}\n```"),
        new_code_cell("from bnlib.exercises import check_fold\ncheck_fold(Model().f)"),
        new_code_cell("assert secret_check", metadata={"tags": ["solution", "remove-cell"]}),
        _exercise("9.2", "Explain it", fence=":::"),
        new_markdown_cell(":::{solution-start} ex-9-2\n:class: dropdown\n:::\nSECRET PROSE two.\n"
                          ":::{solution-end}\n:::\nText after the solution stays."),
        new_code_cell("def h():\n    ### BEGIN SOLUTION\n    pass\n    ### END SOLUTION"),
    ]
    return nb


def test_solution_regions_become_stubs():
    student, stubs = ms.make_student(synthetic(), "09_x.ipynb")
    code = "\n".join(c.source for c in student.cells if c.cell_type == "code")
    assert stubs == 3 and "BEGIN SOLUTION" not in code and "END SOLUTION" not in code
    assert ('        # YOUR CODE HERE\n        raise NotImplementedError('
            '"Exercise 9.1: Two \\"quoted\\" functions")') in code
    assert "    y = x + 1" in code and 'def g(x):\n    # YOUR CODE HERE\n    raise NotImplementedError(' in code
    assert 'raise NotImplementedError("Exercise 9.2: Explain it")' in code
    for cell in student.cells:                        # every stubbed cell is valid Python
        if cell.cell_type == "code":
            compile(cell.source, "cell", "exec")
    scope = {}
    model_cell = next(c.source for c in student.cells if "class Model" in c.source)
    exec(model_cell, scope)  # noqa: S102 - our own synthetic code
    with pytest.raises(NotImplementedError, match=r"Exercise 9\.1: Two"):
        scope["Model"]().f(1)


def test_solution_prose_tags_and_outputs_are_removed():
    nb = synthetic()
    before = json.dumps(nb, sort_keys=True)
    student, _ = ms.make_student(nb, "09_x.ipynb")
    assert json.dumps(nb, sort_keys=True) == before            # input untouched
    text = json.dumps(student)
    for secret in ("SECRET", "secret", "solution-start", "solution-end"):
        assert secret not in text, secret
    assert "TASK-9.1" in text and "TASK-9.2" in text and "Intro text stays." in text
    assert "Text after the solution stays." in text and "exercise-end" in text
    assert "widgets" not in student.metadata
    assert all(c.outputs == [] and c.execution_count is None for c in student.cells if c.cell_type == "code")
    assert [parse_exercise_cell(c).id for c in student.cells if parse_exercise_cell(c)] == ["9.1", "9.2"]
    nbformat.validate(student)


@pytest.mark.parametrize("source,words", [
    ("def f():\n    ### BEGIN SOLUTION\n    return 1\n", "without ### END"),
    ("def f():\n    return 1\n    ### END SOLUTION\n", "without ### BEGIN"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "inside another")])
def test_broken_markers_are_errors(source, words):
    nb = new_notebook(cells=[new_code_cell(source)])
    with pytest.raises(ValueError, match=words):
        ms.make_student(nb, "bad.ipynb")


def _tree(path: Path) -> dict:
    return {p.relative_to(path).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file()}


def test_build_writes_readme_skips_instructor_and_is_idempotent(tmp_path):
    book, out = tmp_path / "book", tmp_path / "_build" / "student"
    book.mkdir()
    nbformat.write(synthetic(), book / "09_x.ipynb")
    nbformat.write(new_notebook(cells=[new_markdown_cell("guide")]), book / "instructor.ipynb")
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.svg").write_text("<svg/>")
    source = _tree(book)
    assert ms.main(["--book", str(book), "--out", str(out)]) == 0
    first = _tree(out)
    assert set(first) == {"09_x.ipynb", "README.md", "images/a.svg"}
    assert "| [09_x.ipynb](09_x.ipynb) | 2 | 3 |" in (out / "README.md").read_text()
    (out / "stale.ipynb").write_text("{}")
    assert ms.main(["--book", str(book), "--out", str(out)]) == 0
    assert _tree(out) == first and _tree(book) == source


def test_broken_notebook_fails_the_command(tmp_path, capsys):
    (tmp_path / "book").mkdir()
    nbformat.write(new_notebook(cells=[new_code_cell("### BEGIN SOLUTION")]), tmp_path / "book" / "01_a.ipynb")
    assert ms.main(["--book", str(tmp_path / "book"), "--out", str(tmp_path / "out")]) == 1
    assert "01_a.ipynb, cell 0" in capsys.readouterr().err


# --- every chapter with exercises (after `make student`) --------------------------------------

CHAPTERS = sorted(p for p in BOOK.glob("*.ipynb") if p.name not in ms.SKIP
                  and any(parse_exercise_cell(c) for c in json.loads(p.read_text())["cells"]))
CHECKERS = re.compile(r"\b(" + "|".join(n for n in bnlib.exercises.__all__ if n.startswith("check_")) + r")\s*\(")


def _solution_lines(nb) -> set:
    """Lines that only occur inside solutions (code regions, solution prose, solution cells)."""
    inside, outside, prose = set(), set(), ms._Prose()
    for cell in nb.cells:
        src = cell_source(cell)
        if "solution" in cell.metadata.get("tags", []):
            inside |= set(src.split("\n"))
        elif cell.cell_type == "markdown":
            kept = prose.strip(src).split("\n")
            outside |= set(kept)
            inside |= set(src.split("\n")) - set(kept)
        elif prose.inside and ms.BEGIN not in src:
            inside |= set(src.split("\n"))
        else:
            region = False
            for line in src.split("\n"):
                if line.strip().startswith(ms.BEGIN):
                    region = True
                elif line.strip().startswith(ms.END):
                    region = False
                else:
                    (inside if region else outside).add(line)
    strip = lambda s: {t.strip() for t in s if len(t.strip()) > 3 and not set(t.strip()) <= set("`:")}  # noqa
    return strip(inside) - strip(outside)


@pytest.fixture(scope="module")
def student_dir():
    out = ROOT / "_build" / "student"
    if not out.is_dir():
        pytest.fail("no _build/student: run `make student` first")
    return out


@pytest.mark.student
@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_student_notebook_is_current_and_has_no_solution(path, student_dir):
    fresh, _ = ms.make_student(nbformat.read(path, as_version=4), path.name)
    written = nbformat.read(student_dir / path.name, as_version=4)
    assert json.dumps(written, sort_keys=True) == json.dumps(fresh, sort_keys=True), \
        f"_build/student/{path.name} is out of date: run `make student`"
    text = "\n".join(cell_source(c) for c in written.cells)
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    lines = {t.strip() for t in text.split("\n")}
    leaked = _solution_lines(nbformat.read(path, as_version=4)) & lines
    assert not leaked, f"solution text in the student notebook: {sorted(leaked)[:5]}"
    source_ex = [cell_source(c) for c in nbformat.read(path, as_version=4).cells if parse_exercise_cell(c)]
    student_ex = [cell_source(c) for c in written.cells if parse_exercise_cell(c)]
    assert student_ex == source_ex, "exercise text must survive unchanged"


_RUNNER = """
import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
               resources={"metadata": {"path": sys.argv[3]}}).execute()
nbformat.write(nb, sys.argv[2])
"""


@pytest.fixture(scope="module")
def executed(student_dir, tmp_path_factory):
    """Execute every student notebook, two at a time, each in its own process and kernel."""
    out_dir = tmp_path_factory.mktemp("executed")
    todo, running, done = list(CHAPTERS), [], {}
    while todo or running:
        while todo and len(running) < 2:
            name = todo.pop(0).name
            cmd = [sys.executable, "-c", _RUNNER, str(student_dir / name), str(out_dir / name),
                   str(student_dir)]
            running.append((name, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)))
        name, proc = running.pop(0)
        log = proc.communicate(timeout=900)[0].decode(errors="replace")
        done[name] = nbformat.read(out_dir / name, as_version=4) if proc.returncode == 0 else log
    return done


def _text(outputs) -> str:
    parts = []
    for o in outputs:
        if o.output_type == "stream":
            parts.append(o.text)
        elif "data" in o:
            parts += [str(o.data.get("text/plain", "")), str(o.data.get("text/html", ""))]
    return "\n".join(parts)


@pytest.mark.student
@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_student_notebook_runs_with_only_not_implemented(path, executed):
    nb = executed[path.name]
    assert not isinstance(nb, str), f"the notebook could not be executed:\n{nb[-3000:]}"
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert all(e.ename == "NotImplementedError" for e in errors), \
            f"cell {i}: {[(e.ename, e.evalue) for e in errors]}\n{cell.source[:300]}"
        if CHECKERS.search(cell.source):
            assert not errors, f"checker cell {i} shows a traceback:\n{cell.source[:300]}"
            assert "not implemented yet" in _text(cell.outputs), \
                f"checker cell {i} should say 'not implemented yet':\n{cell.source[:300]}"
