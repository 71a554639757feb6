"""nbgrader and otter-grader outputs of `make assignments`, and the round trip through the real tools.

The unit tests build the outputs of a small book (from test_student) and check
the cell metadata each grader needs. The tests marked ``student`` (run by
``make test`` after ``make student`` and ``make assignments``) check that
``_build/nbgrader`` and ``_build/otter`` are current, and run nbgrader 0.9.6 and
otter-grader 7.0.0 for real on two chapters with implement exercises, in a
temporary folder: ``nbgrader generate_assignment``, ``autograde`` of three
submissions (the instructor's solutions: every autograded point; the untouched
release: 0; a catalogued mistake in one exercise: exactly that exercise's
points lost), ``generate_feedback`` (it shows the checker's named mistake); and
``otter assign`` then ``otter run`` on the solutions (full marks) and the
release (0). The two tools run side by side to save time.
"""
from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import nbformat
import pytest

import bnlib.exercises
from test_student import BOOK, CATALOGUE, ROOT, write_book

sys.path.insert(0, str(ROOT / "scripts"))
import make_assignments as ma  # noqa: E402
from _chapter import BEGIN, END  # noqa: E402
from _outputs import BookContext, chapter, hidden_test, public_test  # noqa: E402

BIN = Path(sys.executable).parent


def _outputs(tmp_path):
    book = write_book(tmp_path)
    ctx = BookContext(book, tmp_path / "_build", execute=False)
    assert ma.build(ctx, tmp_path / "out") == ["09_x"]
    grader = nbformat.read(tmp_path / "out" / "nbgrader" / "source" / "09_x" / "09_x.ipynb", as_version=4)
    otter = nbformat.read(tmp_path / "out" / "otter" / "09_x.ipynb", as_version=4)
    return grader, otter, tmp_path / "out"


def test_nbgrader_source_has_schema_3_cells_with_points(tmp_path):
    nb, _, out = _outputs(tmp_path)
    assert (out / "nbgrader" / "nbgrader_config.py").read_text().count("get_config()") == 1
    meta = [c.metadata.get("nbgrader") for c in nb.cells]
    assert all(m and m["schema_version"] == 3 for m in meta)
    ids = [m["grade_id"] for m in meta]
    assert len(ids) == len(set(ids)) and all(re.fullmatch(r"[\w-]+", i) for i in ids)
    assert nb.cells[0].source.startswith("# Make bnlib importable") and meta[0]["locked"]
    for cell, m in zip(nb.cells, meta):
        has_markers = BEGIN in cell.source
        assert m["solution"] == (has_markers or cell.source.startswith("SECRET PROSE")), cell.source[:60]
        if m["solution"] and not m["grade"]:
            assert cell.cell_type == "code" and not m["locked"] and END in cell.source
    tests = [(c, m) for c, m in zip(nb.cells, meta) if m["grade"] and not m["solution"]]
    assert [(m["grade_id"], m["points"]) for _, m in tests] == [("ex9_1_test", 2)]
    test = tests[0][0].source
    assert test.index("assert result_9_1.passed") < test.index("### BEGIN HIDDEN TESTS") \
        < test.index("reset_checkers()") < test.index("### END HIDDEN TESTS")
    answers = [(c.source, m["points"]) for c, m in zip(nb.cells, meta) if m["grade"] and m["solution"]]
    assert answers == [("SECRET PROSE two.", 1), ("SECRET PROSE three.", 2)]     # the model answers
    text = json.dumps(nb)
    for gone in ("secret_answer", "secret walk", "secret demo", "solution-start", "{ref}`sec-"):
        assert gone not in text, gone
    locked = [c for c, m in zip(nb.cells, meta) if m["locked"] and not m["grade"]]
    assert any("check_fold(Model().f)" in c.source for c in locked)               # the checker cell
    assert any(c.source.startswith("### Exercise 9.1") for c in locked)


def test_otter_master_has_config_questions_solutions_and_tests(tmp_path):
    _, nb, out = _outputs(tmp_path)
    raw = [c.source for c in nb.cells if c.cell_type == "raw"]
    config = next(r for r in raw if r.startswith("# ASSIGNMENT CONFIG"))
    assert "runtime" not in config and "name: 09_x" in config and "generate:" in config
    assert "bnlib[book] @ git+https://github.com/Ex/Repo" in (out / "otter" / "requirements.txt").read_text()
    assert nb.cells[0].source.startswith("# Make bnlib importable")                # still first
    assert 'grader = otter.Notebook("09_x.ipynb")' in nb.cells[2].source
    assert "# BEGIN QUESTION\nname: q9_1\npoints: 2" in raw
    assert "# BEGIN QUESTION\nname: q9_2\npoints: 1\nmanual: true" in raw
    assert raw.count("# END QUESTION") == 3 and raw.count("# BEGIN TESTS") == 1
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "### BEGIN SOLUTION" not in code and code.count("# BEGIN SOLUTION") == 2
    hidden = [c.source for c in nb.cells if c.cell_type == "code" and c.source.startswith("# HIDDEN")]
    assert len(hidden) == 1 and "reset_checkers()" in hidden[0]
    md = [c.source for c in nb.cells if c.cell_type == "markdown"]
    assert md.count("YOUR ANSWER HERE") == 2 and "SECRET PROSE two." in md
    assert not any("{ref}`" in s or "```{" in s for s in (re.sub(r"```python.*?```", "", m, flags=re.S) for m in md))


