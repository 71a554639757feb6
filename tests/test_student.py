"""Student notebooks: solutions removed, plain markdown, answer cells, and nothing that gives an answer away.

Unit tests of scripts/make_student.py use a small book built here, so they run
without any chapter. Tests marked ``student`` check every chapter with exercises
(run by ``make test`` after ``make student``): ``_build/student`` is current,
holds no MyST, and runs with NotImplementedError as its only error; and a scan
of all three student outputs (these notebooks, nbgrader's release, otter's
student notebooks) finds no solution code, no code of a bnlib function that an
implement exercise asks for shown before that exercise, and no assert in a
predict, explain or experiment exercise's cells.
"""
from __future__ import annotations

import ast
import hashlib
import html
import inspect
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

import bnlib.exercises

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
SCRIPTS = ROOT / "scripts"
sys.path.insert(0, str(SCRIPTS))
import _bookrefs  # noqa: E402
import _glue  # noqa: E402
import make_student as ms  # noqa: E402
from _chapter import BEGIN, END, solution_regions  # noqa: E402
from _outputs import BookContext, chapter  # noqa: E402

from bnlib.exercises.catalog import cell_source, list_exercises, parse_exercise_cell  # noqa: E402

BIN = Path(sys.executable).parent


# --- a small book ------------------------------------------------------------------------------

def _exercise(id_, title, kind="implement", fence="```", points=2):
    cell = new_markdown_cell(f"{fence}{{exercise-start}} {title}\n:label: ex-{id_.replace('.', '-')}\n{fence}\n"
                             f"Exercise {id_} · {kind} · ★☆☆ · 5 min\n\nWrite `f` (TASK-{id_}).\n"
                             f"{fence}{{exercise-end}}\n{fence}")
    cell.metadata["exercise"] = {"id": id_, "kind": kind, "difficulty": 1, "minutes": 5, "points": points}
    return cell


BOOTSTRAP = ("# Make bnlib importable on Colab; does nothing where it is installed.\ntry:\n    import bnlib\n"
             "except ImportError:\n    %pip install -q \"bnlib[book] @ git+https://github.com/Ex/Repo\"\n"
             "    import bnlib")


def synthetic():
    nb = new_notebook()
    nb.metadata["widgets"] = {"state": {}}
    solved = new_code_cell("class Model:\n    def f(self, x):\n        y = x + 1\n        ### BEGIN SOLUTION\n"
                           "        secret_one = y * 2\n        return secret_one\n        ### END SOLUTION\n\n"
                           "def g(x):\n    ### BEGIN SOLUTION\n    return 'secret_two'\n    ### END SOLUTION")
    solved.outputs = [new_output("stream", text="old output")]
    solved.execution_count = 7
    figure = new_markdown_cell("```{glue:figure} fig-a\n:alt: A line going up.\n:name: fig-a\n\n"
                               "Look at the slope, {glue:text}`val:.1f`.\n```")
    nb.cells = [
        new_code_cell(BOOTSTRAP, metadata={"tags": ["remove-cell"]}),
        new_markdown_cell("(ch-x)=\n# Title\nIntro text stays. See {ref}`sec-later`, {ref}`ch-other`, "
                          "{ref}`the other words <sec-other>`, {numref}`fig-a`, {doc}`other`, "
                          "{cite:p}`ioffe2015batch`, {cite:t}`three,ioffe2015batch`, value "
                          "{glue:text}`val:.2f`, missing {glue:text}`nokey`, {py:mod}`bnlib.graph`, "
                          "{math}`y^2`, {ref}`ex-9-2`."),
        new_markdown_cell("```{note}\nA note, {glue:text}`val:.1f`.\n```\n\n```{dropdown} Reveal μ\n"
                          "μ is {glue:text}`val:.3f`.\n```\n\n:::{admonition} Careful\nBody text.\n:::\n\n"
                          "```python\n{ref}`kept-in-code`\n```"),
        new_code_cell("import numpy as np\nglue('val', 3.14159)"),
        figure,
        new_markdown_cell("(sec-later)=\n## Later section\nText."),
        new_code_cell("print('secret walk')", metadata={"tags": ["student-remove"]}),
        _exercise("9.1", 'Two "quoted" functions'),
        new_markdown_cell("```{solution-start} ex-9-1\n:class: dropdown\n```"),
        new_markdown_cell("SECRET PROSE one: the idea."),
        solved,
        new_code_cell("print('secret demo only in the solution')"),
        new_markdown_cell("```{solution-end}\n```"),
        new_code_cell("from bnlib.exercises import check_fold\nresult_9_1 = check_fold(Model().f)\nresult_9_1"),
        new_code_cell("assert result_9_1.passed", metadata={"tags": ["solution", "remove-cell"]}),
        _exercise("9.2", "Predict it", kind="predict", fence=":::", points=1),
        new_code_cell("print(1)", metadata={"tags": ["hide-output"]}),
        new_markdown_cell(":::{solution-start} ex-9-2\n:class: dropdown\n:::\nSECRET PROSE two.\n"
                          ":::{solution-end}\n:::\nText after the solution stays."),
        new_code_cell("assert secret_answer", metadata={"tags": ["answer-check"]}),
        _exercise("9.3", "Explain it", kind="explain"),
        new_markdown_cell("```{solution-start} ex-9-3\n:class: dropdown\n```"),
        new_markdown_cell("SECRET PROSE three."),
        new_markdown_cell("```{solution-end}\n```"),
        new_markdown_cell("## Summary\nDone."),
    ]
    return nb


