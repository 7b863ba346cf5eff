"""Music-structure metrics: does a set of clips hold notes (pitch, harmonics, onsets, decays)?

MR-LSD and the Fréchet log-mel distance compare average spectra, so textured noise with
the right colour comes close to music on them. The metrics here take the features the
field uses from librosa: pYIN voicing, the harmonic share after harmonic-percussive
separation, chroma, onsets and how the level decays after each onset. Each **distance**
(``*_gap``, ``*_distance``) compares the generated set with held-out reference audio and
comes with its like-for-like real-vs-real floor, drawn as `harness.evaluation.quality`
draws its floors (docs/quality.md); each floor is checked against white, pink and
low-passed noise at the reference's level (`harness.evaluation.floors`), and its p95 is
withheld where noise lands within it. ``notes_summary`` folds the distances into one number
a study can optimise: 1 when every distance is at most its floor's mean, up to
`SUMMARY_RATIO_CAP` (see `music_metrics`, docs/music.md).

Features are computed once per clip (`clip_features`), so a run's reference is prepared
once (`MusicReference`) and each draw of a floor costs sums over clips.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from harness.evaluation import catalogue
from harness.evaluation.floors import (
    NOISE_CONTROLS,
    FlooredReference,
    floor_draws,
    noise_clips,
    summarize,
    undiscriminating_reason,
)
from harness.evaluation.spectral import spectral_fft_size

# The metrics' declarations (unit, direction, floor, objective, format) are the catalogue's
# `music` family; the names below are read from it, never re-spelled.
DISTANCES = tuple(entry.name for entry in catalogue.MUSIC.metrics
                  if entry.floor and entry is not catalogue.NOTES_SUMMARY)
DESCRIPTIVE = tuple(entry.name for entry in catalogue.MUSIC.metrics
                    if not entry.floor and not entry.name.startswith("reference_"))

MIN_CLIP_SECONDS = catalogue.MUSIC.min_clip_seconds  # shorter clips get no music metrics (docs/music.md)
PITCH_LOW_HZ = 65.0  # C2: the lowest bass note of the built-in corpus
PITCH_HIGH_HZ = 2093.0  # C7: above the melodies and first harmonics that carry pitch
PITCH_RESOLUTION = 0.5  # pYIN bin width in semitones: ~10x faster than librosa's 0.1 (docs/music.md)
HPSS_KERNEL = 17  # median-filter length of HPSS in frames and bins (librosa's default is 31)
HPSS_MARGIN = 2.0  # a bin is harmonic when its harmonic estimate is 2x its percussive one; noise rarely is
HARMONIC_BANDS = 16  # mel bands the harmonic share is averaged over, each band weighing the same
HARMONIC_BAND_RANGE_DB = 40.0  # bands this far below the loudest are left out of the average
ONSET_DELTA = 2.0  # an onset's mel flux must top its local mean by this (mean positive dB change)
VOICING_OFFSET = 0.02  # added to both mean voicing probabilities: noise has ~0.01, music 0.05-0.7
ONSET_RATE_OFFSET = 0.5  # onsets/s added to both rates so that "none" vs "a few" stays finite
DECAY_PEAK_S = 0.05  # an onset's level: the loudest frame within this after it
DECAY_WINDOW_S = (0.1, 0.5)  # the level after an onset: mean dB over this window
SUMMARY_RATIO_CAP = 10.0  # a distance 10x its floor counts as "no such structure"; so does no value
_LEVEL_FLOOR_DB = -100.0


@dataclass(frozen=True)
class ClipFeatures:
    """The music features of one clip, from which any set's statistics are sums.

    Attributes:
        frames: pYIN frames.
        voiced_frames: Frames pYIN calls voiced.
        voicing_probability_sum: Sum over frames of pYIN's voicing probability.
        harmonic_band_energy: (HARMONIC_BANDS,) energy of the harmonic part after HPSS, per
            mel band (squared magnitudes).
        band_energy: (HARMONIC_BANDS,) energy of the clip per mel band.
        chroma: (12,) the clip's chroma histogram (energy-weighted, sums to 1; flat for
            silence), sorted from the strongest pitch class down so that keys do not matter.
        duration_s: Length in seconds.
        onsets: Onsets found.
        log2_ioi: (onsets - 1,) log2 of the inter-onset intervals in seconds.
        decay_db: (onsets with `DECAY_WINDOW_S` inside the clip,) level drop after each
            onset: its loudest frame within `DECAY_PEAK_S` minus its mean over the window, dB.
    """

    frames: int
    voiced_frames: int
    voicing_probability_sum: float
    harmonic_band_energy: np.ndarray
    band_energy: np.ndarray
    chroma: np.ndarray
    duration_s: float
    onsets: int
    log2_ioi: np.ndarray
    decay_db: np.ndarray


@functools.lru_cache(maxsize=8)
def _band_filters(sample_rate_hz: int, n_fft: int) -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=sample_rate_hz, n_fft=n_fft, n_mels=HARMONIC_BANDS, fmin=PITCH_LOW_HZ)


@dataclass(frozen=True)
class PitchTrack:
    """pYIN's pitch track of one clip (`pitch_track`), one value per frame.

    Attributes:
        times_s: (frames,) centre of each frame in seconds.
        f0_hz: (frames,) fundamental frequency in Hz; NaN where the frame is unvoiced.
        voiced: (frames,) bool, pYIN's voiced flag (its HMM's decision, not a threshold).
        probability: (frames,) pYIN's voicing probability in [0, 1].
    """

    times_s: np.ndarray
    f0_hz: np.ndarray
    voiced: np.ndarray
    probability: np.ndarray


def pitch_track(clip: np.ndarray, sample_rate_hz: int) -> PitchTrack:
    """librosa's pYIN with the music metrics' settings: the one place they are spelled.

    Frames of `harness.evaluation.spectral.spectral_fft_size` samples (64 ms at 16 kHz) with a
    half-frame hop, bins of `PITCH_RESOLUTION` semitone between `PITCH_LOW_HZ` and
    `PITCH_HIGH_HZ`. A clip shorter than one frame is padded with zeros to a frame.

    Args:
        clip: (samples,) float waveform in [-1, 1].
        sample_rate_hz: Rate in Hz.

    Returns:
        The clip's `PitchTrack`.
    """
    import librosa

    clip = np.asarray(clip, dtype=np.float32)
    n_fft = spectral_fft_size(sample_rate_hz)
    if clip.size < n_fft:
        clip = np.pad(clip, (0, n_fft - clip.size))
    hop = n_fft // 2
    f0, voiced, probability = librosa.pyin(
        clip, fmin=PITCH_LOW_HZ, fmax=PITCH_HIGH_HZ, sr=sample_rate_hz, frame_length=n_fft,
        hop_length=hop, resolution=PITCH_RESOLUTION)
    return PitchTrack(times_s=librosa.times_like(f0, sr=sample_rate_hz, hop_length=hop),
                      f0_hz=np.asarray(f0, dtype=np.float64), voiced=np.asarray(voiced, dtype=bool),
                      probability=np.asarray(probability, dtype=np.float64))


def clip_features(clip: np.ndarray, sample_rate_hz: int) -> ClipFeatures:
    """The music features of one clip, all from librosa: pYIN, HPSS, chroma, onsets, frame RMS.

    Frames are `harness.evaluation.spectral.spectral_fft_size` long (64 ms at 16 kHz) with a
    quarter-frame hop; pYIN uses the same frame with a half-frame hop and bins of
    `PITCH_RESOLUTION` semitone between `PITCH_LOW_HZ` and `PITCH_HIGH_HZ`.

    Args:
        clip: (samples,) float waveform in [-1, 1].
        sample_rate_hz: Rate in Hz.

    Returns:
        The clip's `ClipFeatures`.
    """
    import librosa  # imported here: it loads in seconds, and only evaluations need it

    clip = np.asarray(clip, dtype=np.float32)
    if clip.ndim != 1:
        raise ValueError(f"each clip must be one-dimensional (samples,), got shape {clip.shape}")
    duration_s = clip.size / sample_rate_hz
    n_fft = spectral_fft_size(sample_rate_hz)
    hop = n_fft // 4
    if clip.size < n_fft:
        clip = np.pad(clip, (0, n_fft - clip.size))
    magnitude = np.abs(librosa.stft(clip, n_fft=n_fft, hop_length=hop))  # (bins, frames)
    power = magnitude.astype(np.float64) ** 2
    pitch = pitch_track(clip, sample_rate_hz)
    harmonic, _ = librosa.decompose.hpss(magnitude, kernel_size=HPSS_KERNEL, margin=HPSS_MARGIN)
    bands = _band_filters(sample_rate_hz, n_fft)  # (HARMONIC_BANDS, bins)
    # tuning=0: estimating it warns on noise and silence, and a sorted histogram ignores it.
    chroma_energy = librosa.feature.chroma_stft(S=power, sr=sample_rate_hz, n_fft=n_fft, norm=None,
                                                tuning=0.0).sum(axis=1)  # (12,)
    total = chroma_energy.sum()
    chroma = np.sort(chroma_energy)[::-1] / total if total > 0 else np.full(12, 1.0 / 12)
    mel_db = librosa.power_to_db(librosa.feature.melspectrogram(S=power, sr=sample_rate_hz),
                                 ref=1.0, amin=10 ** (_LEVEL_FLOOR_DB / 10), top_db=None)
    envelope = librosa.onset.onset_strength(S=mel_db, sr=sample_rate_hz)
    # normalize=False: librosa's default rescales every clip's flux to [0, 1], which turns the
    # tiny flux of a steady tone into onsets; an absolute delta in dB keeps it out.
    onset_frames = librosa.onset.onset_detect(onset_envelope=envelope, sr=sample_rate_hz, hop_length=hop,
                                              normalize=False, delta=ONSET_DELTA, units="frames")
    onset_s = librosa.frames_to_time(onset_frames, sr=sample_rate_hz, hop_length=hop)
    level_db = librosa.amplitude_to_db(librosa.feature.rms(S=magnitude, frame_length=n_fft)[0],
                                       ref=1.0, amin=10 ** (_LEVEL_FLOOR_DB / 20), top_db=None)
    frame_s = hop / sample_rate_hz
    peak = max(1, round(DECAY_PEAK_S / frame_s))
    start, stop = (round(seconds / frame_s) for seconds in DECAY_WINDOW_S)
    drops = [level_db[frame : frame + peak].max() - level_db[frame + start : frame + stop].mean()
             for frame in onset_frames if frame + stop <= level_db.size]
    return ClipFeatures(
        frames=int(pitch.voiced.size), voiced_frames=int(np.count_nonzero(pitch.voiced)),
        voicing_probability_sum=float(np.nansum(pitch.probability)),
        harmonic_band_energy=bands @ (harmonic.astype(np.float64) ** 2).sum(axis=1),
        band_energy=bands @ power.sum(axis=1),
        chroma=chroma.astype(np.float64), duration_s=duration_s,
        onsets=int(onset_frames.size), log2_ioi=np.log2(np.diff(onset_s)),
        decay_db=np.asarray(drops, dtype=np.float64),
    )


@dataclass(frozen=True)
class _SetStatistics:
    """What the distances compare: a set of clips' pooled features (see `_pool`)."""

    voiced_share: float
    voicing_confidence: float
    harmonic_share: float
    chroma: np.ndarray  # (12,) mean of the clips' sorted histograms
    onset_rate: float  # onsets/s
    log2_ioi: np.ndarray
    decay_db: np.ndarray


