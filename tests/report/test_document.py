"""The report's HTML: hostile text in every place a document puts text is escaped exactly once."""

from __future__ import annotations

from pathlib import Path

from harness.report.document import Document

HOSTILE = "<script>alert(\"x & 'y'\")</script>"
ESCAPED = "&lt;script&gt;alert(&#34;x &amp; &#39;y&#39;&#34;)&lt;/script&gt;"
# A link's URL stops at white space or ")" (the Markdown subset's rule).
HOSTILE_URL = "http://h/?a=1&b=\"'<script>"
ESCAPED_URL = "http://h/?a=1&amp;b=&#34;&#39;&lt;script&gt;"


def _page(tmp_path: Path) -> str:
    (tmp_path / "plot.png").write_bytes(b"\x89PNG\r\n\x1a\npixels")
    (tmp_path / "clip.wav").write_bytes(b"RIFFwave")
    document = Document(f"Study {HOSTILE}")
    document.heading(f"Answer {HOSTILE}")
    document.paragraph(f"See [the run]({HOSTILE_URL}) and **{HOSTILE}**.")
    document.bullets([HOSTILE])
    document.table(["axis", HOSTILE], [["`lr`", HOSTILE]], sortable=True)
    document.image("plot.png", f"effects {HOSTILE}")
    document.audio("clip.wav", f"best clip {HOSTILE}")
    return document.html(tmp_path)


def test_hostile_text_is_escaped_once_in_every_place(tmp_path: Path) -> None:
    page = _page(tmp_path)
    assert f"<title>Study {ESCAPED}</title>" in page
    assert f"<h1>Study {ESCAPED}</h1>" in page
    assert f"<h2 id='answer-script-alert-x-y-script'>Answer {ESCAPED}</h2>" in page
    assert f"<a href=\"{ESCAPED_URL}\">the run</a> and <b>{ESCAPED}</b>." in page
    assert f"<li>{ESCAPED}</li>" in page
    assert f"<th>{ESCAPED}</th>" in page and f"<td>{ESCAPED}</td>" in page
    assert f"<img alt='effects {ESCAPED}' src='data:image/png;base64," in page
    assert f"<figcaption>best clip {ESCAPED}</figcaption>" in page
    assert page.count(ESCAPED) == 9
    assert "<script>alert" not in page and "&amp;lt;" not in page and "&amp;#" not in page


def test_the_markdown_subset_stays_markup_and_the_media_are_embedded(tmp_path: Path) -> None:
    page = _page(tmp_path)
    assert "<td><code>lr</code></td>" in page  # not escaped a second time by the template
    assert "<table class='sortable'><thead><tr><th>axis</th>" in page
    assert "src='data:image/png;base64,iVBORw0KGgpwaXhlbHM='" in page
    assert "<audio controls preload='auto' src='data:audio/wav;base64,UklGRndhdmU='>" in page
    assert "plot.png" not in page and "clip.wav" not in page
    assert page.count("<script>") == 1  # the sort script, only
