"""Keep one copy of each script on a page.

jupyter-book 1.0.4 makes sphinx-thebe add its inline configuration twice (the
second ``const THEBE_JS_URL`` is a console error), and MathJax ends up listed
twice, once deferred and once not (loading it twice is an error too). A file
is kept once, at its first place (the deferred MathJax, after its
configuration); an inline script once per distinct body.
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
