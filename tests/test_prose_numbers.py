"""Numbers in the book's prose come from executed output, never typed by hand.

Every markdown cell of ``book/*.ipynb`` and every ``book/*.md`` page is scanned for
typed decimals (``0.13``, ``1e-5``) and percentages (``85%``, ``85 percent``) outside
the places where a number is not prose: glue roles and every other role, inline code,
math (``$...$``, ``$$...$$``, ``\\(...\\)``, ``{math}``), code fences, and directive
options (except ``:alt:``, which is prose a screen reader speaks). Integers are not
flagged (counts, sizes and budgets are configuration); a percentage is, whatever its
digits.

A number may stay typed when it is one of these (the allowlist, each with its reason):

* a reference: "Exercise 5.1", "Fig. 5.1", "Section 2.3", "Chapter 4", "Table 1", "Eq. 3";
* a duration in minutes (exercise headers);
* a configuration constant named right before it: a learning rate, momentum, eps,
  dropout probability, threshold, target, default, scale or batch size, with nothing
  but connecting words in between ("learning rate 0.5", "rates from 0.1 to 30",
  "momentum 0.1", "eps 1e-5"): these are inputs chosen by the author, not measurements;
* chance for the book's ten classes, "chance (10%)": exactly 1/10, not measured;
* a number quoted from a source cited in the same sentence (or list item) with
  ``{cite:...}``: it is the paper's report, and the citation says where it comes from.

Everything else is a number a reader would take for a measurement; it belongs in a
``{glue:text}`` role (or in a formatted output) so that it changes when the run does.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted((ROOT / "book").glob("*.ipynb")) + sorted((ROOT / "book").glob("*.md"))

CITE = "\u27e6CITE\u27e7"          # a marker left where a {cite:...} role was
_NON_PROSE_DIRECTIVES = {"math", "code", "code-block", "code-cell", "raw", "literalinclude",
                         "eval-rst", "mermaid", "graphviz"}
_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,}|:{3,})\s*(\{([\w:-]+)\})?(.*)$")
_OPTION = re.compile(r"^\s*:([\w-]+):(.*)$")

_NUMBER = re.compile(
    r"(?<![\w.])("
    r"\d+(?:\.\d+)?\s*(?:%|percent\b|per cent\b)"        # a percentage
    r"|\d+(?:\.\d+)?[eE][-+]?\d+\b"                        # scientific notation
    r"|\d*\.\d+(?!\.\d)(?!\w)"                             # a decimal (not a version 1.0.4)
    r")")
_CONNECT = r"(?:\s|\b(?:of|is|to|from|at|between|and|or|was|were|set|the)\b|[=:,(]|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?%?)*"
_REFERENCE = re.compile(
    r"\b(?:Exercises?|Ex\.|Figs?\.|Figures?|Sections?|Secs?\.|Chapters?|Ch\.|Tables?|Eqs?\.|"
    r"Equations?|Appendix|Part)\s*(?:[\d.]+\s*(?:,|and|or|to|-|\u2013)\s*)*$")
_CONFIG = re.compile(
    r"(?:\b(?:learning[- ]rates?|rates?|lr|momentum|eps|epsilon|dropout(?: probability| rate)?|"
    r"thresholds?|targets?|defaults?|scales?|batch sizes?)|\bp\s*=)" + _CONNECT + r"$", re.I)
_CHANCE = re.compile(r"\bchance(?:\s+level)?" + _CONNECT + r"$", re.I)
_MINUTES = re.compile(r"^\s*(?:min\b|minutes?\b)")


def _strip_fences(text: str) -> str:
    """Drop code and math fences; keep a directive's argument and body, minus its options."""
    out, stack = [], []            # stack of (fence chars, keep body?)
    for line in text.split("\n"):
        m = _FENCE.match(line)
        if m and stack and m.group(2)[0] == stack[-1][0][0] and len(m.group(2)) >= len(stack[-1][0]) \
                and not m.group(3) and not m.group(5).strip():
            stack.pop()
            continue
        if m and (m.group(3) or not stack or stack[-1][1]):
            name = m.group(4)
            keep = bool(name) and name not in _NON_PROSE_DIRECTIVES and (not stack or stack[-1][1])
            stack.append((m.group(2), keep))
            if keep:
                out.append(m.group(5))        # a directive's argument, e.g. an exercise title
            continue
        if stack and not stack[-1][1]:
            continue
        if stack:
            opt = _OPTION.match(line)
            if opt:
                if opt.group(1) == "alt":
                    out.append(opt.group(2))
                continue
        out.append(line)
    return "\n".join(out)


