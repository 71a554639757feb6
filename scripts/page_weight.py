"""What each page of the built book weighs in a browser: every byte it loads, uncompressed.

A page's weight is its HTML plus everything a reader's browser fetches to show it
(scripts, styles, fonts, images, search index, ...), as the browser's own resource
timing reports them (``decodedBodySize``, the bytes after any decompression), measured
in a fresh browser context (nothing cached) with lazy images made eager, so the number
is what a reader who scrolls to the end downloads. The budget is ``BUDGET`` bytes.

    python scripts/page_weight.py [BUILD_DIR]          # a table, heaviest page first

Importable: :func:`weigh` (one open Playwright page), :func:`weigh_site` (every page),
:func:`table`; ``tests/test_browser.py`` uses :data:`MEASURE_JS` on the pages it visits.
Needs Debian's chromium and the Python package playwright.
"""
from __future__ import annotations

import functools
import http.server
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build" / "html"
CHROMIUM = "/usr/bin/chromium"
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"]
BUDGET = 2_000_000
"""Most bytes one page may load (uncompressed), everything included."""
SKIP_DIRS = {"_static", "_sources", "_images", "_sphinx_design_static", ".doctrees"}
KINDS = ("html", "js", "css", "font", "image", "data")

# Lazy images are made eager and awaited, then every resource entry is read. A file
# loaded twice (two entries) is counted twice: the browser fetched it twice.
MEASURE_JS = """async () => {
  const imgs = [...document.images];
  imgs.forEach(i => { i.loading = "eager"; });
  await Promise.all(imgs.map(i => i.complete ? null : new Promise(r => {
      i.addEventListener("load", r); i.addEventListener("error", r); setTimeout(r, 5000); })));
  if (document.fonts && document.fonts.ready) { await document.fonts.ready; }
  const nav = performance.getEntriesByType("navigation")[0];
  const out = [{url: location.href, bytes: nav ? nav.decodedBodySize : document.documentElement.outerHTML.length,
                type: "navigation"}];
  for (const e of performance.getEntriesByType("resource")) {
    out.push({url: e.name, bytes: e.decodedBodySize, type: e.initiatorType});
  }
  return out;
}"""


def kind(url: str, initiator: str = "") -> str:
    """Which kind of file a URL is, from its extension (what the table groups by)."""
    path = url.split("?", 1)[0].split("#", 1)[0].lower()
    if initiator == "navigation" or path.endswith((".html", "/")):
        return "html"
    for k, exts in (("js", (".js", ".mjs")), ("css", (".css",)),
                    ("font", (".woff2", ".woff", ".ttf", ".otf", ".eot")),
                    ("image", (".png", ".svg", ".jpg", ".jpeg", ".gif", ".webp", ".ico"))):
        if path.endswith(exts):
            return k
    return "data"


def summarize(entries: list[dict]) -> dict:
    """Bytes by kind and in total, and the largest files, from :data:`MEASURE_JS`'s list."""
    by_kind = dict.fromkeys(KINDS, 0)
    for e in entries:
        by_kind[kind(e["url"], e["type"])] += int(e["bytes"] or 0)
    largest = sorted(entries, key=lambda e: -(e["bytes"] or 0))[:5]
    return {"total": sum(by_kind.values()), "by_kind": by_kind,
            "largest": [(e["url"].rsplit("/", 1)[-1].split("?")[0], int(e["bytes"] or 0)) for e in largest]}


def weigh(page) -> dict:
    """The weight of the page open in a Playwright ``page`` (call after it has loaded)."""
    return summarize(page.evaluate(MEASURE_JS))


def pages(build: Path = BUILD) -> list[str]:
    """Every HTML page of the build, relative to it (not the theme's own files)."""
    return sorted(p.relative_to(build).as_posix() for p in build.rglob("*.html")
                  if not SKIP_DIRS & set(p.relative_to(build).parts))


@contextmanager
def serve(directory: Path):
    """Serve ``directory`` on 127.0.0.1 from a thread; yields the base URL."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(Quiet, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def weigh_site(build: Path = BUILD, only: list[str] | None = None) -> dict:
    """{page: weight} for every page (or those in ``only``), each in a fresh browser context."""
    from playwright.sync_api import sync_playwright

    out = {}
    with serve(build) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS, timeout=120_000)
        try:
            for rel in only or pages(build):
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                # a built book needs no other host; refuse any request that tries
                context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(base)
                              or r.request.url.startswith("data:") else r.abort())
                page = context.new_page()
                page.goto(base + rel, wait_until="load")
                page.wait_for_load_state("networkidle")
                out[rel] = weigh(page)
                context.close()
        finally:
            browser.close()
    return out


def table(weights: dict, budget: int = BUDGET) -> str:
    """A markdown table, heaviest page first, in kB (1 kB = 1000 bytes)."""
    head = "| page | total kB | " + " | ".join(KINDS) + " | budget | largest files |"
    lines = [head, "|" + "---|" * (len(KINDS) + 4)]
    for rel, w in sorted(weights.items(), key=lambda kv: -kv[1]["total"]):
        cells = " | ".join(f"{w['by_kind'][k] / 1000:.0f}" for k in KINDS)
        big = ", ".join(f"{n} {b / 1000:.0f}" for n, b in w["largest"][:3])
        ok = "ok" if w["total"] <= budget else "OVER"
        lines.append(f"| {rel} | {w['total'] / 1000:.0f} | {cells} | {ok} | {big} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    build = Path(argv[0]) if argv else BUILD
    if not (build / "index.html").is_file():
        print(f"page_weight: no built book at {build} (run make book)")
        return 1
    if not Path(CHROMIUM).exists():
        print(f"page_weight: {CHROMIUM} is missing (apt-get install chromium)")
        return 1
    weights = weigh_site(build)
    print(table(weights))
    over = [p for p, w in weights.items() if w["total"] > BUDGET]
    print(f"\n{len(weights)} pages; heaviest {max(w['total'] for w in weights.values()) / 1e6:.2f} MB; "
          f"over the {BUDGET / 1e6:g} MB budget: {len(over)}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
