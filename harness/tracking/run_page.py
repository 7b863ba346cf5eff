"""A self-contained HTML page for one run: audio players, plots and the diagnosis.

The MLflow UI shows HTML artifacts in a sandboxed frame where relative links to
other artifacts do not resolve, so audio and images are embedded as data URIs. The page's
markup and style are the template `templates/run_page.html.j2`.
"""

from __future__ import annotations

import base64
import io
import json
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.io import wavfile

from harness.common.templates import environment
from harness.data.audio import to_int16, write_wav
from harness.evaluation import catalogue
from harness.evaluation.diagnostics import COLLAPSED_LABELS, ONSET_LABELS
from harness.tracking.run_figures import plot_clips, plot_pitch_tracks
from harness.training.events import Evaluation

RUN_PAGE_TEMPLATE = "run_page.html.j2"  # in harness/tracking/templates/


def wav_data_uri(audio: np.ndarray, sample_rate_hz: int) -> str:
    buffer = io.BytesIO()
    wavfile.write(buffer, sample_rate_hz, to_int16(audio))
    return "data:audio/wav;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def png_data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _format(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


@dataclass(frozen=True)
class MetricRow:
    """One row of the metrics table: the MLflow key, the value with the catalogue's unit, and
    what the metric is (None for a metric logged outside the catalogue)."""

    key: str
    value: str
    note: str | None


def metric_rows(metrics: Mapping[str, float]) -> list[MetricRow]:
    """One row per logged metric (for a metric with a floor, the note says what the floor is,
    so a larger floor does not read as "the model beats real audio")."""
    rows = []
    for key, value in metrics.items():
        try:
            entry = catalogue.metric(key)
        except KeyError:  # logged outside the catalogue: shown as it is
            rows.append(MetricRow(key, _format(value), None))
            continue
        if key == entry.key:
            note = (f"{entry.description}; {catalogue.floor_wording(entry, metrics.get(entry.floor_key('p95')))}"
                    if entry.floor else entry.description)
        else:
            note = "floor: real clips of the same count and length as the generated ones"
        rows.append(MetricRow(key, entry.format(value), note))
    return rows


@dataclass(frozen=True)
class ClipRow:
    """One generated clip on the page: its label, what the diagnosis measured, its player."""

    label: str
    onset_over_n: str
    ac_level_db: str
    audio_uri: str


def _clip_rows(evaluation: Evaluation) -> list[ClipRow]:
    rows = []
    for clip, diagnosis in zip(evaluation.clips, evaluation.diagnosis.clips, strict=True):
        onset_over_n = (diagnosis.metrics.get("collapse_onset_over_n")
                        if diagnosis.label in ONSET_LABELS else None)
        # The level without DC: a silent clip with an offset would show -32 dBFS of plain RMS.
        rows.append(ClipRow(diagnosis.label, _format(onset_over_n),
                            _format(diagnosis.metrics.get("ac_rms_db")),
                            wav_data_uri(clip, evaluation.sample_rate_hz)))
    return rows


def evaluation_page(title: str, evaluation, clips_png: Path | None,
                    summary: Mapping[str, Any] | None = None,
                    history_rows: Sequence[Mapping[str, Any]] = (),
                    curves_png: Path | None = None, pitch: PitchSection | None = None) -> str:
    """HTML for one evaluation (and optionally the run's summary and training curves).

    Args:
        title: page heading.
        evaluation: a `harness.training.events.Evaluation`.
        clips_png: waveform + spectrogram figure of the clips.
        summary: key facts of the run (variant, status, steps ...).
        history_rows: one row per evaluation step (label shares, onset/n, quality).
        curves_png: training-curves figure.
        pitch: the pitch-track figure or why there is none (the final page's).
    """
    columns = list(history_rows[0]) if history_rows else []
    return environment("harness.tracking").get_template(RUN_PAGE_TEMPLATE).render(
        title=title, collapsed_labels=COLLAPSED_LABELS,
        summary=[(str(name), _format(value)) for name, value in (summary or {}).items()],
        evaluation=evaluation, clips=_clip_rows(evaluation),
        metrics=metric_rows(evaluation.metrics()), history_columns=columns,
        history_rows=[[_format(row.get(column)) for column in columns] for row in history_rows],
        clips_png=clips_png, curves_png=curves_png, pitch=pitch, pitch_heading=PITCH_HEADING,
        png_uri=png_data_uri)


PITCH_PNG = "pitch_track.png"
PITCH_HEADING = "Does it hold a pitch?"


@dataclass(frozen=True)
class PitchSection:
    """The final page's pitch-track figure (`pitch_section`): the PNG, or None and why not."""

    png: Path | None
    note: str


