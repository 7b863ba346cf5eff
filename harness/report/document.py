"""The report as a document: written once, rendered as Markdown and as self-contained HTML.

Blocks (headings, paragraphs, bullets, tables, images, audio) use a small Markdown subset
(**bold**, `code`, [text](url)). The HTML embeds every image and clip from the report
folder as a data URI, so the page can be mailed or attached, and sorts a sortable table by
the column whose header is clicked.
"""

from __future__ import annotations

import base64
import html
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from harness.tracking.run_page import png_data_uri

_INLINE = re.compile(r"\*\*(.+?)\*\*|`([^`]+)`|\[([^\]]+)\]\(([^)\s]+)\)")


def inline_html(text: str) -> str:
    """The Markdown subset the report uses (**bold**, `code`, [text](url)) as escaped HTML."""
    parts = []
    position = 0
    for match in _INLINE.finditer(text):
        parts.append(html.escape(text[position:match.start()]))
        bold, code, link_text, url = match.groups()
        if bold is not None:
            parts.append(f"<b>{inline_html(bold)}</b>")
        elif code is not None:
            parts.append(f"<code>{html.escape(code)}</code>")
        else:
            parts.append(f"<a href=\"{html.escape(url)}\">{html.escape(link_text)}</a>")
        position = match.end()
    parts.append(html.escape(text[position:]))
    return "".join(parts)


class Document:
    """The report as blocks, rendered once as Markdown and once as self-contained HTML."""

    def __init__(self, title: str):
        self.title = title
        self.blocks: list[tuple[str, Any]] = []

    def heading(self, text: str) -> None:
        self.blocks.append(("h2", text))

    def subheading(self, text: str) -> None:
        self.blocks.append(("h3", text))

    def paragraph(self, text: str) -> None:
        self.blocks.append(("p", text))

    def bullets(self, items: Sequence[str]) -> None:
        self.blocks.append(("ul", list(items)))

    def table(self, header: Sequence[str], rows: Sequence[Sequence[str]],
              sortable: bool = False, css_class: str = "") -> None:
        """A table; a `sortable` one sorts by a column when its header is clicked (HTML);
        `css_class` adds an HTML class (e.g. ``variants``: smaller type that wraps to fit)."""
        self.blocks.append(("table", (list(header), [list(row) for row in rows], sortable,
                                      css_class)))

    def image(self, file_name: str, alt: str) -> None:
        self.blocks.append(("img", (file_name, alt)))

    def audio(self, file_name: str, caption: str) -> None:
        """A .wav file in the folder: a link in Markdown, an embedded player in HTML."""
        self.blocks.append(("audio", (file_name, caption)))

    def markdown(self) -> str:
        lines = [f"# {self.title}", ""]
        for kind, content in self.blocks:
            if kind == "h2":
                lines += [f"## {content}", ""]
            elif kind == "h3":
                lines += [f"### {content}", ""]
            elif kind == "audio":
                file_name, caption = content
                lines += [f"- [{caption}]({file_name})", ""]
            elif kind == "p":
                lines += [content, ""]
            elif kind == "ul":
                lines += [f"- {item}" for item in content] + [""]
            elif kind == "table":
                header, rows, _, _ = content
                lines.append("| " + " | ".join(_md_cell(cell) for cell in header) + " |")
                lines.append("|" + "---|" * len(header))
                lines += ["| " + " | ".join(_md_cell(cell) for cell in row) + " |" for row in rows]
                lines.append("")
            else:
                file_name, alt = content
                lines += [f"![{alt}]({file_name})", ""]
        return "\n".join(lines)

    def html(self, folder: Path) -> str:
        """HTML with every image and clip from `folder` embedded as a data URI."""
        parts = ["<!doctype html><html><head><meta charset='utf-8'>",
                 f"<title>{html.escape(self.title.replace('`', ''))}</title>"
                 f"<style>{_STYLE}</style></head><body>",
                 f"<h1>{inline_html(self.title)}</h1>"]
        for kind, content in self.blocks:
            if kind == "h2":
                parts.append(f"<h2 id='{_anchor(content)}'>{inline_html(content)}</h2>")
            elif kind == "h3":
                parts.append(f"<h3 id='{_anchor(content)}'>{inline_html(content)}</h3>")
            elif kind == "audio":
                file_name, caption = content
                parts.append(f"<figure class='clip'><figcaption>{inline_html(caption)}"
                             f"</figcaption><audio controls preload='auto' "
                             f"src='{wav_file_data_uri(folder / file_name)}'></audio></figure>")
            elif kind == "p":
                parts.append(f"<p>{inline_html(content)}</p>")
            elif kind == "ul":
                parts.append("<ul>" + "".join(f"<li>{inline_html(i)}</li>" for i in content)
                             + "</ul>")
            elif kind == "table":
                header, rows, sortable, css_class = content
                classes = " ".join(name for name in ("sortable" if sortable else "", css_class)
                                   if name)
                parts.append(
                    (f"<table class='{classes}'>" if classes else "<table>")
                    + "<thead><tr>" + "".join(f"<th>{inline_html(c)}</th>" for c in header)
                    + "</tr></thead><tbody>" + "".join(
                        "<tr>" + "".join(f"<td>{inline_html(c)}</td>" for c in row) + "</tr>"
                        for row in rows) + "</tbody></table>")
            else:
                file_name, alt = content
                parts.append(f"<img alt='{html.escape(alt)}' "
                             f"src='{png_data_uri(folder / file_name)}'>")
        parts.append(f"<script>{_SORT_SCRIPT}</script></body></html>")
        return "".join(parts)


