"""Fetch the front-end files the book's build and tests use (no CDN at view time).

KaTeX prerenders the math at build time (its CSS and fonts are served by the site);
axe-core is injected by the browser tests only (the site never serves it).

Each package comes from the npm registry as a tarball, is checked against the
registry's sha512 integrity value, and only the files the site needs are
unpacked into ``_static/vendor/`` (git-ignored, so no third-party bundle is
committed). Running it again with the files present does nothing.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import sys
import tarfile
import urllib.request
from pathlib import Path

REGISTRY = "https://registry.npmjs.org"
ROOT = Path(__file__).resolve().parents[1]
VENDOR = ROOT / "_static" / "vendor"

# package, version, {path inside the tarball (prefix): destination under _static/vendor}
PACKAGES = [
    # math: prerendered at build time by node (_ext/bn_katex.py); the pages get only the CSS and fonts
    ("katex", "0.19.1", {"package/dist/katex.min.js": "katex/katex.min.js",
                         "package/dist/katex.min.css": "katex/katex.min.css",
                         "package/dist/fonts/": "katex/fonts/",
                         "package/LICENSE": "katex/LICENSE"}),
    # accessibility checks injected by tests/test_browser.py (never part of a page)
    ("axe-core", "4.14.1", {"package/axe.min.js": "axe-core/axe.min.js",
                            "package/LICENSE": "axe-core/LICENSE"}),
]


def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as r:
        return r.read()


def install(name: str, version: str, wanted: dict) -> None:
    marker = VENDOR / f".{name}-{version}"
    if marker.exists():
        return
    meta = json.loads(_fetch(f"{REGISTRY}/{name}/{version}"))
    blob = _fetch(meta["dist"]["tarball"])
    algo, expected = meta["dist"]["integrity"].split("-", 1)
    got = base64.b64encode(hashlib.new(algo, blob).digest()).decode()
    if got != expected:
        sys.exit(f"fetch_frontend: {name}@{version} failed its {algo} integrity check; not installed")
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        for member in tar.getmembers():
            for src, dst in wanted.items():
                if member.isfile() and (member.name == src or
                                        (src.endswith("/") and member.name.startswith(src))):
                    target = VENDOR / (dst + member.name[len(src):] if src.endswith("/") else dst)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with tar.extractfile(member) as f, open(target, "wb") as out:
                        shutil.copyfileobj(f, out)
    marker.touch()
    print(f"fetch_frontend: installed {name}@{version} into {VENDOR.relative_to(ROOT)}")


def main() -> None:
    VENDOR.mkdir(parents=True, exist_ok=True)
    for name, version, wanted in PACKAGES:
        install(name, version, wanted)


if __name__ == "__main__":
    main()
