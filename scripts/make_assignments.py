#!/usr/bin/env python
"""Write an nbgrader course and otter-grader master notebooks from book/*.ipynb.

Run by ``make assignments``; ``book/`` is only read. One assignment per chapter
with exercises, named by the notebook's file stem (``05_train_vs_inference``):

* ``_build/nbgrader/``: ``nbgrader_config.py`` and ``source/<stem>/<stem>.ipynb``
  (see ``_nbgrader``). From that folder: ``nbgrader generate_assignment <stem>``,
  then collect, ``nbgrader autograde <stem>``, ``nbgrader generate_feedback <stem>``,
  ``nbgrader export``.
* ``_build/otter/<stem>.ipynb`` (see ``_otter``) and ``requirements.txt`` (bnlib
  for the grading image): ``otter assign <stem>.ipynb dist/`` writes the student
  notebook and the autograder zip, for Gradescope or ``otter run``.

Student-facing cells are the same as in ``make student`` (plain markdown, values
glued in, the Colab bootstrap first). Both folders are rebuilt from scratch.
"""
from __future__ import annotations

import argparse
import re
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bookrefs import read_config  # noqa: E402
from _nbgrader import CONFIG, nbgrader_notebook  # noqa: E402
from _otter import otter_notebook  # noqa: E402
from _outputs import SKIP, BookContext, chapter, write_notebook  # noqa: E402

from bnlib._checks import check_int  # noqa: E402

__all__ = ["build", "main", "chapters"]


def chapters(ctx: BookContext, only=()) -> list:
    """The chapters with exercises (all of them, or those whose stems are in ``only``)."""
    out = []
    for path in sorted(ctx.book.glob("*.ipynb")):
        if path.name in SKIP or (only and path.stem not in only):
            continue
        ch = chapter(path, ctx)
        for info in ch.exercises:     # points must be whole numbers for nbgrader and otter
            check_int(info.exercise.points, f"points of Exercise {info.exercise.id} ({path.name})")
        if ch.exercises:
            out.append(ch)
    return out


def _images(nb) -> list[str]:
    """The ``images/...`` files a notebook's markdown links to."""
    found = set()
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            found |= set(re.findall(r"\]\((images/[^)\s]+)\)", cell.source))
    return sorted(found)


def _copy_images(names, src_root: Path, dest: Path) -> None:
    for name in names:
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src_root / name, target)


def _requirements(root: Path) -> str:
    url = str((read_config(root).get("repository") or {}).get("url", "")).rstrip("/")
    line = f"bnlib[book] @ git+{url}" if url else "bnlib[book]"
    return f"# what the grading image needs besides otter (bnlib and the book's plotting packages)\n{line}\n"


def _fresh(folder: Path) -> Path:
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    return tmp


def _swap(tmp: Path, folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)


def build(ctx: BookContext, out: Path, only=()) -> list:
    """Write ``out/nbgrader`` and ``out/otter``; return the stems written."""
    grader_dir, otter_dir = _fresh(out / "nbgrader"), _fresh(out / "otter")
    (grader_dir / "nbgrader_config.py").write_text(CONFIG, encoding="utf-8")
    (otter_dir / "requirements.txt").write_text(_requirements(ctx.book.parent), encoding="utf-8")
    stems = []
    for ch in chapters(ctx, only):
        stem = ch.path.stem
        source = nbgrader_notebook(ch)
        write_notebook(source, grader_dir / "source" / stem / f"{stem}.ipynb")
        _copy_images(_images(source), ctx.book.parent, grader_dir / "source" / stem)
        master = otter_notebook(ch, _images(source))
        write_notebook(master, otter_dir / f"{stem}.ipynb")
        _copy_images(_images(source), ctx.book.parent, otter_dir)
        stems.append(stem)
    _swap(grader_dir, out / "nbgrader")
    _swap(otter_dir, out / "otter")
    return stems


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--book", type=Path, default=ROOT / "book")
    p.add_argument("--out", type=Path, default=ROOT / "_build",
                   help="writes OUT/nbgrader and OUT/otter")
    p.add_argument("--build", type=Path, default=ROOT / "_build",
                   help="folder with the book's jupyter-cache (.jupyter_cache) and our glue cache")
    p.add_argument("--no-execute", action="store_true",
                   help="never execute a notebook to find glued values (print '(printed above)')")
    p.add_argument("stems", nargs="*", help="only these chapters (file stems); default: all with exercises")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    ctx = BookContext(args.book, args.build, execute=not args.no_execute)
    try:
        stems = build(ctx, args.out, tuple(args.stems))
    except (ValueError, TypeError) as e:
        print(f"make_assignments: {e}", file=sys.stderr)
        return 1
    for w in dict.fromkeys(ctx.warnings):
        print(f"make_assignments: warning: {w}", file=sys.stderr)
    print(f"Wrote {len(stems)} assignments to {args.out / 'nbgrader'} (nbgrader course) and "
          f"{args.out / 'otter'} (otter masters) in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