def write_book(root: Path, nb=None, glue=None) -> Path:
    """A book folder with one chapter, another page, a bibliography, a config and a glue cache."""
    book = root / "book"
    book.mkdir(parents=True, exist_ok=True)
    nb = nb or synthetic()
    nbformat.write(nb, book / "09_x.ipynb")
    (book / "other.md").write_text("(ch-other)=\n# The other page\n\n(sec-other)=\n## Other section\n")
    (book / "references.bib").write_text(
        "@article{ioffe2015batch,\n  author = {Ioffe, Sergey and Szegedy, Christian},\n  year = {2015}\n}\n"
        "@book{three,\n  author = {Ann Alpha and Bo Beta and Cy Gamma},\n  title={T},\n  year = 2019\n}\n")
    (root / "_config.yml").write_text("repository:\n  url: https://github.com/Ex/Repo\n")
    if glue is not False:
        saved = root / "_build" / ".glue" / f"09_x-{_glue.code_hash(nbformat.from_dict(nb))}.json"
        saved.parent.mkdir(parents=True, exist_ok=True)
        saved.write_text(json.dumps(glue or {"val": {"text/plain": "3.14159"},
                                             "fig-a": {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}}))
    return book


def student_of(tmp_path, nb=None, glue=None):
    book = write_book(tmp_path, nb, glue)
    ctx = BookContext(book, tmp_path / "_build", execute=False)
    return ms.make_student(chapter(book / "09_x.ipynb", ctx))[0], ctx


def _md(student) -> str:
    return "\n".join(c.source for c in student.cells if c.cell_type == "markdown")


def test_solution_regions_become_stubs(tmp_path):
    student, _ = student_of(tmp_path)
    code = "\n".join(c.source for c in student.cells if c.cell_type == "code")
    assert BEGIN not in code and END not in code
    assert ('        # YOUR CODE HERE\n        raise NotImplementedError('
            '"Exercise 9.1: Two \\"quoted\\" functions")') in code
    assert "    y = x + 1" in code and 'def g(x):\n    # YOUR CODE HERE\n    raise NotImplementedError(' in code
    for cell in student.cells:                        # every stubbed cell is valid Python
        if cell.cell_type == "code" and not cell.source.startswith("# Make bnlib"):
            compile(cell.source, "cell", "exec")
    scope = {}
    exec(next(c.source for c in student.cells if "class Model" in c.source), scope)  # noqa: S102
    with pytest.raises(NotImplementedError, match=r"Exercise 9\.1: Two"):
        scope["Model"]().f(1)


