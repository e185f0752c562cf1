"""The benchmark tables' Markdown (what `weaklab bench ... --write` puts in BENCHMARKS.md) as HTML: pipe tables,
paragraphs, `code`, *emphasis*, images. Only that subset: the tables are ours, not arbitrary Markdown."""

from __future__ import annotations

import base64
import re
from pathlib import Path

from .html import esc, table

_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")


def inline(text: str, base: Path) -> str:
    """Escaped text with `code`, *emphasis* and images; a local PNG is inlined, anything else left as its text."""
    out, last = [], 0
    for m in _IMAGE.finditer(text):
        out.append(_spans(text[last : m.start()]))
        out.append(_image(m.group(1), base / m.group(2)))
        last = m.end()
    out.append(_spans(text[last:]))
    return "".join(out)


def _spans(text: str) -> str:
    text = esc(text)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    return re.sub(r"(?<![\w*])\*([^*\s][^*]*?)\*(?![\w*])", r"<em>\1</em>", text)


def _image(alt: str, path: Path) -> str:
    if path.suffix.lower() != ".png" or not path.is_file():
        return esc(f"[{alt}: {path}]")
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{esc(alt)}">'


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _is_rule(line: str) -> bool:
    """A table's header rule: |---|:---:|."""
    return "-" in line and set(line.strip()) <= set("|-: ")


def to_html(markdown: str, base: Path = Path(".")) -> str:
    """`base`: the folder image paths are relative to."""
    blocks, lines = [], [line.strip() for line in markdown.splitlines() if not line.strip().startswith("<!--")]
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("|") and i + 1 < len(lines) and _is_rule(lines[i + 1]):
            header, rows, i = _cells(line), [], i + 2
            while i < len(lines) and lines[i].startswith("|"):
                rows.append([inline(c, base) for c in _cells(lines[i])])
                i += 1
            blocks.append(table(header, rows))
        elif heading := re.match(r"(#{1,4})\s+(.*)", line):
            level = len(heading.group(1)) + 1  # the page's own title is the h1
            blocks.append(f"<h{level}>{inline(heading.group(2), base)}</h{level}>")
            i += 1
        elif line:
            paragraph = [line]
            i += 1
            while i < len(lines) and lines[i] and not lines[i].startswith(("|", "#")):
                paragraph.append(lines[i])
                i += 1
            blocks.append(f"<p>{inline(' '.join(paragraph), base)}</p>")
        else:
            i += 1
    return "\n".join(blocks)