def _pool(features: Sequence[ClipFeatures]) -> _SetStatistics:
    """The set's statistics: frame- and energy-weighted sums over its clips."""
    frames = sum(f.frames for f in features)
    band_energy = np.sum([f.band_energy for f in features], axis=0)
    harmonic_energy = np.sum([f.harmonic_band_energy for f in features], axis=0)
    keep = band_energy >= band_energy.max() * 10 ** (-HARMONIC_BAND_RANGE_DB / 10)
    harmonic_share = (float(np.mean(harmonic_energy[keep] / band_energy[keep]))
                      if band_energy.max() > 0 else 0.0)
    return _SetStatistics(
        voiced_share=sum(f.voiced_frames for f in features) / max(frames, 1),
        voicing_confidence=sum(f.voicing_probability_sum for f in features) / max(frames, 1),
        harmonic_share=harmonic_share,
        chroma=np.mean([f.chroma for f in features], axis=0),
        onset_rate=sum(f.onsets for f in features) / sum(f.duration_s for f in features),
        log2_ioi=np.concatenate([f.log2_ioi for f in features]),
        decay_db=np.concatenate([f.decay_db for f in features]),
    )


def _wasserstein(a: np.ndarray, b: np.ndarray) -> float | None:
    from scipy.stats import wasserstein_distance

    return float(wasserstein_distance(a, b)) if a.size and b.size else None


