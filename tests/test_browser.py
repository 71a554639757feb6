"""The built book in a real browser (Debian's chromium driven by Playwright).

Run after ``make book`` (the Makefile runs ``pytest -m "browser or student" tests``).
The build in ``_build/html`` (or ``$BNLIB_BUILD_DIR``) is served on 127.0.0.1 from a
thread; every request for another host is aborted and recorded. Without
/usr/bin/chromium the tests skip, unless ``BNLIB_REQUIRE_BROWSER=1`` (set by .ci/run),
where a missing browser is a failure.
"""
from __future__ import annotations

import functools
import http.server
import os
import re
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
BUILD = Path(os.environ.get("BNLIB_BUILD_DIR", ROOT / "_build" / "html"))
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
SKIP_DIRS = {"_static", "_sources", "_images", "_sphinx_design_static", ".doctrees"}


def _unavailable(reason: str):
    if os.environ.get("BNLIB_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}, and BNLIB_REQUIRE_BROWSER=1 makes the browser tests mandatory "
                    "(install it: apt-get install chromium; pip install playwright)")
    pytest.skip(f"{reason}: browser tests skipped (install Debian's chromium to run them)")


def _pages() -> list[str]:
    return sorted(p.relative_to(BUILD).as_posix() for p in BUILD.rglob("*.html")
                  if not SKIP_DIRS & set(p.relative_to(BUILD).parts))


@pytest.fixture(scope="module")
def site():
    if not (BUILD / "index.html").is_file():
        pytest.fail(f"no built book at {BUILD}: run `make book` first")
    return BUILD


@pytest.fixture(scope="module")
def base_url(site):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        _unavailable(f"{CHROMIUM} is missing")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the Python package playwright is not installed")
    with sync_playwright() as p:
        # generous timeouts: a first start (font caches) on a busy 2-core machine can be slow
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, timeout=120_000)
        yield b
        b.close()


class Visit:
    """One page opened in a fresh context, with everything that went wrong recorded."""

    def __init__(self, browser, url):
        self.console, self.failed, self.foreign = [], [], []
        self.context = browser.new_context(viewport={"width": 1200, "height": 900})
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.set_default_timeout(60_000)
        self.page.on("console", lambda m: self.console.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.console.append(f"uncaught: {e}"))
        self.page.on("requestfailed", lambda r: self.failed.append(f"{r.url} ({r.failure})")
                     if urlparse(r.url).hostname in LOCAL_HOSTS else None)
        self.page.on("response", lambda r: self.failed.append(f"{r.url} (HTTP {r.status})")
                     if r.status >= 400 else None)
        self.page.goto(url, wait_until="load")
        self.page.wait_for_load_state("networkidle")

    def _route(self, route):
        u = urlparse(route.request.url)
        if u.scheme in ("http", "https", "ws", "wss") and u.hostname not in LOCAL_HOSTS:
            self.foreign.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    def close(self):
        self.context.close()


# JavaScript run in each page: what it holds and whether it rendered.
_IMAGES = """async () => {
  const imgs = [...document.images];
  imgs.forEach(i => { i.loading = "eager"; });
  await Promise.all(imgs.map(i => i.complete ? null : new Promise(r => {
      i.addEventListener("load", r); i.addEventListener("error", r); setTimeout(r, 5000); })));
  return imgs.map(i => ({src: i.currentSrc || i.src, alt: (i.getAttribute("alt") || "").trim(),
                         path: i.getAttribute("src") || "", ok: i.complete && i.naturalWidth > 0}));
}"""
# top-level inline SVGs in the content; icons inside buttons take their name from the button
_SVGS = """() => [...document.querySelectorAll("main svg, article svg")]
  .filter(s => !s.parentElement.closest("svg, button") && s.getAttribute("aria-hidden") !== "true")
  .map(s => ({label: (s.getAttribute("aria-label") || "").trim(),
              labelledby: s.getAttribute("aria-labelledby") || "",
              html: s.outerHTML.slice(0, 120)}))"""
_MATH = """async () => {
  const n = document.querySelectorAll(".math").length;
  if (!n) { return {math: 0}; }
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  const root = (document.querySelector("main") || document.body).cloneNode(true);
  root.querySelectorAll("pre, code, script, style, .bn-player, textarea").forEach(e => e.remove());
  const text = root.textContent;
  return {math: n, rendered: document.querySelectorAll("mjx-container").length,
          unrendered: [...document.querySelectorAll(".math")].filter(e => !e.querySelector("mjx-container")).length,
          raw: ["$$", "\\\\("].filter(t => text.includes(t))};
}"""


@pytest.fixture(scope="module")
def visits(site, base_url, browser):
    """Every page, opened once; what each needed, loaded and showed."""
    out = {}
    for rel in _pages():
        v = Visit(browser, base_url + rel)
        try:
            out[rel] = {"console": v.console, "failed": v.failed, "foreign": v.foreign,
                        "images": v.page.evaluate(_IMAGES), "svgs": v.page.evaluate(_SVGS),
                        "math": v.page.evaluate(_MATH),
                        "players": v.page.locator(".bn-player").count()}
        finally:
            v.close()
    assert out, f"no HTML pages under {site}"
    return out


