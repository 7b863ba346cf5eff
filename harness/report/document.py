"""The report as a document: written once, rendered as Markdown and as self-contained HTML.

Blocks (headings, paragraphs, bullets, tables, images, audio) use a small Markdown subset
(**bold**, `code`, [text](url)). The HTML embeds every image and clip from the report
folder as a data URI, so the page can be mailed or attached, and sorts a sortable table by
the column whose header is clicked. Its markup, style and script are the template
`templates/report.html.j2`.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from markupsafe import Markup, escape

from harness.common.templates import environment
from harness.tracking.run_page import png_data_uri

REPORT_TEMPLATE = "report.html.j2"  # in harness/report/templates/

_INLINE = re.compile(r"\*\*(.+?)\*\*|`([^`]+)`|\[([^\]]+)\]\(([^)\s]+)\)")


def inline_html(text: str) -> Markup:
    """The Markdown subset the report uses (**bold**, `code`, [text](url)) as HTML: the
    subset's tags, everything else escaped; Markup, so a template inserts it as it is."""
    parts = []
    position = 0
    for match in _INLINE.finditer(text):
        parts.append(escape(text[position:match.start()]))
        bold, code, link_text, url = match.groups()
        if bold is not None:
            parts.append(Markup("<b>{}</b>").format(inline_html(bold)))
        elif code is not None:
            parts.append(Markup("<code>{}</code>").format(code))
        else:
            parts.append(Markup('<a href="{}">{}</a>').format(url, link_text))
        position = match.end()
    parts.append(escape(text[position:]))
    return Markup("").join(parts)


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
        return environment("harness.report").get_template(REPORT_TEMPLATE).render(
            title=self.title, blocks=self.blocks, inline=inline_html, anchor=_anchor,
            png_uri=lambda file_name: png_data_uri(folder / file_name),
            wav_uri=lambda file_name: wav_file_data_uri(folder / file_name))


def _anchor(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def wav_file_data_uri(path: Path) -> str:
    return "data:audio/wav;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def level_text(value: Any) -> str:
    """A level as the spec writes it: ``true``/``false`` for booleans, strings unquoted."""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float) and math.isnan(value):
        return "–"
    return str(value)
