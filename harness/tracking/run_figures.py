"""Figures of generated clips, training curves and the learning curve, written as PNG files.

Uses matplotlib's object API with the Agg canvas directly (no pyplot, no global
backend switch), so it works headless, in worker processes and in threads.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from scipy.signal import lfilter, spectrogram

from harness.evaluation import catalogue
from harness.evaluation.catalogue import key_of
from harness.evaluation.diagnostics import ClipDiagnosis
from harness.evaluation.dynamics import DISCRIMINATOR_WON_ACCURACY, VANISHING_GRAD_NORM

MAX_CLIP_ROWS = 4  # more rows make each too small to read; callers pick the clips to show
SPECTROGRAM_FLOOR_DB = -100.0
_DPI = 80


def save_figure(figure: Figure, path: Path, dpi: int = _DPI,
                metadata: Mapping[str, str] | None = None) -> Path:
    """Render `figure` to the PNG `path` (its folder is created) and return the path.

    `metadata` goes into the PNG's text chunks (key -> text).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(figure)
    # zlib level 1: a third of the encoding time of the default, files barely larger.
    figure.savefig(path, dpi=dpi, metadata=dict(metadata or {}), pil_kwargs={"compress_level": 1})
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
        _draw_waveform(wave_axis, clip, sample_rate_hz, n, diagnosis, row)
        _draw_spectrogram(spec_axis, clip, sample_rate_hz)
    axes[-1, 0].set_xlabel("time (s)", fontsize=8)
    axes[-1, 1].set_xlabel("time (s)", fontsize=8)
    if title:
        figure.suptitle(title)
    return save_figure(figure, path)


def _draw_waveform(wave_axis, clip: np.ndarray, sample_rate_hz: int, n: int,
                   diagnosis: ClipDiagnosis | None, row: int) -> None:
    """The clip's waveform with a dashed line at sample n and a red one at the collapse onset."""
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


def _draw_spectrogram(spec_axis, clip: np.ndarray, sample_rate_hz: int) -> None:
    """The clip's log power spectrogram, from `SPECTROGRAM_FLOOR_DB` to its peak."""
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


# Training-curve panels: (title, history keys, x label, y scale, (threshold, its legend) or None,
# what an empty panel says).
# The keys are the trainer's: "<phase>/<metric>", one value per step of that phase, step 0 first
# (`harness.training.trainer.Trainer._record`; the same names and steps as the MLflow metrics).
# Scale "auto" turns logarithmic when a positive series spans more than `_AUTO_LOG_RATIO`.
CURVE_PANELS: tuple[tuple[str, tuple[str, ...], str, str, tuple[float, str] | None, str], ...] = (
    ("autoencoder: reconstruction MSE", (key_of("autoencoder", "reconstruction_mse"),),
     "autoencoder step",
     "auto", None, "not recorded: no autoencoder steps in this run"),
    ("teacher forcing: loss", (key_of("pretrain", "teacher_loss"),), "teacher-forcing step",
     "auto", None,
     "not recorded: no teacher-forcing steps (pretrain_epochs = 0?)"),
    ("teacher forcing: gradient norm", (key_of("pretrain", "grad_norm"),),
     "teacher-forcing step", "log",
     None, "not recorded: no teacher-forcing steps (pretrain_epochs = 0?)"),
    ("GAN: losses", (key_of("gan", "d_loss"), key_of("gan", "g_loss")), "GAN step", "linear",
     None,
     "not recorded: no GAN steps in this run"),
    ("GAN: discriminator accuracy", (key_of("gan", "d_acc_real"), key_of("gan", "d_acc_fake")),
     "GAN step", "linear",
     (DISCRIMINATOR_WON_ACCURACY, f"D has won at >= {DISCRIMINATOR_WON_ACCURACY:g}"),
     "not recorded: no GAN steps in this run"),
    ("GAN: gradient norms", (key_of("gan", "g_grad_norm"), key_of("gan", "d_grad_norm")),
     "GAN step", "log",
     (VANISHING_GRAD_NORM, f"vanishing below {VANISHING_GRAD_NORM:g}"),
     "not recorded: no GAN steps in this run"),
)
# The learning curve: MLflow metrics logged at every evaluation (step = GAN step).
LIKELIHOOD_LOSS = catalogue.TEACHER_LOSS.key
PRETRAIN_HELDOUT_LOSS = catalogue.PRETRAIN_HELDOUT_LOSS.key  # the same loss during teacher forcing
LIKELIHOOD_BASELINES = (catalogue.BASELINE_MARGINAL.key, catalogue.BASELINE_LINEAR.key)
LEARNING_CURVE_TITLE = "learning curve: teacher-forced loss on held-out audio"
SMOOTH_FROM_POINTS = 20  # shorter series are drawn as they are, with markers
_AUTO_LOG_RATIO = 100.0
_LOG_FLOOR = 1e-12  # log axes cannot show 0; a vanished gradient still has to be visible
_PANELS_KEY = "samplegan.panels"  # PNG text chunk holding `TrainingCurves.panels`