def _strip_inline(text: str) -> str:
    """Replace math, roles, inline code (a bare name stays a word), links' targets and HTML comments."""
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.S)
    text = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S)
    text = re.sub(r"\\\[.*?\\\]|\\\(.*?\\\)", " ", text, flags=re.S)
    text = re.sub(r"(?<![\\$])\$(?!\s)[^$\n]+?(?<![\s\\])\$", " ", text)
    text = re.sub(r"\{cite(?::\w+)?\}`[^`]*`", CITE, text)
    text = re.sub(r"\{[\w:-]+\}(`+)(?:.*?)\1", " ", text, flags=re.S)
    text = re.sub(r"`(\w+)`", r"\1", text)                # `momentum` = 0.1 reads as a name
    text = re.sub(r"(`+).*?\1", " ", text, flags=re.S)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    text = re.sub(r"https?://\S+", " ", text)
    return text


def _sentences(text: str):
    """Sentences and list items; a decimal point is never followed by a space, so it does not split."""
    for block in re.split(r"\n\s*\n|\n(?=\s*(?:[-*+]|\d+\.)\s)|\n(?=\s*\|)", text):
        yield from re.split(r"(?<=[.!?])\s+(?=[A-Z(\[*_\u27e6])", block)


def typed_numbers(markdown: str) -> list[str]:
    """The typed numbers in one markdown text that the allowlist does not excuse."""
    found = []
    for sentence in _sentences(_strip_inline(_strip_fences(markdown))):
        if CITE in sentence:
            continue
        for m in _NUMBER.finditer(sentence):
            before, after = sentence[:m.start()], sentence[m.end():]
            value = m.group(1)
            if _REFERENCE.search(before) or _MINUTES.match(after) or _CONFIG.search(before):
                continue
            if _CHANCE.search(before) and re.fullmatch(r"10\s*(?:%|percent|per cent)", value):
                continue
            found.append(" ".join(f"{before[-40:]}[{value}]{after[:25]}".split()))
    return found


def _markdown_cells(path: Path):
    if path.suffix == ".md":
        yield "page", path.read_text()
        return
    for i, cell in enumerate(json.loads(path.read_text())["cells"]):
        if cell["cell_type"] == "markdown":
            yield f"cell {i}", "".join(cell["source"])


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_no_typed_numbers_in_prose(path):
    hits = [f"{path.name} {where}: {text}" for where, md in _markdown_cells(path)
            for text in typed_numbers(md)]
    assert not hits, ("numbers typed by hand in prose (glue them from executed output, see "
                      "tests/test_prose_numbers.py for what may stay typed):\n  " + "\n  ".join(hits))


# --- the scanner itself: it must find what it is meant to find ---------------------

@pytest.mark.parametrize("text", [
    "BN reached 0.83 after 400 steps.",
    "at learning rate 10 the network reaches 0.81",
    "about 85% of the values",
    "a spread of 12 percent",
    "the ratio is 6e-6 here",
    "```{glue:figure} fig-x\n:alt: The curve rises to 0.9 quickly.\n:name: fig-x\n\nCaption says 0.7.\n```",
    "```{exercise-start} Predict: is it 0.5 or more?\n:label: ex-1-1\n```",
    "- a list item with 0.25 in it\n- and one citing {cite:p}`ioffe2015batch`",
])
def test_the_scanner_flags_typed_measurements(text):
    assert typed_numbers(text), text


@pytest.mark.parametrize("text", [
    "BN reached {glue:text}`acc:.3f` after 400 steps.",
    "where $\\hat x = 0.5$ and $$\\sigma = 0.25$$ and \\(0.1\\)",
    "the call `train(lr=0.5)` returns",
    "```python\nx = 0.5\n```",
    "```{math}\n0.5\n```",
    "See Exercise 5.1, Fig. 5.1, Section 2.3, Chapter 4 and Exercises 4.1 and 4.2.",
    "Exercise 9.1 · predict · ★★☆ · 2.5 min",
    "at learning rate 0.5, rates from 0.1 to 30, momentum 0.1, eps 1e-5, dropout p = 0.2",
    "| `eps` = 1e-5 | `momentum` = 0.99, weight of the old value |",
    "Keras and CS231n (defaults 0.99 and 0.9)",
    "it stays at chance (10%) and at chance level, 10%",
    "The paper's network reached 72.2% top-1 {cite:p}`ioffe2015batch`.",
    "[the docs](https://example.org/v1.2/page) and jupyter-book 1.0.4",
    "```{glue:figure} fig-x\n:name: fig-x\n:width: 80%\n\nLook at {glue:text}`k:.1f`.\n```",
])
def test_the_scanner_leaves_allowed_numbers_alone(text):
    assert not typed_numbers(text), typed_numbers(text)
