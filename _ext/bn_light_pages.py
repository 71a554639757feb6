"""Lighter pages: the book's template overrides (``_ext/templates``) go first on templates_path.

What they change and why is written at the top of each template: no 1.5 MB
``fontawesome.js`` (the CSS webfonts draw the icons), the search index only on the
search page, no empty top navbar with a second search box. And vendored files stay
off the pages unless asked for: jupyter-book adds every ``.js`` and ``.css`` under
``_static`` to every page, which would load the build-time KaTeX script, the test-only
axe-core and anything else fetched into ``_static/vendor`` (git-ignored) on every
page; :func:`drop_vendor_files` takes them off (``bn_katex`` adds the one stylesheet
it needs itself). The digest in
``static/webpack-macros.html`` is pydata-sphinx-theme 0.17.1's; :func:`check_theme`
stops the build with a clear message if another version is installed.
"""
from __future__ import annotations

from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent / "templates"
THEME_VERSION = "0.17.1"


def add_templates(app, config):
    path = str(TEMPLATES)
    if path not in config.templates_path:
        config.templates_path.insert(0, path)


def _name(entry) -> str:
    return entry[0] if isinstance(entry, (tuple, list)) else str(entry)


def drop_vendor_files(app, config):
    config.html_js_files = [f for f in config.html_js_files if not _name(f).startswith("vendor/")]
    config.html_css_files = [f for f in config.html_css_files if not _name(f).startswith("vendor/")]


def check_theme(app):
    import pydata_sphinx_theme

    if pydata_sphinx_theme.__version__ != THEME_VERSION:
        raise RuntimeError(f"_ext/templates/static/webpack-macros.html copies pydata-sphinx-theme "
                           f"{THEME_VERSION}'s asset list; installed is {pydata_sphinx_theme.__version__}: "
                           "update the copy (and THEME_VERSION) from the theme's own file")


def setup(app):
    app.connect("config-inited", add_templates)
    app.connect("config-inited", drop_vendor_files)
    app.connect("builder-inited", check_theme)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