def _distances(a: _SetStatistics, b: _SetStatistics) -> dict[str, float | None]:
    """Every distance in `DISTANCES` between two sets; None where a set has no onsets to compare."""
    return {
        "voiced_share_gap": abs(a.voiced_share - b.voiced_share),
        # A ratio, not a difference: polyphonic music has mean probabilities of 0.05-0.2, so a
        # difference leaves noise (0.01) within a floor whose spread is as large as the mean.
        "voicing_confidence_gap": abs(math.log2((a.voicing_confidence + VOICING_OFFSET)
                                                / (b.voicing_confidence + VOICING_OFFSET))),
        "harmonic_share_gap": abs(a.harmonic_share - b.harmonic_share),
        "chroma_distance": 0.5 * float(np.abs(a.chroma - b.chroma).sum()),
        "onset_rate_gap": abs(math.log2((a.onset_rate + ONSET_RATE_OFFSET) / (b.onset_rate + ONSET_RATE_OFFSET))),
        "ioi_distance": _wasserstein(a.log2_ioi, b.log2_ioi),
        "decay_distance": _wasserstein(a.decay_db, b.decay_db),
    }


def _descriptive(statistics: _SetStatistics) -> dict[str, float | None]:
    chroma = statistics.chroma[statistics.chroma > 0]
    return {
        "voiced_share": statistics.voiced_share,
        "voicing_confidence": statistics.voicing_confidence,
        "harmonic_share": statistics.harmonic_share,
        "chroma_entropy_bits": float(-(chroma * np.log2(chroma)).sum()),
        "onset_rate": statistics.onset_rate,
        "decay_db": float(np.median(statistics.decay_db)) if statistics.decay_db.size else None,
    }


