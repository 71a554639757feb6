"""The repository's own conventions: table of contents, clean notebooks, the Colab cell, the core's imports."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import sync_repo_url  # noqa: E402

NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))


def toc_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc["parts"]:
        files += [c["file"] for c in part["chapters"]]
    return files


@pytest.mark.parametrize("entry", toc_files())
def test_every_toc_entry_exists(entry):
    assert any((ROOT / f"{entry}{ext}").exists() for ext in (".md", ".ipynb")), f"{entry} is in _toc.yml but missing"


def test_every_chapter_is_in_the_toc():
    listed = set(toc_files())
    for path in list(NOTEBOOKS) + sorted((ROOT / "book").glob("*.md")):
        assert str(path.relative_to(ROOT).with_suffix("")) in listed, f"{path.name} is not in _toc.yml"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_committed_clean(path):
    nb = json.loads(path.read_text())
    assert "widgets" not in nb.get("metadata", {}), "metadata.widgets is stored"
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert not cell.get("outputs") and cell.get("execution_count") is None, f"cell {i} has outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_code_cell_is_the_colab_bootstrap_with_the_configured_url(path):
    nb = json.loads(path.read_text())
    first = next(c for c in nb["cells"] if c["cell_type"] == "code")
    assert "".join(first["source"]) == sync_repo_url.bootstrap_source(sync_repo_url.repository_url()), (
        "run scripts/sync_repo_url.py")
    assert "remove-cell" in first.get("metadata", {}).get("tags", [])


def test_bootstrap_does_nothing_where_bnlib_is_installed():
    from IPython.core.inputtransformer2 import TransformerManager

    code = TransformerManager().transform_cell(sync_repo_url.bootstrap_source("https://example.invalid/x"))
    calls = []

    class Shell:
        def run_line_magic(self, *args):
            calls.append(args)

    exec(compile(code, "<bootstrap>", "exec"), {"get_ipython": lambda: Shell()})
    assert calls == []
    # and where the import fails, it installs from the repository
    exec(compile(code.replace("import bnlib\n", "import bnlib_missing_module\n", 1), "<b>", "exec"),
         {"get_ipython": lambda: Shell()})
    assert calls and "git+https://example.invalid/x" in calls[0][1]


def test_numpy_core_does_not_import_plotting_or_widgets():
    code = ("import sys, bnlib, bnlib.graph, bnlib.batchnorm, bnlib.gradcheck\n"
            "bad = [m for m in ('matplotlib', 'ipywidgets', 'graphviz') if m in sys.modules]\n"
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def _pins() -> dict:
    lines = (ROOT / "constraints.txt").read_text().splitlines()
    pairs = [ln.split("#")[0].strip().split("==") for ln in lines if "==" in ln.split("#")[0]]
    return {name.lower(): version for name, version in pairs}


def test_binder_installs_bnlib_with_its_extras_under_the_constraints():
    req = [ln.strip() for ln in (ROOT / "requirements.txt").read_text().splitlines()
           if ln.strip() and not ln.startswith("#")]
    assert req == ["-c constraints.txt", "-e .[book,build]"]
    assert re.fullmatch(r"1\.\d+\.\d+(\.post\d+)?", _pins()["jupyter-book"])   # Jupyter Book 1.x


def test_every_dependency_in_pyproject_is_pinned_in_constraints_and_nothing_else_is():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = [*project["dependencies"], *sum(project["optional-dependencies"].values(), [])]
    names = {re.split(r"[<>=!\[ ]", n, maxsplit=1)[0].lower() for n in names}
    assert names == set(_pins()), (f"pinned but not a dependency: {set(_pins()) - names}; "
                                   f"a dependency without a pin: {names - set(_pins())}")


def test_ci_and_the_torch_skip_message_take_torch_from_the_constraints():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "-c constraints.txt" in ci and "torch==" not in ci
    from conftest import torch_pin
    assert torch_pin() == f"torch=={_pins()['torch']}"