def test_points_must_be_whole_numbers(tmp_path, capsys):
    nb = nbformat.read(write_book(tmp_path) / "09_x.ipynb", as_version=4)
    next(c for c in nb.cells if "exercise" in c.metadata).metadata["exercise"]["points"] = 1.5
    book = write_book(tmp_path, nb)
    assert ma.main(["--book", str(book), "--out", str(tmp_path / "o"), "--no-execute"]) == 1
    assert "points of Exercise 9.1" in capsys.readouterr().err


def test_the_hidden_test_defeats_a_faked_result_and_a_rebound_checker():
    """What nbgrader re-inserts at autograding, run after a submission cheated two ways."""
    ch = chapter(BOOK / "05_train_vs_inference.ipynb", BookContext(BOOK, ROOT / "_build", execute=False))
    info = next(i for i in ch.exercises if i.exercise.id == "5.3")
    wrong = "def fold_bn(W, b, gamma, beta, running_mean, running_var, eps):\n    return W, b\n"
    scope = {"__name__": "__main__"}
    exec(wrong, scope)                                                            # noqa: S102
    exec("from bnlib.exercises import CheckResult\nimport bnlib.exercises\n"     # noqa: S102
         "bnlib.exercises.check_fold = lambda f: CheckResult(True, 'fine')\n"
         + "\n".join(info.checkers), scope)
    try:
        exec(public_test(info), scope)                       # the visible test is fooled...  # noqa: S102
        with pytest.raises(AssertionError, match="W is not scaled"):
            exec(hidden_test(info), scope)                   # ...the hidden one is not     # noqa: S102
    finally:
        bnlib.exercises.reset_checkers()


# --- the course of the real book, through the real tools ----------------------------------------

CHAPTERS = ("02_forward", "05_train_vs_inference")
MISTAKES = {   # exercise, a wrong body (catalogued mistake), the words the checker names it with
    "05_train_vs_inference": ("5.1", "new_mean = momentum * running_mean + (1 - momentum) * batch_mean\n"
                              "new_var = momentum * running_var + (1 - momentum) * batch_var * m / (m - 1)\n"
                              "return new_mean, new_var", "momentum weights the old value"),
    "02_forward": ("2.2", "mu = x.mean(axis=0)\nvar = ((x - mu) ** 2).mean(axis=0)\n"
                   "out = gamma * (x - mu) / (np.sqrt(var) + eps) + beta\nreturn out, (x, mu, var)",
                   "eps is outside the square root"),
}


def autograded_points(stem: str) -> int:
    return sum(e.points for e in CATALOGUE.values() if e.notebook == f"{stem}.ipynb" and e.autograded)


def _run(cmd, cwd) -> str:
    # nbgrader runs `alembic` from PATH: the tools of this environment come first
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    done = subprocess.run([str(BIN / cmd[0]), *cmd[1:]], cwd=cwd, capture_output=True, text=True, timeout=900,
                          env=env)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout + done.stderr


def _with_region(source: str, body: str) -> str:
    """``source`` with the code between its markers replaced by ``body`` (indented like them)."""
    out, inside = [], False
    for line in source.split("\n"):
        if line.strip().startswith(BEGIN):
            indent = line[: len(line) - len(line.lstrip())]
            out += [line] + [indent + b for b in body.split("\n")]
            inside = True
        elif line.strip().startswith(END):
            out.append(line)
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


def _submissions(course: Path, stem: str) -> None:
    source = nbformat.read(course / "source" / stem / f"{stem}.ipynb", as_version=4)
    release = nbformat.read(course / "release" / stem / f"{stem}.ipynb", as_version=4)
    by_id = {c.metadata["nbgrader"]["grade_id"]: c for c in source.cells if "nbgrader" in c.metadata}
    solutions = copy.deepcopy(release)
    for cell in solutions.cells:
        grading = cell.metadata.get("nbgrader", {})
        if grading.get("solution") and cell.cell_type == "code":
            cell.source = by_id[grading["grade_id"]].source
    mistake = copy.deepcopy(solutions)
    exercise, body, _ = MISTAKES[stem]
    cell = next(c for c in mistake.cells if c.metadata.get("nbgrader", {}).get("grade_id", "")
                .startswith(f"ex{exercise.replace('.', '_')}_solution"))
    cell.source = _with_region(cell.source, body)
    for who, nb in (("solutions", solutions), ("release", release), ("mistake", mistake)):
        folder = course / "submitted" / who / stem
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, folder / f"{stem}.ipynb")