def _problems(visits, key):
    return {page: rec[key] for page, rec in visits.items() if rec[key]}


def test_every_page_loads_without_console_errors(visits):
    bad = _problems(visits, "console")
    assert not bad, f"console errors: {bad}"


def test_no_request_fails(visits):
    bad = _problems(visits, "failed")
    assert not bad, f"failed requests: {bad}"


def test_no_request_leaves_localhost(visits):
    bad = _problems(visits, "foreign")
    assert not bad, f"requests to other hosts (aborted): {bad}"


def test_no_page_refers_to_scripts_styles_or_a_widget_manager_elsewhere(site):
    """The HTML itself: no <script src> or stylesheet from another host, no ipywidgets manager."""
    remote = re.compile(r'<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)="(?:https?:)?//[^"]*"', re.I)
    bad = {}
    for rel in _pages():
        html = (site / rel).read_text(encoding="utf-8", errors="replace")
        found = [m.group(0)[:120] for m in remote.finditer(html)
                 if not re.match(r"<link\b[^>]*rel=\"(?:canonical|alternate)\"", m.group(0))]
        found += [w for w in ("@jupyter-widgets/html-manager", "embed-amd.js", "require.min.js")
                  if w in html]
        if found:
            bad[rel] = found
    assert not bad, f"pages that would fetch from another host or load a widget manager: {bad}"


def _alt_problem(img) -> str:
    alt = img["alt"]
    if not alt:
        return "no alt"
    # Sphinx fills a missing alt with the file's path: that is not a text alternative
    if alt == img["path"] or re.search(r"\.(png|svg|jpe?g|gif|webp)$", alt, re.I):
        return f"alt is only the file name {alt[:40]!r}"
    return ""


def test_every_image_loads_and_has_alt_text(visits):
    bad = {page: [i["src"][:100] + ("" if i["ok"] else " (not loaded)") + (f" ({_alt_problem(i)})"
                                                                           if _alt_problem(i) else "")
                  for i in rec["images"] if not i["ok"] or _alt_problem(i)]
           for page, rec in visits.items()}
    bad = {k: v for k, v in bad.items() if v}
    assert not bad, (f"images that did not load or lack alt text: {bad}. For a plain cell output set the "
                     'cell metadata {"mystnb": {"image": {"alt": "..."}}}, or glue the figure and use '
                     "{glue:figure} with :alt:")


def test_every_inline_diagram_has_a_text_alternative(visits):
    bad = {page: [s["html"] for s in rec["svgs"] if not (s["label"] or s["labelledby"])]
           for page, rec in visits.items()}
    bad = {k: v for k, v in bad.items() if v}
    assert not bad, f"inline SVGs without aria-label: {bad}"


def test_math_is_rendered_by_mathjax(visits):
    with_math = {p: r["math"] for p, r in visits.items() if r["math"]["math"]}
    bad = {p: m for p, m in with_math.items() if not m["rendered"] or m["unrendered"] or m["raw"]}
    assert not bad, f"pages with unrendered math: {bad}"


def test_every_player_advances_on_step_and_on_play(visits, base_url, browser):
    pages = [p for p, r in visits.items() if r["players"]]
    if not pages:
        pytest.skip("no page in this build holds a .bn-player")
    problems = []
    for rel in pages:
        v = Visit(browser, base_url + rel)
        try:
            players = v.page.locator(".bn-player")
            frames = [players.nth(k).get_attribute("data-frame") for k in range(players.count())]
            for k in range(players.count()):
                pl = players.nth(k)
                pl.scroll_into_view_if_needed()
                before = pl.get_attribute("data-frame")
                pl.locator(".bn-step").click(timeout=5_000)
                after = pl.get_attribute("data-frame")
                if after == before:
                    problems.append(f"{rel} player {k}: .bn-step left data-frame at {before}")
                others = [players.nth(j).get_attribute("data-frame") for j in range(players.count()) if j != k]
                if others != [f for j, f in enumerate(frames) if j != k]:
                    problems.append(f"{rel} player {k}: stepping it moved another player")
                frames[k] = after
                pl.locator(".bn-play").click(timeout=5_000)
                try:
                    v.page.wait_for_function("([el, f]) => el.getAttribute('data-frame') !== f",
                                             arg=[pl.element_handle(), after], timeout=10_000)
                    pl.locator(".bn-pause").click(timeout=5_000)
                except Exception as e:                          # noqa: BLE001 (reported below)
                    problems.append(f"{rel} player {k}: .bn-play did not advance, or .bn-pause did "
                                    f"not stop it, within 10 s ({type(e).__name__})")
                frames[k] = pl.get_attribute("data-frame")
            if v.console:
                problems.append(f"{rel}: console errors while playing: {v.console}")
        finally:
            v.close()
    assert not problems, "\n".join(problems)