def _notes_summary(distances: dict[str, float | None], floor_means: dict[str, float | None]) -> float | None:
    """Geometric mean over the distances with a floor of distance / floor mean, clipped to [1, cap].

    A distance without a value where its floor has one (no onsets where real sets have them)
    counts as the cap; a distance whose floor has no positive mean is left out.
    """
    logs = []
    for name, floor_mean in floor_means.items():
        if floor_mean is None or floor_mean <= 0.0:
            continue
        value = distances[name]
        ratio = SUMMARY_RATIO_CAP if value is None else min(max(value / floor_mean, 1.0), SUMMARY_RATIO_CAP)
        logs.append(math.log(ratio))
    return math.exp(sum(logs) / len(logs)) if logs else None


def _mean(values: Sequence[float | None]) -> float | None:
    return None if not values or any(v is None for v in values) else float(np.mean(values))


@dataclass(frozen=True)
class _Floors:
    """A reference's floors for one set size and seed: they do not depend on the generated set."""

    draws: list[tuple[np.ndarray, np.ndarray]]
    rests: list[_SetStatistics]
    figures: dict[str, float | None]  # <name>_real_vs_real, _std, _p95 (p95 None when undiscriminating)
    reasons: dict[str, str]  # metric name -> why it has no verdict


class MusicReference(FlooredReference):
    """Held-out real clips with their music features, prepared once for every evaluation of a run.

    Extraction costs about 0.2 s of CPU per 4 s clip at 16 kHz (docs/music.md), so a
    reference of 64 clips takes about 13 s; the floors of each set size (and the 3 x size
    noise-control clips that check them) are computed on first use and kept.

    Args:
        clips: (clips, length) float32 real clips in [-1, 1].
        sample_rate_hz: Their rate in Hz.
        sources: Optional (clips,) id of the piece or file each clip comes from. With it, each
            floor draw compares its drawn real set with the clips of the other sources only
            (`harness.evaluation.floors.floor_draws`): new music to the reference, as a
            generator's clips are. Without it, clips of a piece are compared with its other
            clips, and the floors are tighter than any new music can reach (docs/music.md).

    Raises:
        ValueError: If `clips` is not 2-D or has no clip, or `sources` does not match it.
    """

    def _prepare(self, clips: np.ndarray) -> None:
        self.features = [clip_features(clip, self.sample_rate_hz) for clip in clips]
        self.whole = _pool(self.features)

    def _draw_floors(self, count: int, seed: int) -> _Floors:
        draws = floor_draws(count, self.count, seed, self.sources)
        rests = [_pool([self.features[i] for i in rest]) for _, rest in draws]
        real = [_distances(_pool([self.features[i] for i in drawn]), rest)
                for (drawn, _), rest in zip(draws, rests, strict=True)]
        controls = {}
        for index, kind in enumerate(NOISE_CONTROLS):
            clips = noise_clips(kind, count, self.length, self.sample_rate_hz, self.rms, seed=seed * 31 + index)
            pooled = _pool([clip_features(clip, self.sample_rate_hz) for clip in clips])
            controls[kind] = [_distances(pooled, rest) for rest in rests]
        figures: dict[str, float | None] = {}
        reasons: dict[str, str] = {}
        seconds = self.length / self.sample_rate_hz

        def record(name: str, real_values: list[float | None], control_values: dict[str, list[float | None]]):
            mean, std, p95 = summarize(real_values)
            reason = undiscriminating_reason(
                p95, {kind: _mean(values) for kind, values in control_values.items()}, count, seconds)
            if reason is not None:
                reasons[name], p95 = reason, None
            figures[f"{name}_real_vs_real"], figures[f"{name}_real_vs_real_std"] = mean, std
            figures[f"{name}_real_vs_real_p95"] = p95

        for name in DISTANCES:
            record(name, [d[name] for d in real],
                   {kind: [d[name] for d in values] for kind, values in controls.items()})
        floor_means = {name: figures[f"{name}_real_vs_real"] for name in DISTANCES}
        record("notes_summary", [_notes_summary(d, floor_means) for d in real],
               {kind: [_notes_summary(d, floor_means) for d in values] for kind, values in controls.items()})
        return _Floors(draws, rests, figures, reasons)


