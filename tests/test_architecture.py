"""The shape of the house: the numpy core below, the views above, and no import circles.

Every import in ``bnlib/`` and ``scripts/`` is read from the source (the AST),
including imports inside functions, so a lazy import cannot hide an upward
arrow or a circle.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = {"graph", "batchnorm", "fastpath", "norms", "numerics", "distributed", "gradcheck", "nn",
        "layer", "data", "renorm", "family", "rmsnorm", "weightstd", "torchdist", "_checks", "_layout",
        "_bncache"}
"""The numpy core: modules of bnlib that hold the math (and their private helpers). ``torchdist``
also imports torch, inside its functions: the optional real communicator for ``distributed``."""
VIEWS = {"widgets", "viz", "notebook", "exercises"}


def _module_name(path: Path) -> str:
    if path.is_relative_to(ROOT / "scripts"):
        return "scripts." + path.stem
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    files = sorted((ROOT / "bnlib").rglob("*.py")) + sorted((ROOT / "scripts").glob("*.py"))
    return {_module_name(p): p for p in files}


def _imports(name: str, path: Path, known: set[str]) -> list[tuple[str, int]]:
    """(imported module, line) for every import in the file, resolved to modules we know."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            elif name.startswith("scripts.") and node.module and f"scripts.{node.module}" in known:
                mod = f"scripts.{node.module}"          # scripts import each other by file name
            else:
                mod = node.module or ""
            # `from pkg import sub` imports the submodule pkg.sub when there is one
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in known else mod for a in node.names]
        else:
            continue
        for t in targets:
            if name.startswith("scripts.") and f"scripts.{t}" in known:
                t = f"scripts.{t}"
            while t and t not in known and "." in t:
                t = t.rpartition(".")[0]
            if t in known and t != name:
                out.append((t, node.lineno))
    return out


@pytest.fixture(scope="module")
def graph():
    mods = _modules()
    known = set(mods)
    return {name: _imports(name, path, known) for name, path in mods.items()}


def _layer(name: str) -> str:
    parts = name.split(".")
    if parts[0] != "bnlib" or len(parts) < 2:
        return "other"
    if parts[1] in VIEWS:
        return "view"
    return "core" if parts[1] in CORE else "other"


def test_the_core_never_imports_a_view(graph):
    upward = [f"{src} line {line} imports {dst}" for src, deps in graph.items() if _layer(src) == "core"
              for dst, line in deps if _layer(dst) == "view"]
    assert not upward, "the numpy core imports a view (move the code up):\n" + "\n".join(upward)


def test_every_core_module_is_known_to_this_test(graph):
    # a new module at the top of bnlib must be placed in CORE or be a view/experiment on purpose
    top = {n.split(".")[1] for n in graph if n.startswith("bnlib.") and n.count(".") == 1}
    unplaced = top - CORE - VIEWS - {"experiments", "timing"}
    assert not unplaced, f"place these bnlib modules in CORE or VIEWS in this test: {sorted(unplaced)}"


def _cycles(graph) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w, _ in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_circles_anywhere(graph):
    cycles = _cycles(graph)
    assert not cycles, f"modules that import each other (directly or round a loop): {cycles}"


def test_the_checks_themselves_find_a_circle_and_an_upward_import():
    # the two properties above on a made-up graph, so the tests cannot pass by finding nothing
    fake = {"bnlib.graph": [("bnlib.widgets.diagram", 3)], "bnlib.widgets.diagram": [("bnlib.graph", 1)],
            "bnlib.norms": []}
    assert _cycles(fake) == [["bnlib.graph", "bnlib.widgets.diagram"]]
    assert _layer("bnlib.graph") == "core" and _layer("bnlib.widgets.diagram") == "view"


def test_imports_inside_functions_are_seen(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("def f():\n    from bnlib import viz\n    return viz\n")
    assert _imports("bnlib.graph", src, {"bnlib", "bnlib.viz", "bnlib.graph"}) == [("bnlib.viz", 2)]
