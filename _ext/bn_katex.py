"""Math prerendered at build time with KaTeX: pages carry HTML and a small stylesheet, no math script.

The book's math renderer (``html_math_renderer = "bn_katex"``). Each ``$...$``,
``$$...$$`` and ``{math}`` node is turned into KaTeX's HTML (with MathML for screen
readers) by one node process that lives exactly as long as the build: it reads
requests on stdin and exits when stdin closes; ``build-finished`` and ``atexit``
close it, and a process that does not exit is killed. TeX inside raw HTML cell
outputs (``bnlib.notebook.html_table`` marks its container ``mathjax_process``, as
MathJax in Jupyter expects) is rendered by the same process after the doctree is
resolved. A TeX error is a Sphinx warning at the source location, so ``-W`` fails the build.

KaTeX itself comes from the npm registry (``scripts/fetch_frontend.py``) into
``_static/vendor/katex``; the page loads ``katex.min.css`` and the fonts it uses.
"""
from __future__ import annotations

import atexit
import html
import json
import re
import shutil
import subprocess
from pathlib import Path

from docutils import nodes
from sphinx.util import logging
from sphinx.util.math import get_node_equation_number

logger = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "katex_render.js"
VENDOR = HERE.parent / "_static" / "vendor" / "katex"
CSS = "vendor/katex/katex.min.css"
# \( ... \) and \[ ... \] inside an HTML output marked for math (non-greedy, may span lines)
_TEX_IN_HTML = re.compile(r"\\\((.+?)\\\)|\\\[(.+?)\\\]", re.S)


class KaTeX:
    """One node process rendering TeX; answers are cached (the same symbol appears many times)."""

    def __init__(self, katex_js: Path):
        node = shutil.which("node") or shutil.which("nodejs")
        if node is None:
            raise RuntimeError("bn_katex: node is not installed (apt-get install nodejs); "
                               "it prerenders the book's math at build time")
        if not katex_js.is_file():
            raise RuntimeError(f"bn_katex: {katex_js} is missing: run `make frontend` "
                               "(scripts/fetch_frontend.py) to fetch KaTeX from the npm registry")
        self.proc = subprocess.Popen([node, str(SCRIPT), str(katex_js)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, encoding="utf-8", bufsize=1)
        self.cache: dict[tuple[str, bool], tuple[str, str]] = {}

    def render(self, tex: str, display: bool) -> tuple[str, str]:
        """(html, error): KaTeX's HTML, or an empty string and the error message."""
        key = (tex, display)
        if key not in self.cache:
            self.proc.stdin.write(json.dumps({"tex": tex, "display": display}) + "\n")
            self.proc.stdin.flush()
            answer = json.loads(self.proc.stdout.readline() or '{"error": "the KaTeX process ended"}')
            self.cache[key] = (answer.get("html", ""), answer.get("error", ""))
        return self.cache[key]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


_server: KaTeX | None = None


def _katex() -> KaTeX:
    global _server
    if _server is None:
        _server = KaTeX(VENDOR / "katex.min.js")
        atexit.register(_close)
    return _server


def _close(*_args) -> None:
    global _server
    if _server is not None:
        _server.close()
        _server = None


def _render(tex: str, display: bool, node=None) -> str:
    out, error = _katex().render(tex, display)
    if error:
        logger.warning("KaTeX cannot render %r: %s", tex[:80], error, location=node, type="bn_katex")
        return f'<span class="katex-error" title="{html.escape(error)}">{html.escape(tex)}</span>'
    return out


def _display_tex(node) -> str:
    """The TeX of a display block as Sphinx's MathJax writer would pass it (parts, multi-line)."""
    text = node.astext()
    if node.get("nowrap"):
        return text
    parts = [p for p in text.split("\n\n") if p.strip()]
    parts = [r"\begin{aligned}" + p + r"\end{aligned}" if r"\\" in p else p for p in parts]
    return parts[0] if len(parts) == 1 else r"\begin{gathered}" + r"\\".join(parts) + r"\end{gathered}"


def _in_table_cell(node) -> bool:
    parent = node.parent
    while parent is not None:
        if isinstance(parent, nodes.entry):
            return True
        parent = parent.parent
    return False


def visit_math(self, node):
    self.body.append(self.starttag(node, "span", "", CLASS="math notranslate nohighlight"))
    tex = node.astext()
    if _in_table_cell(node):
        tex = r"\displaystyle " + tex     # fractions in a table cell at text size, not script size
    self.body.append(_render(tex, False, node) + "</span>")
    raise nodes.SkipNode


def visit_displaymath(self, node):
    self.body.append(self.starttag(node, "div", CLASS="math notranslate nohighlight"))
    if node["number"]:
        number = get_node_equation_number(self, node)
        self.body.append(f'<span class="eqno">({number})')
        self.add_permalink_ref(node, "Link to this equation")
        self.body.append("</span>")
    self.body.append(_render(_display_tex(node), True, node) + "</div>\n")
    raise nodes.SkipNode


def _tex_in_html(text: str, node) -> str:
    # MathJax reads the element's text, so the TeX in the HTML is entity-escaped: unescape it
    return _TEX_IN_HTML.sub(lambda m: _render(html.unescape(m.group(1) or m.group(2)),
                                              m.group(2) is not None, node), text)


def render_html_outputs(app, doctree, docname):
    """TeX in raw HTML outputs marked ``mathjax_process`` (the node tables, the scorecard)."""
    if app.builder.format != "html" or app.builder.math_renderer_name != "bn_katex":
        return
    for raw in doctree.findall(nodes.raw):
        if "html" in raw.get("format", "").split() and "mathjax_process" in raw.astext():
            new = _tex_in_html(raw.astext(), raw)
            raw.children = [nodes.Text(new)]


def add_stylesheet(app):
    if app.builder.format == "html" and getattr(app.builder, "math_renderer_name", "") == "bn_katex":
        app.add_css_file(CSS)


def only_where_math(app, pagename, templatename, context, doctree):
    """A page without math does not load KaTeX's stylesheet."""
    if "katex" in context.get("body", ""):
        return
    context["css_files"] = [c for c in context.get("css_files", [])
                            if getattr(c, "filename", str(c)) != CSS]


def setup(app):
    app.add_html_math_renderer("bn_katex", (visit_math, None), (visit_displaymath, None))
    app.connect("builder-inited", add_stylesheet)
    app.connect("doctree-resolved", render_html_outputs)
    app.connect("html-page-context", only_where_math)
    app.connect("build-finished", _close)
    # one node process per build: written pages are rendered in the main process
    return {"parallel_read_safe": True, "parallel_write_safe": False}
