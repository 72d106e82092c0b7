"""Plain text from HTML: the text/plain alternative of an email, and what CRM activity logs show.

Pure (stdlib `html.parser` only), so adapters and services below the campaigns package use it too.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_BLOCK_TAGS = {
    "address", "article", "aside", "dd", "div", "dl", "dt", "figcaption", "figure", "footer",
    "header", "li", "main", "nav", "pre", "section", "tr",
}  # fmt: skip
_PARAGRAPH_TAGS = {
    "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "ol", "p", "table", "ul",
}  # fmt: skip
_SKIP_TAGS = {"head", "script", "style", "title", "template"}


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[tuple[int, str]] = []  # (blockquote depth, text)
        self.current: list[str] = []
        self.depth = 0
        self.skip = 0
        self.links: list[tuple[str, list[str]]] = []  # open <a>: href, text seen inside
        self.lists: list[list[int]] = []  # open lists: [next number], or [-1] for <ul>
        self.cells_in_row = 0

    # Line handling ----------------------------------------------------------------------
    def _text(self, data: str) -> None:
        self.current.append(data)
        for _href, seen in self.links:
            seen.append(data)

    def _break(self) -> None:
        line = re.sub(r"\s+", " ", "".join(self.current)).strip()
        self.current = []
        if line:
            self.lines.append((self.depth, line))

    def _paragraph(self) -> None:
        self._break()
        self.lines.append((self.depth, ""))

    # Parser callbacks -------------------------------------------------------------------
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self.skip += 1
            return
        if self.skip:
            return
        if tag == "br":
            self._break()
        elif tag == "blockquote":
            self._paragraph()
            self.depth += 1
        elif tag in _PARAGRAPH_TAGS:
            self._paragraph()
        elif tag in _BLOCK_TAGS:
            self._break()
        if tag == "tr":
            self.cells_in_row = 0
        elif tag in ("td", "th"):
            if self.cells_in_row:
                self._text(" ")
            self.cells_in_row += 1
        elif tag in ("ul", "ol"):
            self.lists.append([1 if tag == "ol" else -1])
        elif tag == "li":
            if self.lists and self.lists[-1][0] > 0:
                self._text(f"{self.lists[-1][0]}. ")
                self.lists[-1][0] += 1
            else:
                self._text("- ")
        elif tag == "a":
            self.links.append((dict(attrs).get("href") or "", []))
        elif tag == "img":
            alt = (dict(attrs).get("alt") or "").strip()
            if alt:
                self._text(alt)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.skip = max(0, self.skip - 1)
            return
        if self.skip:
            return
        if tag == "a" and self.links:
            href, seen = self.links.pop()
            label = re.sub(r"\s+", " ", "".join(seen)).strip()
            target = href.strip()
            if target.lower().startswith("mailto:") and target[7:] == label:
                target = label
            if target and target != label:
                self._text(f" ({target})" if label else target)
        elif tag in ("ul", "ol") and self.lists:
            self.lists.pop()
        if tag == "blockquote":
            self._paragraph()
            self.depth = max(0, self.depth - 1)
        elif tag in _PARAGRAPH_TAGS:
            self._paragraph()
        elif tag in _BLOCK_TAGS:
            self._break()

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self._text(data)

    def text(self) -> str:
        self._break()
        out: list[str] = []
        blank_depth: int | None = None
        for depth, line in self.lines:
            if not line:
                blank_depth = depth if blank_depth is None else min(blank_depth, depth)
                continue
            if blank_depth is not None and out:
                out.append(("> " * blank_depth).rstrip())
            blank_depth = None
            out.append("> " * depth + line)
        return "\n".join(out).strip()


def html_to_text(body: str) -> str:
    """A readable text/plain alternative of an HTML body."""
    parser = _TextExtractor()
    parser.feed(body)
    parser.close()
    return parser.text()