def test_solutions_tags_and_outputs_are_removed_and_the_bootstrap_stays_first(tmp_path):
    nb = synthetic()
    before = json.dumps(nb, sort_keys=True)
    student, _ = student_of(tmp_path, nb)
    assert json.dumps(nb, sort_keys=True) == before            # input untouched
    text = json.dumps(student)
    for secret in ("SECRET", "secret", "solution-start", "solution-end", "exercise-start"):
        assert secret not in text, secret
    assert "TASK-9.1" in text and "TASK-9.2" in text and "Intro text stays." in text
    assert "Text after the solution stays." in text
    assert "widgets" not in student.metadata
    assert student.cells[0].source == BOOTSTRAP
    assert all(c.outputs == [] and c.execution_count is None for c in student.cells if c.cell_type == "code")
    nbformat.validate(student)


def test_exercise_headers_are_plain_and_each_predict_or_explain_gets_an_answer_cell(tmp_path):
    student, _ = student_of(tmp_path)
    md = [c.source for c in student.cells if c.cell_type == "markdown"]
    header = next(s for s in md if "TASK-9.1" in s)
    assert header.startswith('### Exercise 9.1 · Two "quoted" functions\n\n*implement · ★☆☆ · 5 min · 2 points*')
    assert "Exercise 9.1 · implement" not in header
    assert "*predict · ★☆☆ · 5 min · 1 point, graded by hand*" in _md(student)
    sources = [c.source for c in student.cells]
    predict = next(i for i, s in enumerate(sources) if "TASK-9.2" in s)
    explain = next(i for i, s in enumerate(sources) if "TASK-9.3" in s)
    assert sources[predict + 1] == "YOUR ANSWER HERE"          # before the run cell
    assert sources[predict + 2] == "print(1)"
    assert sources[explain + 1] == "YOUR ANSWER HERE"
    assert sources.count("YOUR ANSWER HERE") == 2


def test_myst_becomes_plain_markdown(tmp_path):
    student, ctx = student_of(tmp_path)
    md = _md(student)
    site = "https://ex.github.io/Repo/"
    for expected in (
            "“Later section” (below)", f"[The other page]({site}book/other.html)",
            f"[the other words]({site}book/other.html#sec-other)", "the figure below",
            f"[The other page]({site}book/other.html)", "(Ioffe and Szegedy 2015)",
            "Alpha et al. (2019); Ioffe and Szegedy (2015)", "value 3.14,", "missing (printed above),",
            "`bnlib.graph`", "$y^2$", "Exercise 9.2.",
            "> **Note**\n>\n> A note, 3.1.", "<details><summary>Reveal μ</summary>\n\nμ is 3.142.\n\n</details>",
            "> **Careful**\n>\n> Body text.", "```python\n{ref}`kept-in-code`\n```",
            "![A line going up.](attachment:fig-a.png)", "*Figure: Look at the slope, 3.1.*"):
        assert expected in md, expected
    assert not re.search(r"\{(ref|numref|doc|cite:p|cite:t|glue:text|py:mod|math)\}`", md.replace(
        "{ref}`kept-in-code`", ""))
    assert "(ch-x)=" not in md and "(sec-later)=" not in md
    figure = next(c for c in student.cells if "attachment:fig-a.png" in c.source)
    assert figure.attachments == {"fig-a.png": {"image/png": "iVBORw0KGgo="}}
    assert any("no executed value for 'nokey'" in w for w in ctx.warnings)


def test_glue_values_come_from_the_jupyter_cache_when_it_matches(tmp_path):
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn
    nb = nbformat.from_dict(synthetic())
    executed = nbformat.from_dict(json.loads(json.dumps(nb)))
    glue = next(c for c in executed.cells if c.cell_type == "code" and "glue(" in c.source)
    glue.outputs = [new_output("display_data", data={"application/papermill.record/text/plain": "2.5"},
                               metadata={"scrapbook": {"name": "val",
                                                       "mime_prefix": "application/papermill.record/"}})]
    cache = get_cache(str(tmp_path / "_build" / ".jupyter_cache"))
    cache.cache_notebook_bundle(CacheBundleIn(executed, str(tmp_path / "x.ipynb")), check_validity=False)
    student, _ = student_of(tmp_path, synthetic(), glue=False)
    assert "value 2.50," in _md(student)


