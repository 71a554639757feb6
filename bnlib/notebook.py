"""Small helpers for the chapters: glue numbers into prose, show code and tables.

``glue`` stores a value for ``{glue:text}`key``` in the rendered book (myst-nb);
where myst-nb is not installed (Colab, a plain Jupyter) it just does nothing,
so the same notebook runs everywhere.
"""
from __future__ import annotations

import inspect

__all__ = ["glue", "show_source", "html_table", "BADGES"]


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


BADGES = ("yes", "weakly", "no")
"""Verdict words that ``html_table(..., badges=...)`` draws as coloured badges."""


def html_table(rows: list[dict], columns: list[str] | None = None, math: tuple[str, ...] = (),
               badges: tuple[str, ...] = ()):
    """A small HTML table (class ``bn-table``, styled by the book's stylesheet).

    Columns named in ``math`` are inline LaTeX, set in display style so fractions are
    text-sized; in columns named in ``badges`` the words of :data:`BADGES` become
    badges (``<span class="bn-badge bn-badge-yes">``), other values stay text.
    """
    from html import escape

    from IPython.display import HTML

    columns = columns or list(rows[0])
    missing = sorted(set(columns) - set(rows[0])) if rows else []
    if missing:
        raise KeyError(f"html_table: columns {missing} are not in the rows; they have {list(rows[0])}")
    head = "".join(f'<th scope="col">{escape(c)}</th>' for c in columns)

    def cell(c, v):
        text = ", ".join(map(str, v)) if isinstance(v, tuple) else str(v)
        if c in math:     # the TeX is escaped like any text: MathJax (Jupyter) and KaTeX (the book) unescape it
            return f"<td>\\(\\displaystyle {escape(text)}\\)</td>"
        if c in badges and text in BADGES:
            return f'<td><span class="bn-badge bn-badge-{text}">{text}</span></td>'
        if len(text) <= 24 and any(ch.isdigit() for ch in text):   # a number: never broken across lines
            return f'<td class="bn-nowrap">{escape(text)}</td>'
        return f"<td>{escape(text)}</td>"

    body = "".join("<tr>" + "".join(cell(c, r[c]) for c in columns) + "</tr>" for r in rows)
    # MathJax only typesets inside elements marked for it (class mathjax_process); the book's
    # KaTeX step (_ext/bn_katex.py) looks for the same mark
    return HTML(f'<div class="mathjax_process bn-table-wrap"><table class="bn-table"><thead><tr>{head}</tr>'
                f"</thead><tbody>{body}</tbody></table></div>")