def music_metrics(
    generated: Sequence[np.ndarray], reference: np.ndarray | MusicReference, sample_rate_hz: int, *,
    seed: int = 0,
) -> dict[str, float | None]:
    """The music distances of a generated set from held-out audio, each with its like-for-like floor.

    Floors are drawn as `harness.evaluation.quality.quality_metrics` draws its own: `FLOOR_DRAWS`
    real sets as many and as long as the generated set (draws fixed by `seed`), the clips left
    over being each draw's reference for both. Each ``<distance>`` is the generated set's mean
    over the draws; ``<distance>_real_vs_real``, ``_std`` and ``_p95`` summarise the real sets'.
    A p95 is None where white, pink or low-passed noise at the reference's level lands within
    it (no verdict; `MusicReference.floor_notes` says why). Without a like-for-like floor
    (reference clips of another length, or fewer than twice as many as generated) the
    distances compare the generated set with the whole reference and every floor figure and
    ``notes_summary`` are None.

    ``notes_summary``: for each distance with a positive floor mean, the ratio distance /
    floor mean clipped to [1, `SUMMARY_RATIO_CAP`] (a distance without a value, e.g. no onsets
    where real sets have them, counts as the cap), then the geometric mean of the ratios; per
    draw, then averaged. Its floor is the same for the real sets.

    Args:
        generated: Sequence of (samples,) generated waveforms in [-1, 1].
        reference: (clips, length) float32 held-out real clips, or a `MusicReference` of them.
        sample_rate_hz: Sample rate of both in Hz.
        seed: Seed of the draws.

    Returns:
        The names of the catalogue's `music` family with a floor, each with ``_real_vs_real``,
        ``_real_vs_real_std`` and ``_real_vs_real_p95``; the descriptive values of the
        generated set (`DESCRIPTIVE`) and the whole reference's (``reference_<name>``).

    Raises:
        ValueError: If generated or reference is empty, reference is not 2-D, or the rates differ.
    """
    if not isinstance(reference, MusicReference):
        reference = MusicReference(reference, sample_rate_hz)
    like_for_like = reference.like_for_like(generated, sample_rate_hz)
    fake = _pool([clip_features(clip, sample_rate_hz) for clip in generated])
    metrics: dict[str, float | None] = {}
    if like_for_like:
        floors = reference.floors(len(generated), seed)
        per_draw = [_distances(fake, rest) for rest in floors.rests]
        floor_means = {name: floors.figures[f"{name}_real_vs_real"] for name in DISTANCES}
        for name in DISTANCES:
            metrics[name] = _mean([d[name] for d in per_draw])
        metrics["notes_summary"] = _mean([_notes_summary(d, floor_means) for d in per_draw])
        metrics.update(floors.figures)
    else:
        metrics.update(_distances(fake, reference.whole))
        metrics["notes_summary"] = None
        for name in ("notes_summary", *DISTANCES):
            for suffix in ("", "_std", "_p95"):
                metrics[f"{name}_real_vs_real{suffix}"] = None
    metrics.update(_descriptive(fake))
    metrics.update({f"reference_{name}": value for name, value in _descriptive(reference.whole).items()})
    return metrics
