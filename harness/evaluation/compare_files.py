"""`samplegan compare`: every audio metric of the catalogue for a set of clips against real audio.

The generated set is N decoded files, all cut to the shortest one's length (the clip
length). The reference files are cut into as many back-to-back clips of that length as
they hold (the remainder of each file is dropped): M clips. Each audio family of
`harness.evaluation.catalogue` (``quality`` and ``music``) then computes its metrics of the
N clips against the M, with its like-for-like floor: real sets of N clips drawn from the M
(docs/quality.md). A metric is "within" its floor when its value is at most the floor's
p95 (`harness.evaluation.quality.within_floor`), "beyond" when above, and has no verdict
(None) when no floor can be drawn; its row's "note" then says why (a floor the noise
controls land within, or clips shorter than the family's minimum, e.g. 1 s for music). Each generated clip also gets its collapse label
(`harness.evaluation.diagnostics.diagnose_clip`). Nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.data.audio import AudioDecodeError, decode_audio, quantize_16bit, resample
from harness.data.importer import SkippedSource, expand_sources
from harness.evaluation import catalogue
from harness.evaluation.diagnostics import diagnose_clip
from harness.evaluation.quality import within_floor
from models.config import SampleGANConfig
from models.errors import SampleGanError

LABEL_WINDOW_N = SampleGANConfig.n  # the window the collapse labels measure onsets against
FLOOR_SEED = 0  # fixes the floor's draws: the same files give the same figures


@dataclass(frozen=True)
class _Decoded:
    path: str
    audio: np.ndarray  # float32 (samples,) in [-1, 1)
    sample_rate_hz: int


def _decode_all(sources: Sequence[Path], role: str) -> list[_Decoded]:
    """Every audio file of `sources` (files, or folders searched recursively), decoded.

    Raises:
        SampleGanError: a path that is missing, not audio, a folder without audio, or a
            file ffmpeg cannot decode; or no file at all.
    """
    decoded = []
    for candidate in expand_sources(sources):
        if isinstance(candidate, SkippedSource):
            raise SampleGanError(f"{role} {candidate.path}: {candidate.reason}")
        try:
            audio = decode_audio(candidate)
        except AudioDecodeError as error:
            raise SampleGanError(f"{role} {candidate}: cannot decode: {error.reason}") from None
        if audio.audio.size == 0:
            raise SampleGanError(f"{role} {candidate}: holds no samples")
        decoded.append(_Decoded(str(candidate), audio.audio, audio.sample_rate_hz))
    if not decoded:
        raise SampleGanError(f"no {role} audio found")
    return decoded


def _common_rate(files: Sequence[_Decoded], sample_rate_hz: int | None) -> int:
    """The rate every file is compared at: `sample_rate_hz`, else the files' one rate."""
    if sample_rate_hz is not None:
        return sample_rate_hz
    rates: dict[int, str] = {}
    for file in files:
        rates.setdefault(file.sample_rate_hz, file.path)
    if len(rates) > 1:
        found = ", ".join(f"{rate} Hz ({Path(path).name})" for rate, path in sorted(rates.items()))
        raise SampleGanError(f"the files are at different sample rates: {found}; pass "
                             "--sample-rate R to resample them all to R Hz")
    return next(iter(rates))


def _at_rate(file: _Decoded, sample_rate_hz: int) -> np.ndarray:
    return quantize_16bit(resample(file.audio, file.sample_rate_hz, sample_rate_hz))


def reference_clips(audio: Sequence[np.ndarray], length: int) -> np.ndarray:
    """Back-to-back clips of `length` samples cut from each reference recording.

    Args:
        audio: (samples,) recordings at one rate.
        length: clip length in samples.

    Returns:
        (clips, length) float32; a recording's remainder shorter than `length` is dropped.
    """
    clips = [recording[start:start + length]
             for recording in audio for start in range(0, len(recording) - length + 1, length)]
    return np.asarray(clips, np.float32).reshape(len(clips), length)


