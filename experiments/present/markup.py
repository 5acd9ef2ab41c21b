"""The report's HTML: its page, style, sections, paragraphs and figure blocks (inline CSS,
no scripts, no external assets).
"""

from __future__ import annotations

import os
import re
from html import escape
from pathlib import Path
from urllib.parse import quote

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
  color: #1f2328; line-height: 1.5; margin: 0; background: #fafafa; }
main { max-width: 1040px; margin: 0 auto; padding: 1.5rem 2rem 3rem; background: #fff;
  overflow-wrap: break-word; }
h1 { font-size: 1.7rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.3rem; border-bottom: 2px solid #e1e4e8; padding-bottom: 0.2rem;
  margin-top: 2rem; }
h3 { font-size: 1.1rem; margin-bottom: 0.3rem; }
.lead { font-size: 1.05rem; }
.headline { font-size: 1.1rem; background: #eef5fb; border-left: 4px solid #0072B2;
  padding: 0.7rem 1rem; }
table { border-collapse: collapse; width: 100%; font-size: 0.92rem; }
.wide { overflow-x: auto; }
th, td { padding: 0.35rem 0.5rem; border-bottom: 1px solid #e1e4e8; text-align: right;
  vertical-align: top; }
th { background: #f3f4f6; font-weight: 600; }
td.design, th.design { text-align: left; }
tbody tr:nth-child(even) { background: #fafbfc; }
.code { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.8rem; color: #57606a; }
.tag { font-size: 0.75rem; color: #D55E00; border: 1px solid #D55E00; border-radius: 3px;
  padding: 0 0.25rem; margin-left: 0.3rem; white-space: nowrap; }
.note { font-size: 0.88rem; color: #57606a; }
figure { margin: 1rem 0 2rem; }
figure img { max-width: 100%; height: auto; border: 1px solid #e1e4e8; }
figcaption { font-size: 0.95rem; margin-top: 0.4rem; }
.warning { background: #fff4e5; border-left: 4px solid #D55E00; padding: 0.7rem 1rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.1rem 1rem; font-size: 0.9rem; }
dt { font-weight: 600; } dd { margin: 0; min-width: 0; overflow-wrap: anywhere; }
.answer td.design { min-width: 12rem; }
@media (max-width: 600px) {
  main { padding: 0.8rem 0.9rem 2rem; }
  h1 { font-size: 1.35rem; }
  .headline { font-size: 1rem; padding: 0.5rem 0.7rem; }
  dl { grid-template-columns: 1fr; }
  dd { margin-bottom: 0.4rem; }
}
"""


def paragraph(text: str, cls: str | None = None) -> str:
    attr = f' class="{cls}"' if cls else ""
    return f"<p{attr}>{escape(text)}</p>"


def section(heading: str, *parts: str) -> str:
    return "\n".join([f"<section>\n<h2>{escape(heading)}</h2>", *parts, "</section>"])


def figure_block(heading: str, caption: str, png: Path, folder: Path) -> str:
    """One figure with its heading, "how to read this" caption and a link to its SVG; paths
    relative to `folder` (where the page is)."""
    src = quote(Path(os.path.relpath(png, folder)).as_posix())
    svg = Path(png).with_suffix(".svg")
    link = (
        f' <a href="{escape(quote(Path(os.path.relpath(svg, folder)).as_posix()))}">'
        "Vector version (SVG)</a>"
        if svg.exists()
        else ""
    )
    return (
        f"<figure>\n<h3>{escape(heading)}</h3>\n"
        f'<img src="{escape(src)}" alt="{escape(heading)}">\n'
        f"<figcaption><strong>How to read this.</strong> {escape(caption)}{link}</figcaption>\n"
        "</figure>"
    )


def html_page(title: str, body: str) -> str:
    """A whole HTML page: inline CSS, no scripts or external assets; a table wider than the
    window scrolls sideways inside its box, the page never does."""
    body = re.sub(r"(<table[ >])", r'<div class="wide">\1', body).replace(
        "</table>", "</table></div>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
        f"<h1>{escape(title)}</h1>\n{body}\n</main>\n</body>\n</html>\n"
    )
