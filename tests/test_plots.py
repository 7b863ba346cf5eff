"""Figures: PNG files appear, are capped at four clip rows, and stay fast."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from harness.diagnostics import diagnose_clip
from harness.plots import MAX_CLIP_ROWS, plot_clips, plot_training_curves

RATE_HZ = 16000
N = 500
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == PNG_SIGNATURE
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def _clips(count: int) -> list[np.ndarray]:
    rng = np.random.default_rng(count)
    clips = []
    for index in range(count):
        clip = (0.3 * rng.standard_normal(2000)).astype(np.float32)
        clip[N * (index % 3 + 1) :] = 0.2 * index / count  # frozen after 1, 2 or 3 windows
        clips.append(clip)
    return clips


def test_plot_clips_writes_one_row_per_clip_up_to_the_cap(tmp_path: Path) -> None:
    two = plot_clips(_clips(2), RATE_HZ, N, None, tmp_path / "two.png")
    four = plot_clips(_clips(4), RATE_HZ, N, None, tmp_path / "four.png")
    six = plot_clips(_clips(6), RATE_HZ, N, None, tmp_path / "nested" / "six.png", title="six")
    assert _png_size(four)[1] > _png_size(two)[1]
    assert _png_size(six) == _png_size(four)  # rows past MAX_CLIP_ROWS are not drawn
    assert MAX_CLIP_ROWS == 4


def test_plot_clips_draws_diagnoses_beside_the_clips(tmp_path: Path) -> None:
    clips = _clips(4)
    diagnoses = [diagnose_clip(clip, RATE_HZ, N) for clip in clips]
    assert any(d.metrics["collapse_onset_sample"] is not None for d in diagnoses)
    plain = plot_clips(clips, RATE_HZ, N, None, tmp_path / "plain.png")
    path = plot_clips(clips, RATE_HZ, N, diagnoses, tmp_path / "clips.png", title="step 100")
    assert path.stat().st_size > 10_000
    assert _png_size(path) == _png_size(plain)
    assert path.read_bytes() != plain.read_bytes()  # onset markers and labels are drawn


def test_plot_clips_needs_a_clip(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no clips"):
        plot_clips([], RATE_HZ, N, None, tmp_path / "none.png")


def test_plot_training_curves_handles_missing_and_zero_series(tmp_path: Path) -> None:
    steps = np.arange(300)
    history = {
        "d_loss": list(1.0 / (1 + steps)),
        "g_loss": list(np.log1p(steps)),
        "d_acc_real": list(np.minimum(1.0, 0.5 + steps / 300)),
        "g_grad_norm": [0.0] * 300,  # a vanished gradient must still be drawable on a log axis
    }
    path = plot_training_curves(history, tmp_path / "curves.png")
    width, height = _png_size(path)
    assert width > 400 and height > 300