def test_glue_values_by_executing_the_notebook(tmp_path):
    nb = new_notebook(cells=[new_code_cell("from bnlib.notebook import glue\nglue('v', 0.5 + 0.25)"),
                             new_markdown_cell("It is {glue:text}`v:.2f`.")])
    book = write_book(tmp_path, nb, glue=False)
    ctx = BookContext(book, tmp_path / "_build", execute=True)
    student = ms.make_student(chapter(book / "09_x.ipynb", ctx))[0]
    assert "It is 0.75." in _md(student)
    saved = list((tmp_path / "_build" / ".glue").glob("09_x-*.json"))
    assert len(saved) == 1 and json.loads(saved[0].read_text())["v"]["text/plain"] == "0.75"


def test_format_text_follows_myst_nb():
    assert _glue.format_text({"text/plain": "0.123456"}, ".2e") == "1.23e-01"
    assert _glue.format_text({"text/plain": "'quoted'"}, "") == "quoted"
    assert _glue.format_text({"text/plain": "12"}, "d") == "12"
    assert _glue.format_text(None, ".2f") == "(printed above)"


def test_site_url_and_citations(tmp_path):
    (tmp_path / "_config.yml").write_text("repository:\n  url: https://github.com/Owner/my-book\n")
    assert _bookrefs.site_url(tmp_path) == "https://owner.github.io/my-book/"
    (tmp_path / "_config.yml").write_text("repository:\n  url: https://github.com/O/b\nhtml:\n"
                                          "  baseurl: https://books.example.org/bn\n")
    assert _bookrefs.site_url(tmp_path) == "https://books.example.org/bn/"
    assert _bookrefs.site_url(BOOK.parent).startswith("https://")
    bib = _bookrefs.read_bib(BOOK / "references.bib")
    assert bib["ioffe2015batch"] == ("Ioffe and Szegedy", "2015")
    assert _bookrefs.cite("ioffe2015batch", bib) == "(Ioffe and Szegedy 2015)"


@pytest.mark.parametrize("source,words", [
    ("def f():\n    ### BEGIN SOLUTION\n    return 1\n", "without ### END"),
    ("def f():\n    return 1\n    ### END SOLUTION\n", "without ### BEGIN"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "inside another")])
def test_broken_markers_are_errors(source, words, tmp_path):
    nb = new_notebook(cells=[new_code_cell("import bnlib"), new_code_cell(source)])
    with pytest.raises(ValueError, match=words):
        student_of(tmp_path, nb)


def _tree(path: Path) -> dict:
    return {p.relative_to(path).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file()}


def test_build_writes_readme_skips_instructor_and_is_idempotent(tmp_path):
    book = write_book(tmp_path)
    out = tmp_path / "_build" / "student"
    nbformat.write(new_notebook(cells=[new_markdown_cell("guide")]), book / "instructor.ipynb")
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.svg").write_text("<svg/>")
    source = _tree(book)
    args = ["--book", str(book), "--out", str(out), "--build", str(tmp_path / "_build"), "--no-execute"]
    assert ms.main(args) == 0
    first = _tree(out)
    assert set(first) == {"09_x.ipynb", "README.md", "images/a.svg"}
    assert "| [09_x.ipynb](09_x.ipynb) | 3 | 2 |" in (out / "README.md").read_text()
    (out / "stale.ipynb").write_text("{}")
    assert ms.main(args) == 0
    assert _tree(out) == first and _tree(book) == source


def test_broken_notebook_fails_the_command(tmp_path, capsys):
    book = write_book(tmp_path, new_notebook(cells=[new_code_cell("x"), new_code_cell("### BEGIN SOLUTION")]))
    assert ms.main(["--book", str(book), "--out", str(tmp_path / "out"), "--no-execute"]) == 1
    assert "09_x.ipynb, cell 1" in capsys.readouterr().err