@dataclass(frozen=True)
class TrainingCurves:
    """What `plot_training_curves` drew, read back from the figure's lines before saving.

    Attributes:
        path: the PNG file.
        panels: panel title -> {metric key: points on its line}; a baseline drawn as a
            horizontal line counts 1. An empty mapping is a panel that says "not recorded".
        smoothed: metric keys drawn with an EMA line over the raw one.
        figure: the drawn figure, to measure where things landed (e.g. the legends).
    """

    path: Path
    panels: dict[str, dict[str, int]]
    smoothed: tuple[str, ...]
    figure: Figure | None = field(default=None, repr=False, compare=False)


def ema(values: Sequence[float], span: int) -> np.ndarray:
    """Exponential moving average with weight 2 / (span + 1), debiased at the start.

    Debiased as in Adam and TensorBoard: the running sum starts at 0 and is divided by the
    weight it has gathered, so the first value is the first input, not a fraction of it.
    """
    values = np.asarray(values, dtype=np.float64)
    decay = 1.0 - 2.0 / (max(1, span) + 1.0)
    running = lfilter([1.0 - decay], [1.0, -decay], values)
    return running / (1.0 - decay ** np.arange(1, values.size + 1))


def _smoothing_span(points: int) -> int:
    return int(np.clip(round(points / 20), 2, 200))


def _draw_series(axis, key: str, values: np.ndarray, log: bool, color) -> bool:
    """One per-step series: a light raw line under an EMA, or a marked line when short.

    Returns True when it was smoothed.
    """
    label = key.split("/", 1)[-1]
    steps = np.arange(values.size)
    if log:
        values = np.maximum(values, _LOG_FLOOR)
    if values.size < SMOOTH_FROM_POINTS:
        axis.plot(steps, values, color=color, linewidth=1.0, marker="o", markersize=3,
                  label=label, gid=f"data:{key}")
        return False
    span = _smoothing_span(values.size)
    # Log panels average the logarithm: a geometric mean, not one dominated by spikes.
    smooth = 10 ** ema(np.log10(values), span) if log else ema(values, span)
    axis.plot(steps, values, color=color, linewidth=0.6, alpha=0.3, gid=f"data:{key}")
    axis.plot(steps, smooth, color=color, linewidth=1.5, label=f"{label} (EMA {span} steps)",
              gid=f"ema:{key}")
    return True


def _not_recorded(axis, message: str) -> None:
    axis.text(0.5, 0.5, message, transform=axis.transAxes, ha="center", va="center",
              color="0.35", fontsize=9, wrap=True)
    axis.set_xticks([])
    axis.set_yticks([])
    axis.set_facecolor("0.97")


def _wants_log(scale: str, series: Sequence[np.ndarray]) -> bool:
    if scale != "auto":
        return scale == "log"
    values = np.concatenate(series)
    return bool(values.min() > 0 and values.max() / values.min() > _AUTO_LOG_RATIO)


