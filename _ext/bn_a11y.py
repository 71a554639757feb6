"""Small accessibility repairs of the HTML that the theme and extensions write (found by axe-core).

* myst-nb's "Show code cell source" toggles carry ``aria-label="Toggle hidden content"``,
  which hides their visible text from their name (axe: label-content-name-mismatch):
  the label goes, so the visible text names them.
* docutils marks the bibliography ``role="list"`` with ``role="doc-biblioentry"`` items,
  a role a list may not hold (axe, critical: aria-required-children): they become list items.

The search button's fix is a template (``_ext/templates/search-button-field.html``).
"""
from __future__ import annotations

REPAIRS = (
    ('<summary aria-label="Toggle hidden content">', "<summary>"),
    ('role="doc-biblioentry"', 'role="listitem"'),
)


def repair(app, pagename, templatename, context, doctree):
    body = context.get("body")
    if body:
        for old, new in REPAIRS:
            body = body.replace(old, new)
        context["body"] = body


def setup(app):
    app.connect("html-page-context", repair)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
