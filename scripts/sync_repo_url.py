"""Write the repository URL from _config.yml into every notebook's Colab cell.

The URL lives in one place (``repository.url`` in ``_config.yml``). Run this
after changing it; ``tests/test_repo.py`` fails while a notebook disagrees.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PATTERN = re.compile(r'git\+https?://[^"\s]+')


def repository_url() -> str:
    text = (ROOT / "_config.yml").read_text()
    m = re.search(r"^repository:\s*\n\s+url:\s*(\S+)", text, re.M)
    if not m:
        raise SystemExit("_config.yml has no repository.url")
    return m.group(1)


def bootstrap_source(url: str) -> str:
    return ("# Make bnlib importable on Colab; does nothing where it is installed.\n"
            "try:\n"
            "    import bnlib\n"
            "except ImportError:\n"
            f'    %pip install -q "bnlib[book] @ git+{url}"\n'
            "    import bnlib")


def main() -> None:
    url = repository_url()
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        nb = json.loads(path.read_text())
        first = next(c for c in nb["cells"] if c["cell_type"] == "code")
        src = "".join(first["source"])
        if PATTERN.search(src) and bootstrap_source(url) != src:
            first["source"] = bootstrap_source(url)
            path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
            print(f"updated {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
