"""MyST markdown to plain markdown, for notebooks opened where MyST does not render.

Plain Jupyter, JupyterLab and Colab show ``{ref}`sec-x``` and ```` ```{note} ````
as they are typed. :class:`Converter` rewrites one markdown cell:

* ``{dropdown}`` becomes ``<details><summary>``; admonitions (``{note}``,
  ``{admonition}``, ...) a block quote with a bold title; ``{figure}`` an image
  and its caption; ``{glue:figure}`` the figure itself (a cell attachment) and
  its caption; ``{math}`` a ``$$`` block; any other directive its text;
* ``{ref}``, ``{numref}`` and ``{doc}`` become the target's words, with a link
  to the rendered book when the target is on another page ("(above)"/"(below)"
  on the same one); ``{cite:p}`` "(Author Year)", ``{cite:t}`` "Author (Year)";
* ``{glue:text}`` / ``{glue:md}`` the value from the executed notebook;
  ``{math}`` inline math; code-like roles (``{py:mod}``...) inline code;
* ``(label)=`` targets are dropped; code blocks are left alone.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from _bookrefs import Target, cite
from _glue import MISSING_TEXT, format_text

__all__ = ["Converter", "ADMONITIONS"]

ADMONITIONS = ("note", "tip", "hint", "important", "warning", "caution", "attention", "danger",
               "error", "seealso")
_OPEN = re.compile(r"^(\s*)(`{3,}|:{3,})\{([\w:-]+)\}[ \t]*(.*?)\s*$")
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
_ROLE = re.compile(r"\{([\w:.+-]+)\}`([^`]*)`")
_EXPLICIT = re.compile(r"^(.*?)\s*<([^<>]+)>$", re.S)
_CODE_ROLES = ("py:mod", "py:func", "py:class", "py:meth", "py:attr", "py:obj", "py:data", "mod",
               "func", "class", "meth", "attr", "obj", "data", "code", "file", "samp", "command")


@dataclass
class Converter:
    """Converts the markdown cells of one notebook (``stem``) given the book's labels and values."""

    stem: str
    labels: dict
    bib: dict
    glue: dict
    site: str = ""
    warnings: list = field(default_factory=list)

    # --- directives -------------------------------------------------------------------

    def convert(self, text: str, cell: int = 0) -> tuple[str, dict]:
        """``(plain markdown, attachments)`` for the markdown of cell number ``cell``."""
        self._cell, self._attachments = cell, {}
        out = self._block(text.split("\n"))
        return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip("\n"), self._attachments

    def _block(self, lines: list[str]) -> list[str]:
        out, i, fence = [], 0, None
        while i < len(lines):
            line = lines[i]
            if fence:                                  # inside a plain code block: untouched
                out.append(line)
                s = line.strip()
                if s.startswith(fence) and set(s) == {fence[0]}:
                    fence = None
                i += 1
                continue
            m, code = _OPEN.match(line), _FENCE.match(line)
            if m:
                end = self._closing(lines, i, m.group(2))
                out += self._directive(m.group(3), m.group(4), lines[i + 1:end])
                i = end + 1
            elif code:
                fence = code.group(1)
                out.append(line)
                i += 1
            elif re.match(r"^\([\w:.-]+\)=\s*$", line):
                i += 1
            else:
                out.append(self._inline(line))
                i += 1
        return out

    @staticmethod
    def _closing(lines, start, fence) -> int:
        """Index of the line closing the directive opened at ``start`` (nested ones counted)."""
        depth = 0
        for j in range(start + 1, len(lines)):
            s = lines[j].strip()
            opened = _OPEN.match(lines[j])
            if opened and opened.group(2)[0] == fence[0] and (fence[0] == ":" or len(opened.group(2)) < len(fence)):
                depth += 1
            elif s and set(s) == {fence[0]} and len(s) >= (3 if depth else len(fence)):
                if depth == 0:
                    return j
                depth -= 1
        return len(lines)

    @staticmethod
    def _options(body: list[str]) -> tuple[dict, list[str]]:
        opts, k = {}, 0
        while k < len(body) and re.match(r"^\s*:[\w-]+:", body[k]):
            key, _, value = body[k].strip()[1:].partition(":")
            opts[key] = value.strip()
            k += 1
        return opts, body[k:]

    def _directive(self, name: str, arg: str, body: list[str]) -> list[str]:
        opts, body = self._options(body)
        inner = self._block(body)
        if name in ("exercise-start", "exercise-end", "solution-start", "solution-end"):
            return inner
        if name == "dropdown":
            summary = self._inline(arg) or "Show"
            return ["", f"<details><summary>{summary}</summary>", "", *inner, "", "</details>", ""]
        if name in ADMONITIONS or name == "admonition":
            title = self._inline(arg) if name == "admonition" else name.capitalize()
            quoted = [f"> {t}" if t.strip() else ">" for t in inner]
            return ["", f"> **{title or 'Note'}**", ">", *quoted, ""]
        if name == "math":
            return ["", "$$", *body, "$$", ""]
        if name == "figure":
            path = arg.replace("../images/", "images/")
            return ["", f"![{opts.get('alt', '')}]({path})", "", *self._caption(inner), ""]
        if name == "glue:figure":
            return ["", *self._glued_figure(arg, opts), "", *self._caption(inner), ""]
        if name == "glue" or name == "glue:md":
            return ["", self._glue_value(arg, "", markdown=True), ""]
        title = [f"**{self._inline(arg)}**", ""] if arg else []
        return ["", *title, *inner, ""]

    @staticmethod
    def _caption(inner: list[str]) -> list[str]:
        text = "\n".join(inner).strip()
        return [f"*Figure: {text}*"] if text else []

    def _glued_figure(self, key: str, opts: dict) -> list[str]:
        data = self.glue.get(key.strip()) or {}
        for mime, ext in (("image/png", "png"), ("image/jpeg", "jpg"), ("image/svg+xml", "svg")):
            if mime in data:
                name = f"{key.strip()}.{ext}"
                value = data[mime]
                self._attachments[name] = {mime: "".join(value) if isinstance(value, list) else value}
                return [f"![{opts.get('alt', key)}](attachment:{name})"]
        self.warnings.append(f"{self.stem}: no executed value for the figure {key!r}")
        return [f"*(The figure {key!r} is drawn when the book is built; it is missing here.)*"]

    # --- roles --------------------------------------------------------------------------

    def _inline(self, line: str) -> str:
        return _ROLE.sub(lambda m: self._role(m.group(1), m.group(2)), line)

    def _role(self, name: str, content: str) -> str:
        text, target = (m.group(1).strip(), m.group(2).strip()) if (m := _EXPLICIT.match(content)) \
            else ("", content.strip())
        if name in ("ref", "numref", "doc", "eq"):
            return self._reference(name, text, target)
        if name.startswith("cite"):
            return cite(target, self.bib, textual=name in ("cite:t", "cite:ts"))
        if name.startswith("glue"):
            key, _, spec = target.partition(":")
            return self._glue_value(key, spec, markdown=name == "glue:md")
        if name == "math":
            return f"${content}$"
        if name in _CODE_ROLES:
            shown = text or (target[1:].split(".")[-1] if target.startswith("~") else target)
            return f"`{shown}`"
        if name in ("sub", "sup", "kbd"):
            return f"<{name}>{content}</{name}>"
        return text or target

    def _glue_value(self, key: str, spec: str, markdown: bool = False) -> str:
        data = self.glue.get(key.strip())
        if markdown and data and "text/markdown" in data:
            value = data["text/markdown"]
            return "".join(value) if isinstance(value, list) else value
        value = format_text(data, spec)
        if value == MISSING_TEXT:
            self.warnings.append(f"{self.stem}: no executed value for {key!r}")
        return value

    def _reference(self, role: str, text: str, label: str) -> str:
        if role == "eq":
            return text or "the equation"
        key = f"/{label.strip('/').split('/')[-1].removesuffix('.ipynb').removesuffix('.md')}" \
            if role == "doc" else label
        t: Target | None = self.labels.get(key)
        if t is None:
            self.warnings.append(f"{self.stem}: unknown reference {label!r}")
            return text or label
        words = text or t.title
        if t.stem == self.stem and t.cell >= 0:
            where = "above" if t.cell < self._cell else "below"
            if t.kind == "figure":
                return f"{text} ({where})" if text else f"the figure {where}"
            return words if t.kind == "exercise" else f"“{words}” ({where})"
        url = f"{self.site}book/{t.stem}.html" + (f"#{t.anchor}" if t.anchor else "")
        if t.kind == "figure" and not text:
            words = f"a figure in “{self.labels.get('/' + t.stem, t).title}”"
        return f"[{words}]({url})" if self.site else words