def _nbgrader(course: Path, results: dict) -> None:
    from nbgrader.api import Gradebook
    for stem in CHAPTERS:
        _run(["nbgrader", "generate_assignment", stem, "--force"], course)
        _submissions(course, stem)
        _run(["nbgrader", "autograde", stem, "--force"], course)
        _run(["nbgrader", "generate_feedback", stem, "--force"], course)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for stem in CHAPTERS:
            for who in ("solutions", "release", "mistake"):
                grades = gb.find_submission(stem, who).notebooks[0].grades
                results[("nbgrader", stem, who)] = {g.name: (g.score, g.max_score) for g in grades}


def _otter(folder: Path, results: dict) -> None:
    for stem in CHAPTERS:
        dist = folder / "dist" / stem
        _run(["otter", "assign", f"{stem}.ipynb", str(dist)], folder)
        autograder = next((dist / "autograder").glob("*-autograder_*.zip"))
        for who, nb in (("solutions", dist / "autograder" / f"{stem}.ipynb"),
                        ("release", dist / "student" / f"{stem}.ipynb")):
            work = folder / "runs" / stem / who
            work.mkdir(parents=True)
            (work / f"{stem}.ipynb").write_bytes(nb.read_bytes())
            _run(["otter", "run", "-a", str(autograder), "-o", str(work), f"{stem}.ipynb"], work)
            tests = json.loads((work / "results.json").read_text())["tests"]
            results[("otter", stem, who)] = {t["name"]: (t["score"], t["max_score"])
                                             for t in tests if "max_score" in t and t.get("max_score")}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    out = tmp_path_factory.mktemp("course")
    path = os.environ.get("PATH", "")
    os.environ["PATH"] = f"{BIN}{os.pathsep}{path}"       # nbgrader's Gradebook runs `alembic` too
    ma.build(BookContext(BOOK, ROOT / "_build"), out, CHAPTERS)
    results, errors = {}, []

    def guarded(fn, *args):
        try:
            fn(*args)
        except BaseException as e:  # noqa: BLE001 - reported by the test below
            errors.append(e)
    workers = [threading.Thread(target=guarded, args=(_nbgrader, out / "nbgrader", results)),
               threading.Thread(target=guarded, args=(_otter, out / "otter", results))]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    os.environ["PATH"] = path
    if errors:
        raise errors[0]
    print("\nscores (score / max per graded cell or question):")
    for key in sorted(results):
        total = sum(s for s, _ in results[key].values())
        print(f"  {' '.join(key):45s} {total:g} / {sum(m for _, m in results[key].values()):g}  {results[key]}")
    return out, results


def _auto(scores: dict) -> tuple:
    """Autograded (score, max) of one nbgrader submission: its test cells."""
    tests = [v for k, v in scores.items() if k.endswith("_test")]
    return sum(s for s, _ in tests), sum(m for _, m in tests)


@pytest.mark.student
@pytest.mark.parametrize("stem", CHAPTERS)
def test_nbgrader_round_trip(stem, graded):
    out, results = graded
    points = autograded_points(stem)
    assert points > 0
    solutions, release, mistake = (results[("nbgrader", stem, w)] for w in ("solutions", "release", "mistake"))
    assert _auto(solutions) == (points, points)
    assert _auto(release) == (0, points)
    exercise, _, words = MISTAKES[stem]
    lost = CATALOGUE[exercise].points
    assert _auto(mistake) == (points - lost, points)
    assert mistake[f"ex{exercise.replace('.', '_')}_test"][0] == 0
    manual = [k for k in solutions if k.endswith("_answer")]
    assert len(manual) == sum(not e.autograded for e in CATALOGUE.values() if e.notebook == f"{stem}.ipynb")
    feedback = (out / "nbgrader" / "feedback" / "mistake" / stem / f"{stem}.html").read_text()
    assert words in feedback


@pytest.mark.student
@pytest.mark.parametrize("stem", CHAPTERS)
def test_otter_round_trip(stem, graded):
    _, results = graded
    points = autograded_points(stem)
    solutions, release = results[("otter", stem, "solutions")], results[("otter", stem, "release")]
    assert sum(s for s, _ in solutions.values()) == points == sum(m for _, m in solutions.values())
    assert sum(s for s, _ in release.values()) == 0 and sum(m for _, m in release.values()) == points


@pytest.mark.student
def test_build_assignments_is_current(tmp_path):
    """``_build/nbgrader`` and ``_build/otter`` are what `make assignments` writes from book/ now."""
    if not (ROOT / "_build" / "nbgrader").is_dir():
        pytest.fail("no _build/nbgrader: run `make assignments` first")
    ma.build(BookContext(BOOK, ROOT / "_build"), tmp_path)
    for folder in ("nbgrader", "otter"):
        fresh = {p.relative_to(tmp_path / folder): p.read_bytes() for p in (tmp_path / folder).rglob("*")
                 if p.is_file()}
        built = {p.relative_to(ROOT / "_build" / folder): p.read_bytes()
                 for p in (ROOT / "_build" / folder).rglob("*") if p.is_file()}
        stale = [str(k) for k, v in fresh.items() if built.get(k) != v]   # tools' own files may be added
        assert not stale, f"_build/{folder} is out of date ({stale[:3]}): run `make assignments`"
