"""The run page's HTML: hostile text is escaped exactly once; every clip and figure is embedded."""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path

import numpy as np

from harness.evaluation.diagnostics import diagnose_batch
from harness.tracking.run_page import PITCH_HEADING, PitchSection, evaluation_page
from harness.training.events import Evaluation

RATE_HZ = 16000
N = 500
HOSTILE = "<script>alert(\"x & 'y'\")</script>"
ESCAPED = "&lt;script&gt;alert(&#34;x &amp; &#39;y&#39;&#34;)&lt;/script&gt;"
FIGURES = {"clips": "waveforms and spectrograms", "pitch": "pitch track over the spectrogram",
           "curves": "training curves"}  # file stem -> the alt text the page gives it


@dataclasses.dataclass
class _WithForeignMetric(Evaluation):
    """An evaluation that also reports a metric the catalogue does not know, named `HOSTILE`."""

    def metrics(self) -> dict[str, float]:
        return {**super().metrics(), f"custom/{HOSTILE}": 1.5}


def _evaluation() -> Evaluation:
    clips = (0.3 * np.random.default_rng(0).standard_normal((2, 4 * N))).astype(np.float32)
    clips[1, N:] = 0.1  # holds a constant after one window
    return _WithForeignMetric(step=7, sample_rate_hz=RATE_HZ, n=N, clips=clips,
                              diagnosis=diagnose_batch(list(clips), RATE_HZ, N),
                              quality={}, dynamics={})


def _png(stem: str) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + stem.encode()


def _page(tmp_path: Path) -> str:
    figures = {stem: tmp_path / f"{stem}.png" for stem in FIGURES}
    for stem, path in figures.items():
        path.write_bytes(_png(stem))
    history = [{"step": 7, "batch label": HOSTILE}]
    return evaluation_page(f"Run {HOSTILE}", _evaluation(), figures["clips"],
                           summary={f"name {HOSTILE}": HOSTILE}, history_rows=history,
                           curves_png=figures["curves"],
                           pitch=PitchSection(figures["pitch"], f"pYIN's f0 {HOSTILE}"))


def test_hostile_text_is_escaped_once_in_every_place(tmp_path: Path) -> None:
    page = _page(tmp_path)
    assert f"<title>Run {ESCAPED}</title>" in page and f"<h1>Run {ESCAPED}</h1>" in page
    assert f"<tr><th>name {ESCAPED}</th><td>{ESCAPED}</td></tr>" in page  # the summary
    assert f"<h2>{PITCH_HEADING}</h2><p>pYIN&#39;s f0 {ESCAPED}</p>" in page
    assert f"<tr><td>7</td><td>{ESCAPED}</td></tr>" in page  # the evaluations over training
    assert f"<tr><th>custom/{ESCAPED}</th><td>1.5</td><td></td></tr>" in page
    assert page.count(ESCAPED) == 7
    assert "<script" not in page and "&amp;lt;" not in page and "&amp;#" not in page


def test_every_clip_and_figure_is_embedded(tmp_path: Path) -> None:
    page = _page(tmp_path)
    assert page.count("<audio controls preload='none' src='data:audio/wav;base64,UklGR") == 2
    assert "<td>clip 1</td><td class='label-flat_collapse'>flat_collapse</td>" in page
    for stem, alt in FIGURES.items():
        uri = "data:image/png;base64," + base64.b64encode(_png(stem)).decode("ascii")
        assert f"<img alt='{alt}' src='{uri}'>" in page
    assert ".png" not in page
