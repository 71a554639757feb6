"""What the book's cross-references point at, read from book/ alone: labels, citations, the site URL.

Used by ``_plainmd`` to turn ``{ref}``, ``{numref}``, ``{doc}`` and ``{cite:p}``
into plain text or links to the rendered book, for notebooks opened where MyST
does not render (plain Jupyter, JupyterLab, Colab).

* :func:`label_index` maps every label to a :class:`Target`: a section target
  ``(label)=`` and its heading, an exercise's ``:label:``, a figure's ``:name:``
  (in a directive or in a cell's ``mystnb.figure`` metadata), and each page.
* :func:`read_bib` reads ``references.bib`` into ``key -> (authors, year)``.
* :func:`site_url` is ``html.baseurl`` from ``_config.yml`` when set, otherwise
  the GitHub Pages address of ``repository.url`` (where the publishing workflow
  puts the book).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Target", "label_index", "read_bib", "site_url", "cite", "cell_source", "read_config"]

_TARGET = re.compile(r"^\(([\w:.-]+)\)=\s*$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_OPTION = re.compile(r"^\s*:(label|name):\s*(\S+)\s*$")
_DIRECTIVE = re.compile(r"^\s*(`{3,}|:{3,})\{([\w:-]+)\}")


@dataclass(frozen=True)
class Target:
    """Where a label points: page stem, cell index, its kind and words for a reference."""

    stem: str          # "05_train_vs_inference"
    cell: int          # index of the cell that holds it (-1: the page itself)
    kind: str          # "page", "section", "exercise", "figure"
    title: str         # heading text, "Exercise 5.1", or a figure's caption start
    anchor: str        # "" for a page


def cell_source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _cells(path: Path) -> list[dict]:
    if path.suffix == ".md":
        return [{"cell_type": "markdown", "source": path.read_text(encoding="utf-8"), "metadata": {}}]
    return json.loads(path.read_text(encoding="utf-8")).get("cells", [])


def _plain_title(text: str) -> str:
    """A heading without MyST roles or emphasis marks, for use as link text."""
    text = re.sub(r"\{[\w:.-]+\}`([^`<]*?)(?:\s*<[^`]*>)?`", r"\1", text)
    return text.replace("**", "").replace("`", "").strip()


def _scan(stem: str, cells: list[dict], out: dict) -> None:
    page_title, pending = "", []
    for i, cell in enumerate(cells):
        meta_name = cell.get("metadata", {}).get("mystnb", {}).get("figure", {}).get("name")
        if meta_name:
            out[meta_name] = Target(stem, i, "figure", "the figure", meta_name)
        if cell.get("cell_type") != "markdown":
            continue
        exercise = cell.get("metadata", {}).get("exercise", {})
        directive = ""
        for line in cell_source(cell).split("\n"):
            target, heading = _TARGET.match(line), _HEADING.match(line)
            d, option = _DIRECTIVE.match(line), _OPTION.match(line)
            if d:
                directive = d.group(2)
            if target:
                pending.append(target.group(1))
            elif heading:
                level, title = len(heading.group(1)), _plain_title(heading.group(2))
                page_title = page_title or (title if level == 1 else "")
                for label in pending:
                    out[label] = Target(stem, i, "page" if level == 1 else "section", title,
                                        "" if level == 1 else label)
                pending = []
            elif option and directive == "exercise-start" and exercise.get("id"):
                out[option.group(2)] = Target(stem, i, "exercise", f"Exercise {exercise['id']}",
                                              option.group(2))
            elif option and "figure" in directive:
                out[option.group(2)] = Target(stem, i, "figure", "the figure", option.group(2))
    out[f"/{stem}"] = Target(stem, -1, "page", page_title or stem, "")


def label_index(book: Path) -> dict:
    """Every label of ``book/*.ipynb`` and ``book/*.md``, and each page as ``"/<stem>"``."""
    out: dict = {}
    for path in sorted(book.glob("*.ipynb")) + sorted(book.glob("*.md")):
        _scan(path.stem, _cells(path), out)
    return out


def read_config(root: Path) -> dict:
    try:
        import yaml
        return yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8")) or {}
    except (OSError, ImportError):
        return {}


def site_url(root: Path) -> str:
    """The rendered book's address, ending in "/" ("" if the config names none)."""
    config = read_config(root)
    base = (config.get("html") or {}).get("baseurl") or ""
    if not base:
        repo = re.match(r"https?://github\.com/([^/]+)/([^/#?]+?)(?:\.git)?/?$",
                        str((config.get("repository") or {}).get("url", "")))
        base = f"https://{repo.group(1).lower()}.github.io/{repo.group(2)}/" if repo else ""
    return base if not base or base.endswith("/") else base + "/"


def _field(entry: str, name: str) -> str:
    m = re.search(rf"\b{name}\s*=\s*(\{{(?:[^{{}}]|\{{[^{{}}]*\}})*\}}|\"[^\"]*\"|\d+)", entry, re.I)
    return re.sub(r"[{}]", "", m.group(1)).strip().strip('"') if m else ""


def _last_name(person: str) -> str:
    person = person.strip()
    return person.split(",")[0].strip() if "," in person else person.split()[-1] if person else ""


def read_bib(path: Path) -> dict:
    """``key -> (author words, year)`` for every entry of a BibTeX file, e.g. ("Ioffe and Szegedy", "2015")."""
    out = {}
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    for m in re.finditer(r"@\w+\s*\{\s*([^,\s]+)\s*,(.*?)(?=\n@|\Z)", text, re.S):
        people = [p for p in re.split(r"\s+and\s+", _field(m.group(2), "author")) if p.strip()]
        names = [_last_name(p) for p in people if p.strip().lower() != "others"]
        if len(names) > 2 or any(p.strip().lower() == "others" for p in people):
            words = f"{names[0]} et al." if names else "Anonymous"
        else:
            words = " and ".join(names) or _field(m.group(2), "title") or m.group(1)
        out[m.group(1)] = (words, _field(m.group(2), "year") or "n.d.")
    return out


def cite(keys: str, bib: dict, textual: bool = False) -> str:
    """``{cite:p}`a,b``` as "(A 2015; B et al. 2018)"; ``textual`` gives "A (2015)"."""
    parts = []
    for key in (k.strip() for k in keys.split(",") if k.strip()):
        words, year = bib.get(key, (key, "n.d."))
        parts.append(f"{words} ({year})" if textual else f"{words} {year}")
    return "; ".join(parts) if textual else f"({'; '.join(parts)})"