# --- every chapter with exercises (after `make student`) --------------------------------------

CHAPTERS = sorted(p for p in BOOK.glob("*.ipynb") if p.name not in ms.SKIP
                  and any(parse_exercise_cell(c) for c in json.loads(p.read_text())["cells"]))
CHECKERS = re.compile(r"\b(" + "|".join(n for n in bnlib.exercises.__all__ if n.startswith("check_")) + r")\s*\(")
CATALOGUE = {e.id: e for e in list_exercises(BOOK)}
_MYST = re.compile(r"\{[\w:.-]+\}`|^\s*(`{3,}|:{3,})\{[\w:-]+\}|^\([\w:.-]+\)=\s*$", re.M)


@pytest.fixture(scope="module")
def student_dir():
    out = ROOT / "_build" / "student"
    if not out.is_dir():
        pytest.fail("no _build/student: run `make student` first")
    return out


@pytest.fixture(scope="module")
def context():
    return BookContext(BOOK, ROOT / "_build")


@pytest.mark.student
@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_student_notebook_is_current_plain_and_starts_with_the_bootstrap(path, student_dir, context,
                                                                          tmp_path):
    fresh, _ = ms.make_student(chapter(path, context))
    ms.write_notebook(fresh, tmp_path / path.name)
    assert (tmp_path / path.name).read_bytes() == (student_dir / path.name).read_bytes(), \
        f"_build/student/{path.name} is out of date: run `make student`"
    written = nbformat.read(student_dir / path.name, as_version=4)
    assert written.cells[0].cell_type == "code" and "import bnlib" in written.cells[0].source
    for i, cell in enumerate(written.cells):
        if cell.cell_type == "markdown":
            assert not _MYST.search(re.sub(r"```.*?```", "", cell.source, flags=re.S)), \
                f"MyST left in cell {i}: {cell.source[:200]}"
    headers = [c.source for c in written.cells if c.source.startswith("### Exercise ")]
    ids = [e.id for e in CATALOGUE.values() if e.notebook == path.name]
    assert [re.match(r"### Exercise (\S+) · ", h).group(1) for h in headers] == ids
    answers = sum(c.source == "YOUR ANSWER HERE" for c in written.cells)
    assert answers == sum(not CATALOGUE[i].autograded for i in ids)


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
        elif o.output_type == "error":
            parts.append("\n".join(o.get("traceback", [])))
        elif "data" in o:
            parts += [str(o.data.get("text/plain", "")), html.unescape(re.sub(r"<[^>]+>", "", str(
                o.data.get("text/html", ""))))]
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
            assert "not implemented yet" in _text(cell.outputs).lower(), \
                f"checker cell {i} should say 'not implemented yet':\n{cell.source[:300]}"


# --- the scan: no answer before the student attempts it ----------------------------------------

def _significant(lines) -> set:
    """Code lines worth looking for: long enough, not a comment, a bare return or argument checking."""
    out = set()
    for line in lines:
        s = re.sub(r"\s+#.*$", "", line).strip()
        if len(s) < 12 or s.startswith(("#", "def ", '"""', "'''", "raise ", "if not ", "@", 'f"', '"', "'", ")")) \
                or re.fullmatch(r"return [\w, ()]+", s) \
                or re.match(r"^([\w.]+(, [\w.]+)* = )?(_?check_\w+|as_float_array)\(", s):
            continue
        out.add(s)
    return out


def _body_lines(fn) -> set:
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    body = tree.body[0].body
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
        body = body[1:]
    source = textwrap.dedent(inspect.getsource(fn)).split("\n")
    return _significant(source[body[0].lineno - 1:]) if body else set()


_COMMON: set = set()


