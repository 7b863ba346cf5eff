"""A self-contained HTML page for one run: audio players, plots and the diagnosis.

The MLflow UI shows HTML artifacts in a sandboxed frame where relative links to
other artifacts do not resolve, so audio and images are embedded as data URIs.
"""

from __future__ import annotations

import base64
import html
import io
import json
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.io import wavfile

from harness.data.audio import to_int16, write_wav
from harness.evaluation import catalogue
from harness.evaluation.diagnostics import COLLAPSED_LABELS, ONSET_LABELS
from harness.tracking.plots import plot_clips, plot_pitch_tracks
from harness.training.events import Evaluation


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
    return html.escape(str(value))


def _key_value_table(values: Mapping[str, Any]) -> str:
    """One row per entry: a name and its value (readable where one row of many columns is not)."""
    body = "".join(f"<tr><th>{html.escape(str(key))}</th><td>{_format(value)}</td></tr>"
                   for key, value in values.items())
    return f"<table class='key-value'>{body}</table>"


def metrics_table(metrics: Mapping[str, float]) -> str:
    """One row per logged metric: its MLflow key, its value with the catalogue's unit, and what
    it is (for a metric with a floor, what the floor is, so a larger floor does not read as
    "the model beats real audio")."""
    body = []
    for key, value in metrics.items():
        try:
            entry = catalogue.metric(key)
        except KeyError:  # logged outside the catalogue: shown as it is
            body.append(f"<tr><th>{html.escape(key)}</th><td>{_format(value)}</td><td></td></tr>")
            continue
        if key == entry.key:
            note = (f"{entry.description}; {catalogue.floor_wording(entry, metrics.get(entry.floor_key('p95')))}"
                    if entry.floor else entry.description)
        else:
            note = "floor: real clips of the same count and length as the generated ones"
        body.append(f"<tr><th>{html.escape(key)}</th><td>{html.escape(entry.format(value))}</td>"
                    f"<td class='note'>{html.escape(note)}</td></tr>")
    return f"<table class='key-value'>{''.join(body)}</table>"


def _table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_format(row.get(c))}</td>" for c in columns) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


_COLLAPSED_SELECTORS = ", ".join(f".label-{label}" for label in COLLAPSED_LABELS)
STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
td, th { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f3f3; }
table.key-value th { text-align: left; font-weight: normal; }
table.key-value td.note { text-align: left; color: #555; }
.label-healthy { color: #176117; } """ + _COLLAPSED_SELECTORS + """ { color: #a31515; }
img { max-width: 100%; border: 1px solid #ddd; }
"""


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
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"]
    if summary:
        parts.append(_key_value_table(summary))
    diagnosis = evaluation.diagnosis
    parts.append(
        f"<h2>Generated clips at GAN step {evaluation.step}</h2>"
        f"<p>Batch: <b>{html.escape(str(diagnosis.label))}</b>; window n = {evaluation.n} samples "
        f"at {evaluation.sample_rate_hz} Hz.</p>"
    )
    rows = []
    for index, (clip, clip_diagnosis) in enumerate(zip(evaluation.clips, diagnosis.clips, strict=True)):
        metrics = clip_diagnosis.metrics
        onset_over_n = (metrics.get("collapse_onset_over_n")
                        if clip_diagnosis.label in ONSET_LABELS else None)
        rows.append(
            f"<tr><td>clip {index}</td><td class='label-{clip_diagnosis.label}'>"
            f"{html.escape(clip_diagnosis.label)}</td>"
            f"<td>{_format(onset_over_n)}</td>"
            f"<td>{_format(metrics.get('ac_rms_db'))}</td>"
            f"<td><audio controls preload='none' src='{wav_data_uri(clip, evaluation.sample_rate_hz)}'>"
            f"</audio></td></tr>"
        )
    # The level without DC: a silent clip with an offset would show -32 dBFS of plain RMS.
    parts.append("<table><tr><th>clip</th><th>label</th><th>onset / n</th>"
                 "<th>AC level dBFS</th><th>listen</th></tr>" + "".join(rows) + "</table>")
    if clips_png is not None:
        parts.append(f"<img alt='waveforms and spectrograms' src='{png_data_uri(clips_png)}'>")
    if pitch is not None:
        parts.append(f"<h2>{PITCH_HEADING}</h2><p>{html.escape(pitch.note)}</p>")
        if pitch.png is not None:
            parts.append(f"<img alt='pitch track over the spectrogram' src='{png_data_uri(pitch.png)}'>")
    parts.append("<h2>Metrics</h2>" + metrics_table(evaluation.metrics()))
    if history_rows:
        columns = list(history_rows[0])
        parts.append("<h2>Evaluations over training</h2>" + _table(history_rows, columns))
    if curves_png is not None:
        parts.append(
            "<h2>Training curves</h2><p>Each phase against its own steps (light: every step, "
            "dark: an exponential moving average over long series); the learning curve is the "
            "held-out teacher-forced loss at each evaluation against its baselines.</p>"
            f"<img alt='training curves' src='{png_data_uri(curves_png)}'>")
    parts.append("</body></html>")
    return "".join(parts)


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
            f"clip 0 at GAN step {evaluation.step}")
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
                   evaluation.diagnosis.clips, png, title=f"GAN step {evaluation.step}")
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