def _draw_learning_curve(axis, metrics: Mapping[str, Sequence[tuple[int, float]]],
                         pretrain_steps: int) -> None:
    # GAN evaluations follow the teacher-forced steps on one axis of training steps.
    loss = sorted((pretrain_steps + step, value)
                  for step, value in dict(metrics.get(LIKELIHOOD_LOSS) or ()).items())
    pretrain = sorted(dict(metrics.get(PRETRAIN_HELDOUT_LOSS) or ()).items())
    baselines = {key: metrics[key][-1][1] for key in LIKELIHOOD_BASELINES if metrics.get(key)}
    if not loss and not baselines and not pretrain:
        _not_recorded(axis, "not recorded: this run logged no likelihood/* metrics")
        return
    if pretrain:
        steps, values = zip(*pretrain, strict=True)
        axis.plot(steps, values, color="tab:green", linewidth=1.2, marker=".", markersize=4,
                  label="held-out loss during teacher forcing",
                  gid=f"data:{PRETRAIN_HELDOUT_LOSS}")
        axis.axvline(pretrain_steps, color="0.6", linewidth=0.8, linestyle=":")
    if loss:
        steps, values = zip(*loss, strict=True)
        axis.plot(steps, values, color="tab:blue", linewidth=1.2, marker="o", markersize=4,
                  label="teacher_loss (held out)", gid=f"data:{LIKELIHOOD_LOSS}")
    styles = {catalogue.BASELINE_MARGINAL.key: ("tab:gray", "--"),
              catalogue.BASELINE_LINEAR.key: ("tab:red", "-.")}
    for key, value in baselines.items():
        color, style = styles[key]
        name = catalogue.metric(key).title
        axis.axhline(value, color=color, linestyle=style, linewidth=1.2,
                     label=f"{name} {value:.4g}", gid=f"baseline:{key}")
    if loss and catalogue.BASELINE_LINEAR.key in baselines:
        gain = baselines[catalogue.BASELINE_LINEAR.key] - loss[-1][1]
        axis.set_title(f"{LEARNING_CURVE_TITLE}; last gain over linear {gain:+.4g} "
                       "(> 0: better than linear prediction)", fontsize=9, loc="left")
    # Beside the axes, in the column the figure leaves free for it: inside, it would cover the
    # last evaluations, which are the points a reader looks for.
    axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize=8)


def _panel_record(axis) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in axis.get_lines():
        kind, _, key = (line.get_gid() or "").partition(":")
        if kind == "data":
            counts[key] = len(line.get_xdata())
        elif kind == "baseline":
            counts[key] = 1
    return counts


def plot_training_curves(history: Mapping[str, Sequence[float]], path: Path,
                         evaluation_metrics: Mapping[str, Sequence[tuple[int, float]]] | None = None,
                         ) -> TrainingCurves:
    """Every phase's per-step curves, and the likelihood learning curve, in one figure.

    Left column: the autoencoder's reconstruction MSE and the teacher-forced loss and
    gradient norm; right column: the GAN's losses, discriminator accuracies and gradient
    norms, each against its own phase's steps (0 first). Series of `SMOOTH_FROM_POINTS`
    steps or more are drawn light with an EMA over them (log panels smooth the
    logarithm). Dotted lines mark the thresholds of `harness.evaluation.dynamics.diagnose_training`.
    The bottom panel is the learning curve: the held-out loss every `eval_every`
    teacher-forced steps (`pretrain/heldout_loss`), then `likelihood/teacher_loss` at each
    GAN evaluation (at teacher-forced steps + GAN step), with the baselines as
    horizontal lines, and its legend beside the axes so it covers no evaluation. A panel
    with no data says "not recorded" and why.

    Args:
        history: The trainer's per-step series (`Trainer.history`), keyed
            ``<phase>/<metric>`` as in `CURVE_PANELS`; missing keys are skipped.
        path: PNG file to write; its folder is created. Its text chunk
            ``samplegan.panels`` holds `TrainingCurves.panels` as JSON.
        evaluation_metrics: Metric histories, key -> [(step, value), ...], e.g. read from
            MLflow; the learning curve uses `LIKELIHOOD_LOSS` and `LIKELIHOOD_BASELINES`
            (other keys are ignored).

    Returns:
        What was drawn (`TrainingCurves`).
    """
    figure = Figure(figsize=(12, 11))
    figure.subplots_adjust(left=0.07, right=0.98, bottom=0.05, top=0.97, hspace=0.55, wspace=0.18)
    grid = figure.add_gridspec(4, 2)
    axes = [figure.add_subplot(grid[row, column]) for column in (0, 1) for row in range(3)]
    panels: dict[str, dict[str, int]] = {}
    smoothed: list[str] = []
    for axis, (title, keys, xlabel, scale, threshold, empty) in zip(axes, CURVE_PANELS, strict=True):
        axis.set_title(title, fontsize=9, loc="left")
        series = {key: np.asarray(history[key], dtype=np.float64)
                  for key in keys if len(history.get(key) or ()) > 0}
        if not series:
            _not_recorded(axis, empty)
        else:
            smoothed += _draw_panel(axis, series, xlabel, scale, threshold)
        panels[title] = _panel_record(axis)
    learning = figure.add_subplot(grid[3, :].subgridspec(1, 2, width_ratios=(3.6, 1.0))[0])
    _draw_learning_panel(learning, evaluation_metrics or {},
                         len(history.get(catalogue.PRETRAIN_TEACHER_LOSS.key) or ()))
    panels[LEARNING_CURVE_TITLE] = _panel_record(learning)
    save_figure(figure, path, metadata={_PANELS_KEY: json.dumps(panels)})
    return TrainingCurves(Path(path), panels, tuple(smoothed), figure)