def _anchor(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def wav_file_data_uri(path: Path) -> str:
    return "data:audio/wav;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


# Click a header of a sortable table: rows sort by that column, numbers by value (a leading
# number, so "3.2 [2.9, 3.5]" sorts as 3.2), text after numbers; a second click reverses.
_SORT_SCRIPT = """
document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('th').forEach(function (header, column) {
    header.title = 'click to sort';
    header.addEventListener('click', function () {
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var ascending = header.dataset.order !== 'asc';
      table.querySelectorAll('th').forEach(function (h) { delete h.dataset.order; });
      header.dataset.order = ascending ? 'asc' : 'desc';
      function key(row) {
        var text = row.cells[column].textContent.trim();
        var numeric = /^[+-]?([0-9]|[.][0-9])/.test(text);
        return {text: text, number: numeric ? parseFloat(text) : NaN};
      }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b), order;
        if (isNaN(x.number) || isNaN(y.number)) {
          if (isNaN(x.number) && isNaN(y.number)) { order = x.text.localeCompare(y.text); }
          else { return isNaN(x.number) ? 1 : -1; }
        } else { order = x.number - y.number; }
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 72em; color: #222;
       line-height: 1.45; padding: 0 1em; }
table { border-collapse: collapse; margin: 0.5em 0 1.2em; font-size: 0.9em; display: block;
        overflow-x: auto; max-width: 100%; }
td, th { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
table.sortable th { cursor: pointer; }
table.variants { font-size: 0.8em; }
table.variants td, table.variants th { padding: 0.2em 0.35em; }
table.sortable th[data-order='asc']::after { content: ' ▲'; }
table.sortable th[data-order='desc']::after { content: ' ▼'; }
figure.clip { display: inline-block; margin: 0.3em 1em 0.3em 0; }
figure.clip figcaption { font-size: 0.85em; }
code { background: #f5f5f5; padding: 0 0.2em; }
img { max-width: 100%; border: 1px solid #ddd; margin: 0.5em 0; }
"""


def level_text(value: Any) -> str:
    """A level as the spec writes it: ``true``/``false`` for booleans, strings unquoted."""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float) and math.isnan(value):
        return "–"
    return str(value)
