"""HTML pieces of the report: escaped text, tables, inline images, and the page around them (styles inline, no
script, no link to anything outside the file)."""

from __future__ import annotations

import datetime
import html
import math

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1400px; padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 2px solid #ccc; margin-top: 2em; } h3 { margin-top: 1.4em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 0.8em; }
figure { margin: 0; } figure img { max-width: 100%; } figcaption { font-size: 0.85em; color: #555; }
.gallery { display: flex; flex-wrap: wrap; gap: 0.6em; }
.gallery figure { width: 120px; border: 1px solid #ddd; padding: 4px; font-size: 0.8em; }
.gallery img { width: 96px; height: 96px; image-rendering: pixelated; object-fit: contain; background: #000; }
.note { color: #8a5a00; font-style: italic; } .muted { color: #666; font-size: 0.9em; }
pre { background: #f7f7f7; padding: 0.6em; overflow-x: auto; font-size: 0.85em; }
.side { display: flex; flex-wrap: wrap; gap: 2em; align-items: flex-start; }
"""


def esc(value) -> str:
    return html.escape(str(value), quote=True)


def number(value) -> str:
    """A metric as a table shows it: 4 significant digits; "—" where undefined (null, NaN)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return esc(value)
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def table(header: list[str], rows: list[list[str]], numeric_from: int = 1) -> str:
    """Cells are HTML already (escape text with esc); columns from `numeric_from` on are right-aligned."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(f"<td{' class=num' if i >= numeric_from else ''}>{c}</td>" for i, c in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def key_values(pairs: dict) -> str:
    """A two-column table of settings or metrics."""
    return table(["", "value"], [[esc(k), number(v)] for k, v in pairs.items()])


def image(png: str, alt: str, caption: str | None = None) -> str:
    tag = f'<img src="data:image/png;base64,{png}" alt="{esc(alt)}">'
    return f"<figure>{tag}<figcaption>{esc(caption)}</figcaption></figure>" if caption else f"<figure>{tag}</figure>"


def grid(items: list[str]) -> str:
    return f'<div class="grid">{"".join(items)}</div>' if items else ""


def note(text: str) -> str:
    """A one-line note where a panel is left out, saying why."""
    return f'<p class="note">{esc(text)}</p>'


def page(title: str, body: str) -> str:
    from .. import __version__

    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
        f'<meta name="generator" content="weaklab {esc(__version__)}"><style>{STYLE}</style></head>\n'
        f'<body><h1>{esc(title)}</h1><p class="muted">weaklab {esc(__version__)}, {stamp}</p>\n{body}\n</body></html>\n'
    )
