"""Figures of generated clips and training curves, written as PNG files.

Uses matplotlib's object API with the Agg canvas directly (no pyplot, no global
backend switch), so it works headless, in worker processes and in threads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from scipy.signal import spectrogram

from harness.diagnostics import ClipDiagnosis
from harness.dynamics import DISCRIMINATOR_WON_ACCURACY, VANISHING_GRAD_NORM

MAX_CLIP_ROWS = 4  # more rows make each too small to read; callers pick the clips to show
SPECTROGRAM_FLOOR_DB = -100.0
_DPI = 80


def save_figure(figure: Figure, path: Path, dpi: int = _DPI) -> Path:
    """Render `figure` to the PNG `path` (its folder is created) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(figure)
    # zlib level 1: a third of the encoding time of the default, files barely larger.
    figure.savefig(path, dpi=dpi, pil_kwargs={"compress_level": 1})
    return path


def plot_clips(
    clips: Sequence[np.ndarray],
    sample_rate_hz: int,
    n: int,
    diagnoses: Sequence[ClipDiagnosis] | None,
    path: Path,
    title: str = "",
) -> Path:
    """Waveform and log spectrogram of up to `MAX_CLIP_ROWS` clips, one row per clip.

    Each waveform shows a dashed line at sample n (the seed has left the generator's
    window) and, when the diagnosis has one, a red line at the collapse onset; the
    row title carries the label and onset.

    Args:
        clips: Sequence of (samples,) waveforms in [-1, 1]; only the first
            `MAX_CLIP_ROWS` are drawn.
        sample_rate_hz: Sample rate in Hz.
        n: The generator's window in samples.
        diagnoses: The clips' diagnoses in the same order, or None for no labels.
        path: PNG file to write; its folder is created.
        title: Figure title.

    Returns:
        `path`.

    Raises:
        ValueError: If clips is empty.
    """
    if len(clips) == 0:
        raise ValueError("no clips to plot")
    shown = list(clips[:MAX_CLIP_ROWS])
    # Fixed margins: constrained layout would take most of the time budget on its own.
    figure = Figure(figsize=(11, 2.2 * len(shown) + 0.6))
    figure.subplots_adjust(left=0.06, right=0.98, bottom=0.08, top=0.9, hspace=0.7, wspace=0.15)
    axes = figure.subplots(len(shown), 2, squeeze=False)
    for row, clip in enumerate(shown):
        clip = np.asarray(clip, dtype=np.float32)
        diagnosis = diagnoses[row] if diagnoses is not None else None
        wave_axis, spec_axis = axes[row]
        time_s = np.arange(clip.size) / sample_rate_hz
        wave_axis.plot(time_s, clip, linewidth=0.6, color="tab:blue")
        wave_axis.axvline(n / sample_rate_hz, color="0.3", linestyle="--", linewidth=1, label="sample n")
        heading = f"clip {row}"
        if diagnosis is not None:
            onset = diagnosis.metrics.get("collapse_onset_sample")
            heading += f": {diagnosis.label}"
            if onset is not None:
                wave_axis.axvline(onset / sample_rate_hz, color="tab:red", linewidth=1.2, label="collapse onset")
                heading += f", onset {onset} = {onset / n:.2f} n"
        wave_axis.set_title(heading, fontsize=9, loc="left")
        wave_axis.set_xlim(0, max(clip.size, 1) / sample_rate_hz)
        wave_axis.set_ylim(-1.05, 1.05)
        wave_axis.tick_params(labelsize=7)
        if row == 0:
            wave_axis.legend(loc="upper right", fontsize=7)

        segment = max(1, min(256, clip.size))
        _, _, power = spectrogram(
            clip, fs=sample_rate_hz, nperseg=segment, noverlap=segment // 2, scaling="spectrum"
        )
        power_db = 10.0 * np.log10(np.maximum(power, 10 ** (SPECTROGRAM_FLOOR_DB / 10)))
        spec_axis.imshow(
            power_db, origin="lower", aspect="auto", cmap="magma",
            extent=(0.0, clip.size / sample_rate_hz, 0.0, sample_rate_hz / 2),
            vmin=SPECTROGRAM_FLOOR_DB, vmax=max(SPECTROGRAM_FLOOR_DB + 1, float(power_db.max())),
        )
        spec_axis.set_title(f"log power, {SPECTROGRAM_FLOOR_DB:.0f} dB (black) to peak", fontsize=8, loc="left")
        spec_axis.set_ylabel("Hz", fontsize=8)
        spec_axis.tick_params(labelsize=7)
    axes[-1, 0].set_xlabel("time (s)", fontsize=8)
    axes[-1, 1].set_xlabel("time (s)", fontsize=8)
    if title:
        figure.suptitle(title)
    return save_figure(figure, path)


def plot_training_curves(history: Mapping[str, Sequence[float]], path: Path) -> Path:
    """Losses, discriminator accuracies and gradient norms against training step.

    Dotted lines mark the thresholds of `harness.dynamics.diagnose_training`
    (discriminator won, vanishing generator gradients).

    Args:
        history: Per-step series; any of ``d_loss``, ``g_loss``, ``d_acc_real``,
            ``d_acc_fake``, ``g_grad_norm``, ``d_grad_norm``. Missing ones are skipped.
        path: PNG file to write; its folder is created.

    Returns:
        `path`.
    """
    panels = (
        ("loss", ("d_loss", "g_loss"), "linear", None),
        ("discriminator accuracy", ("d_acc_real", "d_acc_fake"), "linear", DISCRIMINATOR_WON_ACCURACY),
        ("gradient norm", ("g_grad_norm", "d_grad_norm"), "log", VANISHING_GRAD_NORM),
    )
    figure = Figure(figsize=(11, 7))
    figure.subplots_adjust(left=0.08, right=0.98, bottom=0.07, top=0.97, hspace=0.15)
    axes = figure.subplots(len(panels), 1, sharex=True)
    for axis, (name, keys, scale, threshold) in zip(axes, panels, strict=True):
        drawn = False
        for key in keys:
            values = history.get(key)
            if values is None or len(values) == 0:
                continue
            values = np.asarray(values, dtype=np.float64)
            if scale == "log":
                # Log axes cannot show 0; a vanished gradient still has to be visible.
                values = np.maximum(values, 1e-12)
            axis.plot(np.arange(values.size), values, linewidth=0.8, label=key)
            drawn = True
        axis.set_ylabel(name, fontsize=9)
        if drawn:
            axis.set_yscale(scale)
            if threshold is not None:
                axis.axhline(threshold, color="0.4", linestyle=":", linewidth=1, label="threshold")
            axis.legend(loc="upper right", fontsize=8)
        else:
            axis.text(0.5, 0.5, "not recorded", transform=axis.transAxes, ha="center", color="0.5")
    axes[-1].set_xlabel("step")
    return save_figure(figure, path)