def compare(generated: Sequence[Path], reference: Sequence[Path],
            sample_rate_hz: int | None = None) -> dict[str, Any]:
    """Every audio metric of the catalogue for the generated files against the reference files.

    Args:
        generated: files or folders of generated clips.
        reference: files or folders of real audio.
        sample_rate_hz: resample every file to this rate in Hz; None: the files must share one.

    Returns:
        ``{"generated": N, "reference": M, "sample_rate": R, "clip_seconds": S, "metrics":
        {key: {"value", "floor", "floor_p95", "verdict", "unit", "direction", "note"}},
        "clips": [{"path", "label"}]}``: N generated clips cut to the shortest one's S
        seconds, M reference clips of S seconds, each metric under its catalogue key with its
        floor's mean and p95 (None without a floor), verdict "within", "beyond" or None, and
        a note saying why a floor metric has no verdict (None otherwise).

    Raises:
        SampleGanError: no audio, unreadable audio, mixed rates without `sample_rate_hz`, or
            a reference too short for a floor (fewer than 2 N clips of S seconds).
    """
    generated_files = _decode_all(generated, "generated")
    reference_files = _decode_all(reference, "reference")
    rate = _common_rate([*generated_files, *reference_files], sample_rate_hz)
    generated_audio = [_at_rate(file, rate) for file in generated_files]
    length = min(len(clip) for clip in generated_audio)
    clips = np.stack([clip[:length] for clip in generated_audio])
    real = reference_clips([_at_rate(file, rate) for file in reference_files], length)
    if len(real) < 2 * len(clips):
        total_s = sum(len(file.audio) / file.sample_rate_hz for file in reference_files)
        raise SampleGanError(
            f"the reference is too short for a floor: {len(clips)} generated clips of "
            f"{length / rate:.3g} s need at least {2 * len(clips)} reference clips of that "
            f"length ({2 * len(clips) * length / rate:.3g} s), but the reference holds "
            f"{len(real)} ({total_s:.3g} s in {len(reference_files)} file(s)); add real audio "
            "or compare fewer or shorter clips")
    metrics: dict[str, dict[str, Any]] = {}
    seconds = length / rate
    for family in catalogue.audio_families():
        if seconds < family.min_clip_seconds:
            short = (f"clips of {seconds:.3g} s, under the {family.min_clip_seconds:g} s minimum of "
                     f"the {family.name} metrics")
            metrics.update({entry.key: _metric_row(entry, {}, short) for entry in family.metrics})
            continue
        prepare = family.reference_class()
        reference_set = prepare(real, rate) if prepare is not None else real
        values = family.compute_function()(list(clips), reference_set, rate, seed=FLOOR_SEED)
        notes = reference_set.floor_notes(len(clips), FLOOR_SEED) if prepare is not None else {}
        for entry in family.metrics:
            metrics[entry.key] = _metric_row(entry, values, notes.get(entry.name))
    return {
        "generated": len(clips), "reference": len(real), "sample_rate": rate,
        "clip_seconds": length / rate, "metrics": metrics,
        "clips": [{"path": file.path, "label": diagnose_clip(clip, rate, LABEL_WINDOW_N).label}
                  for file, clip in zip(generated_files, clips, strict=True)],
    }


def _number(value: Any) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def _metric_row(entry: catalogue.Metric, values: Mapping[str, Any], note: str | None = None) -> dict[str, Any]:
    value = _number(values.get(entry.name))
    floor = p95 = None
    if entry.floor:
        floor = _number(values.get(entry.name + catalogue.FLOOR_PARTS["mean"]))
        p95 = _number(values.get(entry.name + catalogue.FLOOR_PARTS["p95"]))
    verdict = within_floor(value, p95)
    return {"value": value, "floor": floor, "floor_p95": p95,
            "verdict": None if verdict is None else ("within" if verdict else "beyond"),
            "unit": entry.unit, "direction": entry.direction,
            "note": note if verdict is None and (entry.floor or value is None) else None}


def format_comparison(result: dict[str, Any]) -> str:
    """The comparison as text: the set sizes and clip length, one line per metric, then the
    clips' labels."""
    lines = [f"{result['generated']} generated clip(s) against {result['reference']} reference "
             f"clip(s) of {result['clip_seconds']:.3g} s at {result['sample_rate']} Hz "
             "(the reference cut into back-to-back clips as long as the shortest generated one)"]
    for key, row in result["metrics"].items():
        entry = catalogue.metric(key)
        if row["verdict"] is not None:
            judged = (f"{row['verdict']}; {catalogue.floor_wording(entry, row['floor_p95'])}, "
                      f"mean {entry.format(row['floor'])}")
        elif row["note"]:
            judged = f"no verdict: {row['note']}"
        elif not entry.floor:
            judged = "descriptive, no floor"
        else:
            judged = "no value: no verdict" if row["value"] is None else "no floor: no verdict"
        lines.append(f"{key}: {entry.format(row['value'])} ({entry.direction}) - {judged}")
    labels: dict[str, int] = {}
    for clip in result["clips"]:
        labels[clip["label"]] = labels.get(clip["label"], 0) + 1
    lines.append("labels: " + ", ".join(f"{label} {count}" for label, count in labels.items()))
    lines += [f"  {clip['path']}: {clip['label']}" for clip in result["clips"]]
    return "\n".join(lines)