def _common_lines() -> set:
    """Lines found in two or more functions of bnlib's modules and experiments: idioms, not an answer."""
    if not _COMMON:
        import importlib
        import pkgutil

        import bnlib.experiments
        seen: dict = {}
        names = ["bnlib." + m.name for m in pkgutil.iter_modules(bnlib.__path__) if not m.ispkg]
        names += ["bnlib.experiments." + m.name for m in pkgutil.iter_modules(bnlib.experiments.__path__)]
        for name in names:
            try:
                module = importlib.import_module(name)
            except ImportError:             # an optional dependency (torch) is missing
                continue
            for fn in {id(f): f for _, f in inspect.getmembers(module, inspect.isfunction)
                       if f.__module__ == module.__name__}.values():
                for line in _body_lines(fn):
                    seen[line] = seen.get(line, 0) + 1
        _COMMON.update(k for k, n in seen.items() if n > 1)
    return _COMMON


def target_lines(fn) -> set:
    """The body of a bnlib function that answers an exercise, without its docstring, checks and idioms."""
    return {line for line in _body_lines(fn) if not line.startswith(("if ", "elif ", "else", "try", "except"))} \
        - _common_lines()


def solution_lines(nb) -> set:
    """Lines only found inside the notebook's solutions (code regions, prose, graded cells)."""
    inside, outside = set(), set()
    from _chapter import plan
    for it in plan(nb):
        src = cell_source(it.cell) if it.cell is not None else ""
        if it.role == "solution":
            regions = "\n".join(solution_regions(src)).split("\n")
            inside |= set(regions)
            outside |= set(src.split("\n")) - set(regions)
        elif it.role in ("graded", "answer-check", "solution-only", "removed"):
            inside |= set(src.split("\n"))
        elif it.cell is not None:
            outside |= set(src.split("\n"))
    for info in {id(it.info): it.info for it in plan(nb) if it.info}.values():
        for prose in info.prose:
            inside |= {t for t in prose.split("\n") if len(t.strip()) > 30}
    return _significant(inside) - {t.strip() for t in outside}


def _regions(nb) -> list:
    """``(exercise id, first cell, end cell)`` of each exercise in a student-side notebook."""
    starts = [(i, m.group(1)) for i, c in enumerate(nb.cells) if c.cell_type == "markdown"
              and (m := re.match(r"^(?:<!-- BEGIN QUESTION -->\s*)?### Exercise (\d+\.\d+) · ", c.source))]
    out = []
    for k, (i, id_) in enumerate(starts):
        end = starts[k + 1][0] if k + 1 < len(starts) else len(nb.cells)
        for j in range(i + 1, end):
            if nb.cells[j].cell_type == "markdown" and re.match(r"^#{1,2}\s", nb.cells[j].source):
                end = j
                break
        out.append((id_, i, end))
    return out


def _graded_test(cell) -> bool:
    grading = cell.metadata.get("nbgrader", {})
    return (grading.get("grade") and not grading.get("solution")) or "grader.check(" in cell.source


def _asserts(source: str) -> bool:
    try:
        return any(isinstance(n, ast.Assert) for n in ast.walk(ast.parse(source)))
    except SyntaxError:
        return "assert " in source


def _exercise_targets(ids_and_checkers) -> dict:
    return {id_: {line: fn.__qualname__ for name in names for fn in bnlib.exercises.targets(name)
                  for line in target_lines(fn)} for id_, names in ids_and_checkers}


def _checkers_by_exercise() -> dict:
    out = {}
    for path in CHAPTERS:
        nb = nbformat.read(path, as_version=4)
        from _chapter import plan
        for it in plan(nb, path.name):
            if it.role == "checker":
                out.setdefault(it.info.exercise.id, set()).update(CHECKERS.findall(cell_source(it.cell)))
    return out


