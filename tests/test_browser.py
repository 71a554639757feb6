"""The built book in a real browser (Debian's chromium driven by Playwright), read as a reader would.

Run after ``make book`` (the Makefile runs ``pytest -m "browser or student" tests``).
The build in ``_build/html`` (or ``$BNLIB_BUILD_DIR``) is served on 127.0.0.1 from a
thread; every request for another host is aborted and recorded. Without
/usr/bin/chromium the tests skip, unless ``BNLIB_REQUIRE_BROWSER=1`` (set by .ci/run),
where a missing browser is a failure.

Each page is opened once per viewport and everything is read in that visit: at 1280 px
(light) console errors, requests, images, diagrams, math, page weight, spoilers and
axe-core; at 390 px overflow; at 1280 px switched to dark with the theme's own button,
console errors, white boxes and axe-core again. The tests below only judge the records.
"""
from __future__ import annotations

import importlib
import os
import re
import sys
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
page_weight = importlib.import_module("page_weight")

BUILD = Path(os.environ.get("BNLIB_BUILD_DIR", ROOT / "_build" / "html"))
CHROMIUM = page_weight.CHROMIUM
ARGS = page_weight.BROWSER_ARGS
AXE = ROOT / "_static" / "vendor" / "axe-core" / "axe.min.js"
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
DESKTOP, PHONE = {"width": 1280, "height": 900}, {"width": 390, "height": 844}


def _unavailable(reason: str):
    if os.environ.get("BNLIB_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}, and BNLIB_REQUIRE_BROWSER=1 makes the browser tests mandatory "
                    "(install it: apt-get install chromium; pip install playwright)")
    pytest.skip(f"{reason}: browser tests skipped (install Debian's chromium to run them)")


@pytest.fixture(scope="module")
def site():
    if not (BUILD / "index.html").is_file():
        pytest.fail(f"no built book at {BUILD}: run `make book` first")
    return BUILD


@pytest.fixture(scope="module")
def base_url(site):
    with page_weight.serve(site) as url:
        yield url


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


@pytest.fixture(scope="module")
def axe_source():
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: run `make frontend` (scripts/fetch_frontend.py fetches axe-core "
                    "from the npm registry)")
    return AXE.read_text(encoding="utf-8")


class Visit:
    """One page opened in a fresh context, with everything that went wrong recorded."""

    def __init__(self, browser, url, viewport=DESKTOP, mode="light"):
        self.console, self.failed, self.foreign = [], [], []
        self.context = browser.new_context(viewport=viewport)
        # the theme reads the mode from localStorage before it paints
        self.context.add_init_script(f'localStorage.setItem("mode", "{mode}"); '
                                     f'localStorage.setItem("theme", "{mode}");')
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

    def axe(self, source: str) -> list[str]:
        """Critical and serious axe-core violations, one line each (rule, count, first targets)."""
        self.page.add_script_tag(content=source)
        found = self.page.evaluate(_AXE)
        return [f"{v['impact']} {v['id']} x{v['n']}: {v['help']} [{'; '.join(v['targets'])}]" for v in found]

    def close(self):
        self.context.close()


