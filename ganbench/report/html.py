"""The report's index.html: its markdown rendered to one self-contained page (images inlined), no dependency."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path


def to_html(markdown: str, out: Path, title: str) -> str:
    """A small markdown subset (headings, lists, tables, images, code, bold, italics) to self-contained HTML."""
    def inline(text: str) -> str:
        text = html.escape(text)
        text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
        text = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", text)
        # A single star pair that opens and closes on a word (not "2 * 3", not a glob inside code)
        return re.sub(r"(?<![*\w])\*(?=\S)([^*<>]+?)(?<=\S)\*(?![*\w])", r"<em>\1</em>", text)

    body, table = [], False
    for line in markdown.splitlines():
        if line.startswith("|") and set(line.replace("|", "").strip()) <= set("-: "):
            continue
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            tag = "td" if table else "th"
            body.append(("" if table else "<table>") + "<tr>" + "".join(f"<{tag}>{inline(c)}</{tag}>" for c in cells)
                        + "</tr>")
            table = True
            continue
        if table:
            body.append("</table>")
            table = False
        if match := re.match(r"!\[([^]]*)\]\(([^)]+)\)", line):
            data = base64.b64encode((out / match.group(2)).read_bytes()).decode()
            body.append(f'<img alt="{html.escape(match.group(1))}" src="data:image/png;base64,{data}">')
        elif line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            body.append(f"<h{level}>{inline(line[level:].strip())}</h{level}>")
        elif line.startswith("- "):
            body.append(f"<p class='item'>{inline(line[2:])}</p>")
        elif line.strip():
            body.append(f"<p>{inline(line)}</p>")
    if table:
        body.append("</table>")
    style = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;font-size:14px}"
             "th{background:#f3f3f3}img{max-width:100%;margin:0.5em 0}code{background:#f5f5f5;padding:1px 3px}"
             "p.item{margin:0.3em 0 0.3em 1em}")
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n")