def pitch_section(evaluation: Evaluation, heldout_clip: np.ndarray | None, folder: Path,
                  heldout_name: str = "held-out") -> PitchSection:
    """Draw `PITCH_PNG` in `folder`: pYIN's pitch track over the spectrogram of generated clip 0
    beside a real clip of the same length, when the clips are long enough for the music metrics.

    Args:
        evaluation: The evaluation whose first clip is drawn (clips are not picked: clip 0).
        heldout_clip: (samples,) real clip in [-1, 1] to draw beside it; left out when None or
            of another length than the generated clips.
        folder: Where the PNG goes.
        heldout_name: What the real clip is ("held-out", or "training" without a held-out split).

    Returns:
        The figure, or no figure and a one-line note saying why (clips shorter than
        `harness.evaluation.music.MIN_CLIP_SECONDS`).
    """
    from harness.evaluation.music import MIN_CLIP_SECONDS

    length = evaluation.clips.shape[1]
    seconds = length / evaluation.sample_rate_hz
    if seconds < MIN_CLIP_SECONDS:
        return PitchSection(None, f"No pitch track: the clips last {seconds:.3g} s, shorter than the "
                                  f"{MIN_CLIP_SECONDS:g} s the music metrics need (raise eval_samples; "
                                  "docs/music.md).")
    label = evaluation.diagnosis.clips[0].label
    clips = {f"generated clip 0 ({label})": evaluation.clips[0]}
    note = (f"pYIN's f0 (cyan, where it calls a frame voiced) over the spectrogram of generated "
            f"clip 0 {evaluation.moment}")
    if heldout_clip is not None and len(heldout_clip) == length:
        clips[f"{heldout_name} clip"] = heldout_clip
        note += f", beside a {heldout_name} clip of the same length ({seconds:.3g} s)"
    else:
        note += f"; no {heldout_name} clip of {seconds:.3g} s to draw beside it"
    png = plot_pitch_tracks(clips, evaluation.sample_rate_hz, folder / PITCH_PNG).path
    return PitchSection(png, note + ". Below each: the voicing probability, voiced frames shaded. "
                        "Same settings as the music/ metrics (docs/music.md).")


def evaluation_row(evaluation: Evaluation) -> dict[str, Any]:
    metrics = evaluation.diagnosis.metrics
    return {
        "step": evaluation.step,
        "batch label": evaluation.diagnosis.label,
        "collapsed share": metrics.get("collapsed_share"),
        "share healthy": metrics.get("share_healthy"),
        "mean onset / n": metrics.get("mean_collapse_onset_over_n"),
        catalogue.FRECHET.heading: evaluation.quality.get(catalogue.FRECHET.name),
        catalogue.MR_LSD.heading: evaluation.quality.get(catalogue.MR_LSD.name),
    }


def render_evaluation(evaluation: Evaluation, folder: Path,
                      summary: Mapping[str, Any] | None = None, history_rows=(),
                      curves_png: Path | None = None, reuse: Path | None = None,
                      pitch: Callable[[Path], PitchSection] | None = None) -> Path:
    """Write clips as .wav, a waveform + spectrogram PNG, diagnostics JSON and an HTML page.

    With `reuse` (a folder this function wrote for the same evaluation) the clips and the
    figure are copied instead of written and drawn again; only the page is new. `pitch`
    draws the pitch-track section into the folder (e.g. `pitch_section`; the final page's).
    """
    folder.mkdir(parents=True, exist_ok=True)
    png = folder / "clips.png"
    if reuse is not None:
        for item in reuse.iterdir():
            if item.name != "index.html":
                shutil.copy2(item, folder / item.name)
    else:
        for index, clip in enumerate(evaluation.clips):
            write_wav(folder / f"clip_{index:02d}.wav", clip, evaluation.sample_rate_hz)
        plot_clips(list(evaluation.clips), evaluation.sample_rate_hz, evaluation.n,
                   evaluation.diagnosis.clips, png, title=evaluation.moment)
        (folder / "diagnostics.json").write_text(json.dumps({
            "step": evaluation.step,
            "batch": evaluation.diagnosis.to_dict(),
            "quality": evaluation.quality,
            "dynamics": evaluation.dynamics,
        }, indent=2, default=str))
    (folder / "index.html").write_text(evaluation_page(
        f"{summary.get('run name', 'run') if summary else 'Evaluation'} — step {evaluation.step}",
        evaluation, png, summary=summary, history_rows=history_rows, curves_png=curves_png,
        pitch=pitch(folder) if pitch is not None else None))
    return folder