def _draw_panel(axis, series: Mapping[str, np.ndarray], xlabel: str, scale: str,
                threshold: tuple[float, str] | None) -> list[str]:
    """One panel's series (and threshold line); returns the keys drawn smoothed."""
    smoothed = []
    log = _wants_log(scale, list(series.values()))
    for index, (key, values) in enumerate(series.items()):
        if _draw_series(axis, key, values, log, f"C{index}"):
            smoothed.append(key)
    if log:
        axis.set_yscale("log")
    if threshold is not None:
        value, meaning = threshold
        axis.axhline(value, color="0.4", linestyle=":", linewidth=1, label=meaning)
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_xlabel(xlabel, fontsize=8)
    axis.tick_params(which="both", labelsize=7)
    axis.legend(loc="best", fontsize=7)
    return smoothed


def _draw_learning_panel(learning, evaluation_metrics: Mapping[str, Sequence[tuple[int, float]]],
                         pretrain_steps: int) -> None:
    """The learning curve: held-out loss while teacher forcing, then at GAN evaluations."""
    learning.set_title(LEARNING_CURVE_TITLE, fontsize=9, loc="left")
    _draw_learning_curve(learning, evaluation_metrics, pretrain_steps)
    if learning.get_lines():
        learning.set_xlim(left=0)
        learning.xaxis.set_major_locator(MaxNLocator(integer=True))
        learning.set_xlabel("training step: teacher forcing, then GAN (one point per "
                            "evaluation)" if pretrain_steps else "GAN step (one point per evaluation)",
                            fontsize=8)
        learning.set_ylabel("nats/sample (mu-law) or MSE (tanh)", fontsize=8)
        learning.tick_params(labelsize=7)


def panels_drawn(path: Path) -> dict[str, dict[str, int]]:
    """`TrainingCurves.panels` of a `plot_training_curves` PNG (e.g. a downloaded artifact)."""
    from PIL import Image

    with Image.open(path) as image:
        return json.loads(image.text[_PANELS_KEY])


# The pitch-track figure: pYIN's f0 over the spectrogram, generated beside held-out audio.
PITCH_VIEW_LOW_HZ = 50.0  # below pYIN's lowest pitch, so a bass note's track is not on the edge
PITCH_SPECTROGRAM_RANGE_DB = 80.0  # shown below each clip's peak: quieter bins are black
_PITCH_TICKS_HZ = (100, 200, 500, 1000, 2000, 4000, 8000, 16000)


@dataclass(frozen=True)
class PitchFigure:
    """What `plot_pitch_tracks` drew.

    Attributes:
        path: the PNG file.
        panels: panel title -> (voiced share of its frames, mean voicing probability), from
            the pitch track drawn in it.
        figure: the drawn figure, to measure what landed where.
    """

    path: Path
    panels: dict[str, tuple[float, float]]
    figure: Figure | None = field(default=None, repr=False, compare=False)


