"""Small helpers for the chapters: glue numbers into prose, show code and tables.

``glue`` stores a value for ``{glue:text}`key``` in the rendered book (myst-nb);
where myst-nb is not installed (Colab, a plain Jupyter) it just does nothing,
so the same notebook runs everywhere.
"""
from __future__ import annotations

import inspect

__all__ = ["glue", "show_source", "html_table"]


def glue(name: str, value, display: bool = False) -> None:
    """Record ``value`` under ``name`` for the prose (no-op without myst-nb)."""
    try:
        from myst_nb import glue as _glue
    except ImportError:
        return
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = value.item()   # numpy scalar -> Python number, so {glue:text}`k:.2e` can format it
    _glue(name, value, display=display)


def show_source(*objects):
    """Display the source of functions or classes from bnlib, highlighted."""
    from IPython.display import Code

    return Code("\n\n".join(inspect.getsource(o) for o in objects), language="python")


def html_table(rows: list[dict], columns: list[str] | None = None, math: tuple[str, ...] = ()):
    """A small HTML table; columns named in ``math`` are wrapped as inline LaTeX."""
    from html import escape

    from IPython.display import HTML

    columns = columns or list(rows[0])
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)

    def cell(c, v):
        text = ", ".join(map(str, v)) if isinstance(v, tuple) else str(v)
        return f"<td>\\({text}\\)</td>" if c in math else f"<td>{escape(text)}</td>"

    body = "".join("<tr>" + "".join(cell(c, r[c]) for c in columns) + "</tr>" for r in rows)
    # MathJax only typesets inside elements marked for it (class mathjax_process)
    return HTML(f'<div class="mathjax_process"><table class="bn-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>')
