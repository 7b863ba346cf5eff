"""Figures: PNG files appear, are capped at four clip rows, and show what a real run recorded."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.evaluation.diagnostics import diagnose_clip
from harness.tracking.run_figures import (
    CURVE_PANELS,
    LEARNING_CURVE_TITLE,
    MAX_CLIP_ROWS,
    SMOOTH_FROM_POINTS,
    ema,
    panels_drawn,
    plot_clips,
    plot_pitch_tracks,
    plot_training_curves,
)

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


def test_the_pitch_track_follows_a_tone_and_finds_no_pitch_in_noise(tmp_path: Path) -> None:
    time_s = np.arange(RATE_HZ) / RATE_HZ  # 1 s: the music metrics' minimum
    tone = (0.3 * np.sin(2 * np.pi * 220.0 * time_s) + 0.1 * np.sin(2 * np.pi * 440.0 * time_s))
    noise = 0.1 * np.random.default_rng(0).standard_normal(RATE_HZ)
    drawn = plot_pitch_tracks({"generated": noise.astype(np.float32),
                               "held-out": tone.astype(np.float32)}, RATE_HZ, tmp_path / "pitch.png")
    assert _png_size(drawn.path)[0] > _png_size(drawn.path)[1] > 300  # two panels side by side
    assert drawn.panels["held-out"][0] > 0.9 and drawn.panels["generated"][0] < 0.1
    lines = {line.get_gid(): line for axis in drawn.figure.axes for line in axis.get_lines()
             if line.get_gid()}
    f0 = np.asarray(lines["f0:held-out"].get_ydata(), dtype=float)
    assert np.nanmedian(f0) == pytest.approx(220.0, rel=0.03)  # the tone's pitch, not its octave
    assert np.isnan(np.asarray(lines["f0:generated"].get_ydata(), dtype=float)).mean() > 0.9
    with pytest.raises(ValueError, match="no clips"):
        plot_pitch_tracks({}, RATE_HZ, tmp_path / "none.png")


PANEL_KEYS = {title: keys for title, keys, *_ in CURVE_PANELS}


def test_ema_is_debiased_and_matches_pandas() -> None:
    values = np.array([1.0, 2.0, 3.0, 10.0, -4.0])
    # span 3: weight 0.5; sums 0.5, 1.25, 2.125 over gathered weights 0.5, 0.75, 0.875
    assert np.allclose(ema(values, 3)[:3], [1.0, 1.25 / 0.75, 2.125 / 0.875])
    assert np.allclose(ema(values, 3), pd.Series(values).ewm(span=3, adjust=True).mean())
    assert np.allclose(ema([5.0] * 40, 7), 5.0)  # a constant stays constant from the first step


def test_plot_training_curves_handles_missing_and_zero_series(tmp_path: Path) -> None:
    steps = np.arange(300)
    history = {
        "gan/d_loss": list(1.0 / (1 + steps)),
        "gan/g_loss": list(np.log1p(steps)),
        "gan/d_acc_real": list(np.minimum(1.0, 0.5 + steps / 300)),
        "gan/g_grad_norm": [0.0] * 300,  # a vanished gradient must still be drawable on a log axis
        "autoencoder/reconstruction_mse": [0.1, 0.05, 0.02],
    }
    curves = plot_training_curves(history, tmp_path / "curves.png")
    width, height = _png_size(curves.path)
    assert width > 400 and height > 300
    assert curves.panels["GAN: losses"] == {"gan/d_loss": 300, "gan/g_loss": 300}
    assert curves.panels["GAN: discriminator accuracy"] == {"gan/d_acc_real": 300}
    assert curves.panels["GAN: gradient norms"] == {"gan/g_grad_norm": 300}
    assert curves.panels["autoencoder: reconstruction MSE"] == {"autoencoder/reconstruction_mse": 3}
    assert curves.panels["teacher forcing: loss"] == {}  # says "not recorded"
    assert curves.panels[LEARNING_CURVE_TITLE] == {}
    assert set(curves.smoothed) == {"gan/d_loss", "gan/g_loss", "gan/d_acc_real", "gan/g_grad_norm"}
    assert panels_drawn(curves.path) == curves.panels  # the PNG carries what it shows


def test_the_learning_curve_draws_the_teacher_loss_over_its_baselines(tmp_path: Path) -> None:
    # The shape MLflow's metric histories come in (TrackedRun.metric_histories): the metric
    # itself is logged by the trainer's evaluations; see test_tracking for the store's side.
    metrics = {
        "likelihood/teacher_loss": [(2, 5.3), (4, 5.1), (6, 4.2)],
        "likelihood/baseline_marginal": [(2, 5.3), (4, 5.3), (6, 5.3)],
        "likelihood/baseline_linear": [(2, 3.6), (4, 3.6), (6, 3.6)],
        "eval/collapsed_share": [(2, 1.0)],  # not the learning curve's: ignored
    }
    curves = plot_training_curves({}, tmp_path / "curves.png", metrics)
    assert curves.panels[LEARNING_CURVE_TITLE] == {
        "likelihood/teacher_loss": 3, "likelihood/baseline_marginal": 1, "likelihood/baseline_linear": 1}
    assert all(curves.panels[title] == {} for title in PANEL_KEYS)


# ------------------------------------------------------------ the history of a real run
@pytest.fixture(scope="module")
def real_run(tiny_training, tmp_path_factory):
    """A real tiny Trainer run with all three phases: (history, steps per phase, evaluations)."""
    from harness.data.corpus import synthesize_dataset
    from harness.data.loader import load_dataset
    from harness.training.events import RunOptions
    from harness.training.trainer import Trainer
    from models.registry import resolve

    folder = tmp_path_factory.mktemp("curves")
    synthesize_dataset(folder / "short", seconds=0.6, sample_rate_hz=16000, n=32, pieces=2,
                       holdout_fraction=0.5, seed=1, force=False)
    config = resolve("paper", {**tiny_training, "pretrain_epochs": 1, "ae_steps": 3, "gan_steps": 4})
    trainer = Trainer(config, load_dataset(folder / "short"), folder / "work", None,
                      RunOptions(seed=0, progress=False))
    result = trainer.run()
    return result.history, result.steps, result.evaluations


@pytest.mark.slow
def test_the_curves_of_a_real_run_draw_every_phase_with_every_step(real_run, tmp_path: Path) -> None:
    history, steps, _ = real_run
    assert steps["autoencoder"] == 3 and steps["gan"] == 4
    assert steps["pretrain"] >= SMOOTH_FROM_POINTS  # long enough to be smoothed
    curves = plot_training_curves(history, tmp_path / "curves.png")
    phase_of = {"autoencoder": "autoencoder", "teacher forcing": "pretrain", "GAN": "gan"}
    for title, keys in PANEL_KEYS.items():
        phase = phase_of[title.split(":")[0]]
        # Every series the panel names is in the real history and drawn with every step.
        assert curves.panels[title] == {key: steps[phase] for key in keys}, title
        assert all(len(history[key]) == steps[phase] for key in keys)
    assert set(curves.smoothed) == {"pretrain/teacher_loss", "pretrain/grad_norm"}
    assert curves.panels[LEARNING_CURVE_TITLE] == {}  # no metric histories given: "not recorded"
    assert panels_drawn(curves.path) == curves.panels


@pytest.mark.slow
def test_the_learning_curve_legend_leaves_the_final_evaluation_visible(real_run,
                                                                       tmp_path: Path) -> None:
    history, steps, evaluations = real_run
    # The learning curve's metrics as tracked training logs them: one point per evaluation.
    metrics = {f"likelihood/{key}": [(evaluation.step, evaluation.likelihood[key])
                                     for evaluation in evaluations]
               for key in evaluations[-1].likelihood}
    assert evaluations[-1].step == steps["gan"] and len(evaluations) >= 2
    curves = plot_training_curves(history, tmp_path / "curves.png", metrics)
    figure = curves.figure
    renderer = figure.canvas.get_renderer()
    [learning] = [axis for axis in figure.axes
                  if axis.get_title(loc="left").startswith(LEARNING_CURVE_TITLE)]
    [loss] = [line for line in learning.get_lines()
              if line.get_gid() == "data:likelihood/teacher_loss"]
    legend = learning.get_legend().get_window_extent(renderer)
    x, y = loss.get_xydata()[-1]
    assert x == steps["pretrain"] + steps["gan"]  # the final evaluation, after teacher forcing
    final = learning.transData.transform((x, y))
    marker = loss.get_markersize() * figure.dpi / 72  # points to pixels
    assert not (legend.x0 - marker <= final[0] <= legend.x1 + marker
                and legend.y0 - marker <= final[1] <= legend.y1 + marker)
    # Not by luck of where the point fell: the legend is outside the axes, inside the figure.
    frame = learning.get_window_extent(renderer)
    assert legend.x0 > frame.x1 and legend.x1 <= figure.bbox.x1
    assert len(learning.get_legend().get_texts()) == 3  # the loss and both baselines


@pytest.mark.slow
def test_the_final_page_says_why_clips_too_short_get_no_pitch_track(real_run, tmp_path: Path) -> None:
    from harness.evaluation.music import MIN_CLIP_SECONDS
    from harness.tracking.run_page import PITCH_HEADING, PITCH_PNG, pitch_section, render_evaluation

    *_, evaluations = real_run
    last = evaluations[-1]
    assert last.clips.shape[1] / last.sample_rate_hz < MIN_CLIP_SECONDS
    section = pitch_section(last, last.clips[0], tmp_path)
    assert section.png is None and not (tmp_path / PITCH_PNG).exists()
    assert section.note.startswith("No pitch track: the clips last 0.016 s, shorter than the 1 s")
    page = render_evaluation(last, tmp_path / "final", pitch=lambda folder: pitch_section(
        last, None, folder)) / "index.html"
    text = page.read_text()
    assert f"<h2>{PITCH_HEADING}</h2><p>No pitch track: the clips last" in text