# --- JavaScript run in the pages ------------------------------------------------------------

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
  .filter(s => !s.parentElement.closest("svg, button") && s.getAttribute("aria-hidden") !== "true"
               && !s.closest(".katex"))
  .map(s => ({label: (s.getAttribute("aria-label") || "").trim(),
              labelledby: s.getAttribute("aria-labelledby") || "",
              html: s.outerHTML.slice(0, 120)}))"""
# math is prerendered by KaTeX at build time: every .math holds KaTeX's HTML, none is an error
_MATH = """() => {
  const all = [...document.querySelectorAll(".math")];
  const root = (document.querySelector("main") || document.body).cloneNode(true);
  root.querySelectorAll("pre, code, script, style, .bn-player, .bn-explorable, textarea, .katex")
      .forEach(e => e.remove());
  const text = root.textContent;
  return {math: all.length, rendered: document.querySelectorAll(".math .katex").length,
          unrendered: all.filter(e => !e.querySelector(".katex")).map(e => e.textContent.slice(0, 60)),
          errors: [...document.querySelectorAll(".katex-error")].map(e => e.textContent.slice(0, 60)),
          raw: ["$$", "\\\\(", "\\\\["].filter(t => text.includes(t))};
}"""
# Spoilers: for each exercise, the cells after it and before the end of its solution (the
# solution's own dropdown is collapsed) may show no output and no code holding an assert.
_SPOILERS = """() => {
  const visible = e => e.checkVisibility({checkOpacity: true, checkVisibilityCSS: true});
  const after = (a, b) => !!(a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING);
  const exercises = [...document.querySelectorAll("div.exercise")];
  const solutions = [...document.querySelectorAll("div.solution")];
  const cells = [...document.querySelectorAll("div.cell")];
  const out = [];
  exercises.forEach((ex, k) => {
    const name = (ex.querySelector(".caption-number") || ex).textContent.trim().slice(0, 40);
    const next = exercises[k + 1] || null;
    const sol = solutions.find(s => s.querySelector(`.admonition-title a[href="#${CSS.escape(ex.id)}"]`));
    if (!sol) { out.push(`${name}: no solution found (a dropdown titled "Solution to ${name}")`); return; }
    if (next && after(next, sol)) { out.push(`${name}: its solution comes after the next exercise`); }
    if (sol.querySelector("section") && visible(sol.querySelector("section"))) {
      out.push(`${name}: the solution is open when the page loads`);
    }
    for (const c of cells) {
      if (!after(ex, c) || !after(c, sol) || ex.contains(c) || sol.contains(c)) continue;
      for (const o of c.querySelectorAll(".cell_output > *")) {
        const shown = visible(o) && (o.textContent.trim() || o.querySelector("img, svg, table"));
        if (shown) { out.push(`${name}: a visible output before the end of its solution: ` +
                              JSON.stringify(o.textContent.trim().slice(0, 70))); break; }
      }
      const code = c.querySelector(".cell_input");
      if (code && visible(code) && /\\bassert\\b/.test(code.textContent)) {
        out.push(`${name}: visible code with an assert before the end of its solution: ` +
                 JSON.stringify(code.textContent.trim().slice(0, 70)));
      }
    }
  });
  return {exercises: exercises.length, problems: out};
}"""
# Overflow: an element that sticks out of the article, with no scrolling box of its own between.
_OVERFLOW = """() => {
  // the article (main on a page without one); the theme's off-canvas drawers are outside it
  const article = document.querySelector("article.bd-article") || document.querySelector("main");
  const box = article.getBoundingClientRect();
  const holds = el => /(auto|scroll|hidden|clip)/.test(getComputedStyle(el).overflowX);
  const bad = [];
  for (const el of article.querySelectorAll("*")) {
    if (el.closest("svg") !== null && el.tagName.toLowerCase() !== "svg") continue;   // an SVG clips its own parts
    const r = el.getBoundingClientRect();
    if (r.width < 2 || r.height < 2) continue;                                         // visually hidden text
    if (r.right <= box.right + 1 && r.left >= box.left - 1) continue;
    let a = el.parentElement, held = false;
    while (a && a !== article) { if (holds(a)) { held = true; break; } a = a.parentElement; }
    if (held) continue;
    const p = el.parentElement.getBoundingClientRect();
    if (el.parentElement !== article && (p.right > box.right + 1 || p.left < box.left - 1)) continue;
    bad.push(`<${el.tagName.toLowerCase()} class="${el.className.baseVal ?? el.className}"> spans ` +
             `${Math.round(r.left)}..${Math.round(r.right)} px, the article ${Math.round(box.left)}..${Math.round(box.right)}`);
  }
  const d = document.documentElement;
  return {page: d.scrollWidth > d.clientWidth + 1 ? `the page scrolls sideways: ${d.scrollWidth} px wide in a ${d.clientWidth} px window` : "",
          elements: bad.slice(0, 8), count: bad.length};
}"""
# White boxes in dark mode: a light background of some size inside the content. A figure (an
# <img>: matplotlib draws on white) sits on the theme's light card on purpose and is not counted.
_WHITE = """() => {
  const out = [];
  for (const el of document.querySelectorAll("article.bd-article *")) {
    if (el.closest("svg") && el.tagName.toLowerCase() !== "svg") continue;
    if (el.tagName === "IMG") continue;
    const m = getComputedStyle(el).backgroundColor.match(/rgba?\\(([\\d.]+), ([\\d.]+), ([\\d.]+)(?:, ([\\d.]+))?/);
    if (!m || (m[4] !== undefined && +m[4] < 0.5)) continue;
    const lum = (0.2126 * m[1] + 0.7152 * m[2] + 0.0722 * m[3]) / 255;
    const r = el.getBoundingClientRect();
    if (lum > 0.75 && r.width * r.height > 120 * 40 && el.checkVisibility()) {
      out.push(`<${el.tagName.toLowerCase()} class="${String(el.className.baseVal ?? el.className).slice(0, 60)}"> ` +
               `${Math.round(r.width)}x${Math.round(r.height)} px, background ${m[0]}`);
    }
  }
  return out.slice(0, 8);
}"""
# How small the text of a diagram, a player's charts and a figure renders here: SVG text at
# font-size x (drawn width / viewBox width); a PNG that declares its CSS width (bnlib.viz) is
# never drawn narrower than that (on a phone it scrolls in its box instead).
_TEXT_SIZES = """() => {
  const svgs = [...document.querySelectorAll("article .bn-diagram svg, article .bn-player svg, article .bn-view svg")];
  const small = [];
  for (const svg of svgs) {
    const vb = svg.viewBox && svg.viewBox.baseVal, w = svg.getBoundingClientRect().width;
    if (!vb || !vb.width || !w) continue;
    const sizes = [...svg.querySelectorAll("text")].map(t => parseFloat(t.getAttribute("font-size") ||
                                                          getComputedStyle(t).fontSize)).filter(x => x > 0);
    if (!sizes.length) continue;
    const px = Math.min(...sizes) * w / vb.width;
    if (px < 9) small.push(`${(svg.getAttribute("aria-label") || "svg").slice(0, 50)}: ${px.toFixed(1)} px`);
  }
  const shrunk = [...document.querySelectorAll("article .cell_output img")]
    .filter(i => i.style.width && i.getBoundingClientRect().width < parseFloat(i.style.width) - 1
                 && window.innerWidth <= 700)
    .map(i => `${(i.alt || i.src).slice(0, 50)}: ${Math.round(i.getBoundingClientRect().width)} of ${i.style.width}`);
  return {svg: [...new Set(small)].slice(0, 6), shrunk: shrunk.slice(0, 6)};
}"""
_AXE = """async () => {
  const r = await axe.run(document, {resultTypes: ["violations"]});
  return r.violations.filter(v => v.impact === "critical" || v.impact === "serious")
    .map(v => ({id: v.id, impact: v.impact, help: v.help, n: v.nodes.length,
                targets: v.nodes.slice(0, 3).map(n => n.target.join(" "))}));
}"""


def _toggle_to_dark(page) -> str:
    """Click the theme's own switch until the page is dark; the mode it reached."""
    for _ in range(3):
        if page.evaluate("document.documentElement.dataset.theme") == "dark":
            break
        page.locator(".theme-switch-button").first.click()
        page.wait_for_timeout(200)
    return page.evaluate("document.documentElement.dataset.theme")


@pytest.fixture(scope="module")
def visits(site, base_url, browser, axe_source):
    """Every page, opened once per viewport and theme; what each needed, loaded and showed."""
    out = {}
    for rel in page_weight.pages(site):
        rec = out[rel] = {}
        v = Visit(browser, base_url + rel)
        try:
            rec.update(console=list(v.console), failed=v.failed, foreign=v.foreign,
                       images=v.page.evaluate(_IMAGES), svgs=v.page.evaluate(_SVGS),
                       math=v.page.evaluate(_MATH), weight=page_weight.weigh(v.page),
                       spoilers=v.page.evaluate(_SPOILERS), overflow_desktop=v.page.evaluate(_OVERFLOW),
                       players=v.page.locator(".bn-player").count(), axe=v.axe(axe_source),
                       text_desktop=v.page.evaluate(_TEXT_SIZES))
        finally:
            v.close()
        v = Visit(browser, base_url + rel, viewport=PHONE)
        try:
            rec.update(overflow_phone=v.page.evaluate(_OVERFLOW), console_phone=list(v.console),
                       text_phone=v.page.evaluate(_TEXT_SIZES))
        finally:
            v.close()
        v = Visit(browser, base_url + rel)        # light first, then the reader switches to dark
        try:
            before = len(v.console)
            theme = _toggle_to_dark(v.page)
            v.page.wait_for_timeout(300)
            rec.update(dark_theme=theme, console_dark=v.console[before:], white=v.page.evaluate(_WHITE),
                       axe_dark=v.axe(axe_source))
        finally:
            v.close()
    assert out, f"no HTML pages under {site}"
    return out


def _problems(visits, key):
    return {page: rec[key] for page, rec in visits.items() if rec[key]}


# --- loading ---------------------------------------------------------------------------------

def test_every_page_loads_without_console_errors(visits):
    bad = {p: r["console"] + r["console_phone"] for p, r in visits.items() if r["console"] or r["console_phone"]}
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
    for rel in page_weight.pages(site):
        html = (site / rel).read_text(encoding="utf-8", errors="replace")
        found = [m.group(0)[:120] for m in remote.finditer(html)
                 if not re.match(r"<link\b[^>]*rel=\"(?:canonical|alternate)\"", m.group(0))]
        found += [w for w in ("@jupyter-widgets/html-manager", "embed-amd.js", "require.min.js")
                  if w in html]
        if found:
            bad[rel] = found
    assert not bad, f"pages that would fetch from another host or load a widget manager: {bad}"


def test_every_page_is_at_most_2_mb(visits):
    """Everything a page loads (HTML, scripts, styles, fonts, images), uncompressed."""
    weights = {p: r["weight"] for p, r in visits.items()}
    over = {p: w for p, w in weights.items() if w["total"] > page_weight.BUDGET}
    assert not over, (f"pages over {page_weight.BUDGET / 1e6:g} MB:\n" + page_weight.table(over))


# --- what a page shows -------------------------------------------------------------------------

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


def test_math_is_rendered(visits):
    with_math = {p: r["math"] for p, r in visits.items() if r["math"]["math"]}
    assert with_math, "no page holds any math: the KaTeX step or the test is broken"
    bad = {p: m for p, m in with_math.items() if m["unrendered"] or m["errors"] or m["raw"]}
    assert not bad, f"pages with unrendered math, KaTeX errors or raw TeX in the text: {bad}"


def test_no_exercise_shows_its_answer_before_the_end_of_its_solution(visits):
    """Between an exercise and the end of its solution: no visible output, no visible assert."""
    assert sum(r["spoilers"]["exercises"] for r in visits.values()) > 0, "no exercise found in the book"
    bad = {p: r["spoilers"]["problems"] for p, r in visits.items() if r["spoilers"]["problems"]}
    assert not bad, ("answers visible before the end of their solution (put the check inside the "
                     "solution as an `answer-check` cell, or tag the run cell `hide-output`; see "
                     "CONTRIBUTING.md):\n" + "\n".join(f"{p}: {x}" for p, xs in bad.items() for x in xs))


def test_nothing_sticks_out_of_the_page_on_a_phone_or_a_laptop(visits):
    bad = {}
    for p, r in visits.items():
        phone, desk = r["overflow_phone"], r["overflow_desktop"]
        found = [f"390 px: {phone['page']}"] if phone["page"] else []
        found += [f"390 px: {e}" for e in phone["elements"]]
        found += [f"1280 px: {desk['page']}"] if desk["page"] else []
        if found:
            bad[p] = found
    assert not bad, ("elements wider than the column outside a scrolling box of their own:\n"
                     + "\n".join(f"{p}: {x}" for p, xs in bad.items() for x in xs))


def test_text_of_diagrams_players_and_figures_renders_at_9_px_or_more(visits):
    bad = {}
    for p, r in visits.items():
        found = [f"1280 px: {x}" for x in r["text_desktop"]["svg"]] + [f"390 px: {x}" for x in r["text_phone"]["svg"]]
        found += [f"390 px, figure shrunk: {x}" for x in r["text_phone"]["shrunk"]]
        if found:
            bad[p] = found
    assert not bad, "text too small to read:\n" + "\n".join(f"{p}: {x}" for p, xs in bad.items() for x in xs)


def test_axe_finds_no_critical_or_serious_violation(visits):
    bad = {p: [f"light: {x}" for x in r["axe"]] + [f"dark: {x}" for x in r["axe_dark"]]
           for p, r in visits.items() if r["axe"] or r["axe_dark"]}
    assert not bad, "axe-core violations:\n" + "\n".join(f"{p}: {x}" for p, xs in bad.items() for x in xs)


def test_dark_mode_has_no_console_errors_and_no_white_boxes(visits):
    not_dark = [p for p, r in visits.items() if r["dark_theme"] != "dark"]
    assert not not_dark, f"the theme switch did not reach dark mode on {not_dark}"
    errors = _problems(visits, "console_dark")
    assert not errors, f"console errors after switching to dark: {errors}"
    white = _problems(visits, "white")
    assert not white, f"light boxes left in dark mode: {white}"


def test_search_works_offline(base_url, browser):
    """The search page finds a chapter from the site's own index (nothing fetched elsewhere)."""
    v = Visit(browser, base_url + "search.html?q=variance")
    try:
        v.page.wait_for_selector("#search-results li", timeout=30_000)
        hits = v.page.locator("#search-results li").count()
        assert hits > 0 and not v.foreign and not v.console, (hits, v.foreign, v.console)
    finally:
        v.close()


# --- players ---------------------------------------------------------------------------------------

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


_PLAYER_WALK = """(root) => {
  const n = +root.dataset.frames, heights = new Set(), out = {ends: [], live: 0, announced: []};
  const back = root.querySelector(".bn-back"), step = root.querySelector(".bn-step");
  const live = root.querySelector(".bn-live");
  out.live = root.querySelectorAll("[aria-live]").length;
  root.focus();
  root.dispatchEvent(new KeyboardEvent("keydown", {key: "Home", bubbles: true}));
  out.ends.push(["first", back.disabled, step.disabled]);
  for (let i = 0; i < n; i++) {
    heights.add(Math.round(root.getBoundingClientRect().height));
    if (i < n - 1) { step.click(); out.announced.push(live ? live.textContent : ""); }
  }
  out.ends.push(["last", back.disabled, step.disabled]);
  out.heights = [...heights];
  const r = root.getBoundingClientRect(), ctl = root.querySelector(".bn-controls").getBoundingClientRect();
  out.tall = Math.round(r.height); out.controlsTop = Math.round(ctl.top - r.top);
  return out;
}"""


def test_players_hold_still_disable_their_ends_fit_a_screen_and_announce_once(visits, base_url, browser):
    pages = [p for p, r in visits.items() if r["players"]]
    if not pages:
        pytest.skip("no page in this build holds a .bn-player")
    problems = []
    for rel in pages:
        v = Visit(browser, base_url + rel)
        try:
            players = v.page.locator(".bn-player")
            for k in range(players.count()):
                r = players.nth(k).evaluate(_PLAYER_WALK)
                where = f"{rel} player {k}"
                if r["ends"] != [["first", True, False], ["last", False, True]]:
                    problems.append(f"{where}: back/step disabled at the ends should be (first: back), "
                                    f"(last: step); got {r['ends']}")
                if len(r["heights"]) != 1:
                    problems.append(f"{where}: its height changes between frames: {sorted(r['heights'])} px")
                if r["live"] != 1:
                    problems.append(f"{where}: {r['live']} live regions (one per player announces each frame once)")
                if not all(r["announced"]) or len(set(r["announced"])) != len(r["announced"]):
                    problems.append(f"{where}: frame changes were not each announced once")
                if r["controlsTop"] + 120 > DESKTOP["height"] or r["tall"] > DESKTOP["height"]:
                    problems.append(f"{where}: {r['tall']} px tall; controls and picture should fit one "
                                    f"{DESKTOP['height']} px screen")
        finally:
            v.close()
    assert not problems, "\n".join(problems)


# --- the explorable ------------------------------------------------------------------------------------

def _explorable_page(browser):
    """A page holding exactly the HTML that a chapter's explorable cell puts in the book."""
    from bnlib.widgets.explorable import explorable

    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_content(f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>explorable</title>'
                     f'</head><body><main>{explorable().to_html()}</main></body></html>')
    return context, page, errors


def _rel_err(got, ref) -> float:
    got, ref = np.asarray(got, float), np.asarray(ref, float)
    assert got.shape == ref.shape, (got.shape, ref.shape)
    return float(np.max(np.abs(got - ref)) / max(float(np.max(np.abs(ref))), 1e-300))


def test_explorable_script_matches_bnlib_graph_on_random_batches(browser):
    """The page's arithmetic against bnlib.graph.forward / backward_trace, to 1e-12 of each array's size."""
    from bnlib import graph
    from bnlib.widgets.explorable import spec

    context, page, errors = _explorable_page(browser)
    try:
        rng = np.random.default_rng(20150211)
        worst = 0.0
        for trial in range(60):
            n = int(rng.integers(2, 17))
            x = rng.normal(rng.normal(0, 5), rng.uniform(0.1, 10), n)
            dy, gamma, beta = rng.normal(size=n), float(rng.normal(0, 2)), float(rng.normal(0, 2))
            eps = float(rng.choice([0.0, 1e-5, 0.5]))
            got = page.evaluate("([s, i]) => bnExplorable.compute(s, i)",
                                [spec(), {"x": x.tolist(), "dy": dy.tolist(), "gamma": gamma, "beta": beta,
                                          "eps": eps}])
            _, cache = graph.forward(x, gamma, beta, eps)
            trace = graph.backward_trace(dy, cache)
            assert set(got["values"]) == set(cache), (set(got["values"]), set(cache))
            assert set(got["grads"]) == set(trace.grads), (set(got["grads"]), set(trace.grads))
            for k in cache:
                worst = max(worst, _rel_err(got["values"][k], cache[k]))
            for k in trace.grads:
                worst = max(worst, _rel_err(got["grads"][k], trace.grads[k]))
        assert worst <= 1e-12, f"largest relative difference {worst:.2e}"
        assert not errors, errors
    finally:
        context.close()


def test_explorable_updates_by_keyboard_and_explains_bad_input(browser):
    context, page, errors = _explorable_page(browser)
    try:
        root = page.locator(".bn-explorable")
        result = root.locator('.bn-x-result[data-of="gamma"]')
        assert result.text_content() == "8"            # the pencil walk: dγ = Σ dy·x̂ = 8
        first = root.locator('input[data-name="dy"][data-index="0"]')
        first.focus()
        page.keyboard.press("Control+A")
        page.keyboard.type("2")                        # dy₁ = 2 with x̂₁ = -1.5 adds -3 to dγ
        assert result.text_content() == "5"
        assert root.locator('.bn-x-result[data-of="beta"]').text_content() == "10"
        for i in range(8):                             # a constant batch with ε = 0: no x̂
            root.locator(f'input[data-name="x"][data-index="{i}"]').fill("3")
        error = root.locator(".bn-x-error")
        assert error.is_visible() and "divide by zero" in error.text_content(), error.text_content()
        root.locator('input[data-name="eps"]').fill("0.1")
        assert not error.is_visible()
        remove = root.locator(".bn-x-remove")
        for _ in range(6):
            remove.click()
        assert remove.is_disabled() and root.locator('input[data-name="x"]').count() == 2
        root.locator(".bn-x-reset").click()
        assert result.text_content() == "8" and root.locator('input[data-name="x"]').count() == 8
        labels = root.locator("input").evaluate_all(
            "els => els.filter(e => !(e.getAttribute('aria-label') || e.closest('label'))).length")
        assert labels == 0, "every input has a label"
        assert not errors, errors
    finally:
        context.close()


def test_explorable_table_reads_without_javascript(browser):
    from bnlib.widgets.explorable import explorable

    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.set_content(f"<!doctype html><html lang='en'><body>{explorable().to_html()}</body></html>")
        assert not page.locator(".bn-x-controls").is_visible()          # inputs need the script
        row = page.locator('tr[data-node="x_hat"]')
        assert row.locator(".bn-x-value").text_content() == "[-1.5, -0.5, -0.5, -0.5, 0, 0, 1, 2]"
        assert page.locator('.bn-x-result[data-of="x"]').text_content() == "[0.5, -0.5, -0.5, -0.5, 0, 1, 0, 0]"
    finally:
        context.close()


def test_explorables_in_the_book_run(visits, base_url, browser):
    pages = [p for p in visits if "bn-explorable" in (BUILD / p).read_text(encoding="utf-8", errors="replace")]
    if not pages:
        pytest.skip("no chapter holds the explorable yet (the lead places it in chapter 3)")
    for rel in pages:
        v = Visit(browser, base_url + rel)
        try:
            ex = v.page.locator(".bn-explorable").first
            ex.scroll_into_view_if_needed()
            assert ex.locator(".bn-x-controls").is_visible(), f"{rel}: the explorable's script did not run"
            ex.locator('input[data-name="gamma"]').fill("3")
            assert ex.locator('tr[data-node="y"] .bn-x-value').text_content().startswith("[-3.5"), rel
            assert not v.console, v.console
        finally:
            v.close()
