"""`/rules`: the project's rules (docs/rules.md in the checkout), so the hints on the phone and
the desk can link to the rule they mention (`/rules#A3`).

A small reader of the Markdown that file uses — headings, anchors, paragraphs, lists, tables,
`code`, **bold** and links — escaped first, so the page shows the file and nothing else.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

RULES = Path(__file__).resolve().parents[1] / "docs" / "rules.md"
ANCHOR = re.compile(r'<a id="([A-Z]\d+)"></a>')


def render(path: Path = RULES) -> str | None:
    """The body HTML, or None when the file is not there (an installed sandbox without docs)."""
    if not path.is_file():
        return None
    out: list[str] = []
    anchor = ""
    for block in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")):
        for line in block.splitlines():
            found = ANCHOR.fullmatch(line.strip())
            if found:
                anchor = found.group(1)
        lines = [x for x in block.splitlines() if not ANCHOR.fullmatch(x.strip())]
        if lines:
            out.append(_block(lines, anchor))
            anchor = ""
    return "\n".join(out)


def _block(lines: list[str], anchor: str) -> str:
    first = lines[0]
    heading = re.match(r"(#{1,3}) (.*)", first)
    if heading and len(lines) == 1:
        level = len(heading.group(1))
        ident = anchor or re.sub(r"[^a-z0-9]+", "-", heading.group(2).lower()).strip("-")
        ident = f' id="{ident}"'
        return f"<h{level}{ident}>{_inline(heading.group(2))}</h{level}>"
    if heading:
        return _block([first], anchor) + "\n" + _block(lines[1:], "")
    if first.startswith("|"):
        rows = [r for r in lines if not re.fullmatch(r"\|[\s|:-]+\|", r)]
        cells = [[_inline(c.strip()) for c in r.strip("|").split("|")] for r in rows]
        return "<table class=\"list\">" + "".join(
            "<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in cells) + "</table>"
    if first.startswith("- "):
        items = re.split(r"\n- ", "\n".join(lines)[2:])
        return "<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in items) + "</ul>"
    return f"<p>{_inline(' '.join(lines))}</p>"


def _inline(text: str) -> str:
    text = html.escape(text, quote=False)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", text)
    text = re.sub(r"\*([^*]+)\*", r"<em>\1</em>", text)
    return re.sub(r"\[([^\]]+)\]\((#[\w-]+)\)", r'<a href="\2">\1</a>', text)
