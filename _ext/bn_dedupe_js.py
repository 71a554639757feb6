"""Keep one copy of each script on a page.

Works around two upstream duplications seen with jupyter-book 1.0.4.post1:

* sphinx-thebe 0.3.1 adds its inline configuration (``const THEBE_JS_URL = ...``)
  with ``app.add_js_file`` from an ``env-before-read-docs`` handler, and that
  event fires again when jupyter-book re-reads the environment, so the page
  gets the inline script twice; the second ``const`` declaration is a console
  error.
* myst-nb 1.4 adds MathJax per page (not deferred) on pages whose notebooks ask
  for it, while ``sphinx.ext.mathjax`` has already added it (deferred, after its
  configuration); loading MathJax twice is an error too.

A file is kept once, at its first place (the deferred MathJax); an inline script
once per distinct body. It can go when a build without this extension (remove
it from ``_config.yml``) passes the browser test of console errors: then
neither package duplicates any more.
"""


def _dedupe(app, pagename, templatename, context, doctree):
    seen, kept = set(), []
    for js in context.get("script_files", []):
        filename = getattr(js, "filename", None)
        key = filename if filename else tuple(sorted(getattr(js, "attributes", {}).items()))
        if key not in seen:
            seen.add(key)
            kept.append(js)
    context["script_files"] = kept


def setup(app):
    app.connect("html-page-context", _dedupe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
