"""The values a chapter glues into its prose, read from an executed copy of the notebook.

``{glue:text}`key:.3f``` only renders in the built book. The student and
grader notebooks print the value instead, so they need the notebook's executed
outputs. In order of preference:

1. the book build's jupyter-cache (``_build/.jupyter_cache``), when it holds a
   run of exactly this notebook (same code: jupyter-cache matches by a hash);
2. our own cache of glue values (``_build/.glue/<stem>-<hash>.json``), written
   the last time step 3 ran for this code;
3. executing the notebook with nbclient (in ``book/``, as the build does),
   unless ``execute=False``.

A key with no value (not executed, or the cell failed) is shown as
"(printed above)" for text, and as a note for a figure.
"""
from __future__ import annotations

import ast
import hashlib
import json
from pathlib import Path

import nbformat

__all__ = ["glue_values", "code_hash", "format_text", "MISSING_TEXT"]

MISSING_TEXT = "(printed above)"


def code_hash(nb) -> str:
    """A hash of the notebook's code cells: it changes exactly when the outputs may."""
    code = "\n\x00".join(c.source if isinstance(c.source, str) else "".join(c.source)
                         for c in nb.cells if c.cell_type == "code")
    return hashlib.sha256(code.encode()).hexdigest()[:16]


def _from_outputs(nb) -> dict:
    """``key -> {mime: data}`` for every glued output of an executed notebook."""
    out = {}
    for cell in nb.cells:
        for o in cell.get("outputs", []) if cell.cell_type == "code" else []:
            meta = o.get("metadata", {}).get("scrapbook")
            if meta and "name" in meta:
                skip = len(meta.get("mime_prefix", ""))
                out[meta["name"]] = {k[skip:]: v for k, v in o.get("data", {}).items()}
    return out


def _from_jupyter_cache(nb, cache_dir: Path):
    if not (cache_dir / "global.db").exists():
        return None
    try:
        from jupyter_cache import get_cache
        _, merged = get_cache(str(cache_dir)).merge_match_into_notebook(nb)
    except (KeyError, ImportError, OSError):
        return None
    return _from_outputs(merged)


def _execute(nb, folder: Path) -> dict:
    from nbclient import NotebookClient
    run = nbformat.from_dict(json.loads(json.dumps(nb)))
    NotebookClient(run, timeout=300, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(folder)}}).execute()
    return _from_outputs(run)


def glue_values(path: Path, build: Path, execute: bool = True) -> dict:
    """Glued values of the notebook at ``path``: ``key -> {mime: data}`` (may be empty)."""
    nb = nbformat.read(path, as_version=4)
    found = _from_jupyter_cache(nb, build / ".jupyter_cache")
    if found is not None:
        return found
    saved = build / ".glue" / f"{path.stem}-{code_hash(nb)}.json"
    if saved.exists():
        return json.loads(saved.read_text(encoding="utf-8"))
    if not execute:
        return {}
    found = _execute(nb, path.parent)
    saved.parent.mkdir(parents=True, exist_ok=True)
    for old in saved.parent.glob(f"{path.stem}-*.json"):
        old.unlink()
    saved.write_text(json.dumps(found), encoding="utf-8")
    return found


def format_text(data: dict | None, spec: str) -> str:
    """A glued value as myst-nb's ``{glue:text}`` shows it: text/plain, formatted by ``spec``."""
    if not data or "text/plain" not in data:
        return MISSING_TEXT
    text = data["text/plain"]
    text = "".join(text) if isinstance(text, list) else text
    try:
        value = ast.literal_eval(text)
    except (SyntaxError, ValueError):
        value = text
    if not spec:
        return str(value)
    kind = spec[-1]
    try:
        if kind == "s":
            value = str(value)
        elif kind in "bcdoxX":
            value = int(value)
        elif kind in "eEfFgGn%":
            value = float(value)
        return format(value, spec)
    except (TypeError, ValueError):
        return str(value)