def _draw_pitch_spectrogram(axis, clip: np.ndarray, sample_rate_hz: int, track, name: str) -> None:
    """One clip's log-frequency power spectrogram with pYIN's voiced f0 drawn over it."""
    import librosa

    from harness.evaluation.music import PITCH_HIGH_HZ, PITCH_LOW_HZ
    from harness.evaluation.spectral import spectral_fft_size

    n_fft = spectral_fft_size(sample_rate_hz)
    power_db = librosa.power_to_db(
        np.abs(librosa.stft(np.pad(clip, (0, max(0, n_fft - clip.size))), n_fft=n_fft,
                            hop_length=n_fft // 2)) ** 2,
        ref=np.max, amin=1e-12, top_db=PITCH_SPECTROGRAM_RANGE_DB)  # (bins, frames)
    frequencies = librosa.fft_frequencies(sr=sample_rate_hz, n_fft=n_fft)
    axis.pcolormesh(track.times_s[: power_db.shape[1]], frequencies, power_db,
                    cmap="magma", shading="nearest", rasterized=True)
    axis.set_yscale("log")
    axis.set_ylim(PITCH_VIEW_LOW_HZ, sample_rate_hz / 2)
    ticks = [hz for hz in _PITCH_TICKS_HZ if hz < sample_rate_hz / 2]
    axis.set_yticks(ticks, [f"{hz / 1000:g}k" if hz >= 1000 else str(hz) for hz in ticks])
    axis.minorticks_off()
    axis.plot(track.times_s, track.f0_hz, color="cyan", linewidth=1.8,
              label="pYIN f0 (voiced frames)", gid=f"f0:{name}")
    for bound in (PITCH_LOW_HZ, PITCH_HIGH_HZ):
        axis.axhline(bound, color="0.8", linewidth=0.6, linestyle=":")
    axis.tick_params(labelsize=7, labelbottom=False)


def plot_pitch_tracks(clips: Mapping[str, np.ndarray], sample_rate_hz: int, path: Path,
                      title: str = "") -> PitchFigure:
    """pYIN's pitch track over the log-frequency spectrogram of each clip, side by side.

    Each column is one clip: on top its power spectrogram (frames as the music metrics'
    pYIN uses, `harness.evaluation.music.pitch_track`; from `PITCH_SPECTROGRAM_RANGE_DB`
    below its peak) on a log-frequency axis, with the f0 of the frames pYIN calls voiced
    drawn over it (gaps where it calls them unvoiced); below it the voicing probability,
    voiced frames shaded. A held-out clip beside a generated one shows at a glance whether
    the generated audio holds a pitch as real audio does.

    Args:
        clips: panel title -> (samples,) waveform in [-1, 1], e.g. {"generated clip 0": ...,
            "held-out clip 0": ...}; drawn left to right in this order.
        sample_rate_hz: Sample rate of every clip in Hz.
        path: PNG file to write; its folder is created.
        title: Figure title.

    Returns:
        What was drawn (`PitchFigure`).

    Raises:
        ValueError: If `clips` is empty.
    """
    from harness.evaluation.music import pitch_track

    if not clips:
        raise ValueError("no clips to plot")
    figure = Figure(figsize=(5.6 * len(clips) + 0.4, 4.6))
    figure.subplots_adjust(left=0.08 / len(clips), right=0.99, bottom=0.11, top=0.84,
                           hspace=0.08, wspace=0.12)
    grid = figure.add_gridspec(2, len(clips), height_ratios=(3.2, 1.0))
    panels: dict[str, tuple[float, float]] = {}
    for column, (name, clip) in enumerate(clips.items()):
        clip = np.asarray(clip, dtype=np.float32)
        spec_axis = figure.add_subplot(grid[0, column])
        voicing_axis = figure.add_subplot(grid[1, column], sharex=spec_axis)
        track = pitch_track(clip, sample_rate_hz)
        _draw_pitch_spectrogram(spec_axis, clip, sample_rate_hz, track, name)
        voiced_share = float(np.mean(track.voiced)) if track.voiced.size else 0.0
        confidence = float(np.nanmean(track.probability)) if track.probability.size else 0.0
        panels[name] = (voiced_share, confidence)
        spec_axis.set_title(f"{name}: voiced {voiced_share:.0%} of frames, mean voicing "
                            f"probability {confidence:.2f}", fontsize=9, loc="left")
        voicing_axis.fill_between(track.times_s, 0.0, track.voiced.astype(float), step="mid",
                                  color="tab:cyan", alpha=0.25, linewidth=0, label="voiced")
        voicing_axis.plot(track.times_s, track.probability, color="tab:blue", linewidth=1.0,
                          label="voicing probability", gid=f"probability:{name}")
        voicing_axis.set_ylim(0.0, 1.02)
        voicing_axis.set_xlim(0.0, max(clip.size, 1) / sample_rate_hz)
        voicing_axis.set_xlabel("time (s)", fontsize=8)
        voicing_axis.tick_params(labelsize=7)
        if column == 0:
            spec_axis.set_ylabel("Hz (log)", fontsize=8)
            spec_axis.legend(loc="upper right", fontsize=7)
            voicing_axis.legend(loc="upper right", fontsize=7, ncols=2)
    figure.suptitle(title or "does it hold a pitch? pYIN f0 over the spectrogram", fontsize=10)
    save_figure(figure, path)
    return PitchFigure(Path(path), panels, figure)