def scan(nb, stem: str, executed=None) -> list[str]:
    """Everything in a student-side notebook that gives an answer away, in words ([] if nothing)."""
    found, number = [], int(stem.split("_")[0])
    secret = solution_lines(nbformat.read(BOOK / f"{stem}.ipynb", as_version=4))
    regions = _regions(nb)
    start = {id_: i for id_, i, _ in regions}
    targets = _exercise_targets(_checkers_by_exercise().items())
    for i, cell in enumerate(nb.cells):
        lines = {t.strip() for t in cell.source.split("\n")}
        first = next((t for t in cell.source.split("\n") if t.strip()), "")[:40]
        shown = {t.strip() for t in _text(executed.cells[i].get("outputs", [])).split("\n")} if executed else set()
        for line in sorted(secret & lines if not _graded_test(cell) else ()):
            found.append(f"cell {i} [{first}]: solution text: {line[:80]!r}")
        for id_, wanted in targets.items():
            chapter_of = int(id_.split(".")[0])
            if chapter_of < number or (chapter_of == number and i >= start.get(id_, len(nb.cells))):
                continue
            for line in sorted(set(wanted) & (lines | shown)):
                where = "output" if line in shown and line not in lines else "source"
                found.append(f"cell {i} [{first}] ({where}): the code of {wanted[line]}, which Exercise "
                             f"{id_} asks for: {line[:70]!r}")
        for id_, a, b in regions:
            if a < i < b and CATALOGUE[id_].kind != "implement" and nb.cells[i].cell_type == "code" \
                    and not _graded_test(cell) and _asserts(cell.source):
                found.append(f"cell {i} [{first}]: an assert in Exercise {id_} ({CATALOGUE[id_].kind})")
    return found


@pytest.fixture(scope="module")
def releases(context, tmp_path_factory):
    """nbgrader's release and otter's student notebook of every chapter, made by the real tools."""
    import make_assignments
    out = tmp_path_factory.mktemp("grader-outputs")
    make_assignments.build(context, out)
    course = out / "nbgrader"
    subprocess.run([str(BIN / "nbgrader"), "generate_assignment", "*", "--force", "--no-db"], cwd=course,
                   check=True, capture_output=True)
    found = {}
    for path in CHAPTERS:
        dist = out / "dist" / path.stem
        subprocess.run([str(BIN / "otter"), "assign", "--no-run-tests", str(out / "otter" / path.name),
                        str(dist)], check=True, capture_output=True)
        found[path.stem] = {"nbgrader release": course / "release" / path.stem / path.name,
                            "otter student": dist / "student" / path.name}
    return found


@pytest.mark.student
@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_student_outputs_give_no_answer_away(path, student_dir, executed, releases):
    """No solution code, no target's code before its exercise, no assert in a predict/explain/experiment."""
    problems = []
    run = executed[path.name] if not isinstance(executed[path.name], str) else None
    student = nbformat.read(student_dir / path.name, as_version=4)
    problems += [f"student notebook {p}" for p in scan(student, path.stem, run)]
    for output, file in releases[path.stem].items():
        problems += [f"{output} {p}" for p in scan(nbformat.read(file, as_version=4), path.stem)]
    assert not problems, f"{path.name} gives answers away:\n" + "\n".join(problems)


def test_the_scan_finds_each_kind_of_leak(tmp_path):
    """The scan itself, on a notebook made to leak in every way it looks for."""
    chapters = {p.stem: p for p in CHAPTERS}
    stem = "05_train_vs_inference" if "05_train_vs_inference" in chapters else CHAPTERS[0].stem
    src = nbformat.read(chapters[stem], as_version=4)
    line = next(ln.strip() for c in src.cells if BEGIN in cell_source(c)
                for ln in "\n".join(solution_regions(cell_source(c))).split("\n") if len(ln.strip()) > 20)
    student = new_notebook(cells=[
        new_code_cell(line),
        new_code_cell("show()", outputs=[new_output("execute_result", data={
            "text/plain": inspect.getsource(bnlib.fold_into_linear)}, execution_count=1)]),
        new_markdown_cell("### Exercise 5.4 · Predict"),
        new_code_cell("assert answer == 3")])
    found = "\n".join(scan(student, stem, student))
    assert "cell 0 [" in found and "solution text" in found
    assert "fold_into_linear, which Exercise 5.3 asks for" in found
    assert "cell 3 [assert answer == 3]: an assert in Exercise 5.4" in found
