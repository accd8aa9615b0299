"""Turning an agent's comment into SMS text (A5), and counting the segments it will be billed as.

Pure functions: no I/O. HTML parsing uses the standard library's tolerant parser.
"""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre",
          "ul", "ol", "table", "hr", "dl", "dt", "dd"}
CELLS = {"td", "th"}    # cells of one row: side by side, so a space apart
SKIP = {"script", "style", "head", "title"}

# GSM 03.38 basic set (1 septet each) and extension set (2 septets: escape + char).
GSM_BASIC = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
                "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM_EXTENDED = set("^{}\\[~]|€\f")


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIP:
            self.skipping += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag in BLOCKS:
            self.parts.append("\n\n")
        elif tag in CELLS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in BLOCKS and tag != "br":
            self.parts.append("\n\n")
        elif tag in CELLS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(re.sub(r"[ \t\r\n]+", " ", data))


def html_to_text(html: str) -> str:
    """Plain text of a comment's HTML: tags stripped, entities decoded, paragraphs kept as blank
    lines, runs of spaces collapsed. Never truncated."""
    parser = _Text()
    try:
        parser.feed(html)
        parser.close()
    except AssertionError:
        # Python 3.11's html.parser asserts on a malformed "<![" section (e.g. "<![0"): read
        # every "<!" as text instead, so a comment's words are never lost to a parser bug.
        parser = _Text()
        parser.feed(html.replace("<!", "&lt;!"))
        parser.close()
    text = "".join(parser.parts)
    lines = [re.sub(r" {2,}", " ", line).strip() for line in text.split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def comment_text(body: str | None, html_body: str | None) -> str:
    """Prefer the HTML (it carries the agent's paragraphs); fall back to the plain body."""
    if html_body and html_body.strip():
        return html_to_text(html_body)
    return unescape(body or "").strip()


def segments(text: str) -> tuple[str, int]:
    """('GSM-7' or 'UCS-2', number of billed segments) for a concatenated SMS.

    One segment holds 160 septets (GSM-7) or 70 UTF-16 units (UCS-2); a longer text goes in
    parts of 153 septets or 67 units, and a part never splits an escaped GSM character (€, [ ...:
    2 septets) or an emoji's surrogate pair (2 units), so a part may end one short.
    """
    if all(c in GSM_BASIC or c in GSM_EXTENDED for c in text):
        sizes = [2 if c in GSM_EXTENDED else 1 for c in text]
        return "GSM-7", _parts(sizes, single=160, part=153)
    sizes = [2 if ord(c) > 0xFFFF else 1 for c in text]
    return "UCS-2", _parts(sizes, single=70, part=67)


def _parts(sizes: list[int], single: int, part: int) -> int:
    if sum(sizes) <= single:
        return 1
    parts, used = 1, 0
    for size in sizes:
        if used + size > part:
            parts, used = parts + 1, 0
        used += size
    return parts
