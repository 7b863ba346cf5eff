"""Offline quality metrics of generated audio against held-out real audio, with no pretrained weights.

Two distances between a set of clips and the held-out reference audio:

- ``frechet_logmel``: Fréchet distance between Gaussians fitted to 64-band log-mel
  frames. It has the form of FAD but is NOT FAD: there is no VGGish (or any learned)
  embedding, so its values are not comparable with published FAD numbers.
- ``mr_lsd_db``: multi-resolution log-spectral distance between the two sets'
  average power spectra, in dB.

Each comes with its **floor** (``_real_vs_real``): the same distance for a set of *real*
held-out clips of the same count and length as the generated set. Both distances shrink
as a set grows (a Gaussian or an average spectrum fitted to 4 clips is far noisier than
one fitted to 128), so only a like-for-like real set says how close a perfect generator
could get. `quality_metrics` draws `FLOOR_DRAWS` such real sets; in each draw the
remaining reference clips are the reference for both the real set and the generated
set, and every figure is the mean over the draws; the floor's spread over the draws is
reported as its SD and 95th percentile (see docs/quality.md). Where white, pink or
low-passed noise at the reference's level lands within a floor's 95th percentile, that
percentile is withheld: at that count and length the floor cannot tell music from noise
(`ReferenceSet.floor_notes`; `harness.evaluation.floors`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from harness.evaluation.floors import (
    NOISE_CONTROLS,
    FlooredReference,
    floor_draws,
    noise_clips,
    summarize,
    undiscriminating_reason,
)

MEL_BANDS = 64
MEL_FRAME_S = 0.025  # 25 ms frames, 10 ms hop: the usual speech/audio-tagging front end
MEL_HOP_S = 0.010
MEL_LOW_HZ = 60.0  # below this, 16 kHz / 512-point bins are too coarse for distinct mel bands
LOG_FLOOR_DB = -100.0  # log features of digital silence; 16-bit audio bins sit above it
COVARIANCE_EPSILON = 1e-6  # added to both covariances so near-singular ones stay usable
FFT_SIZES = (256, 512, 1024, 2048)  # of the multi-resolution log-spectral distance
DISTANCES = ("frechet_logmel", "mr_lsd_db")


@functools.lru_cache(maxsize=16)
def mel_filterbank(sample_rate_hz: int, fft_size: int, bands: int = MEL_BANDS) -> np.ndarray:
    """librosa's triangular HTK-mel filters from `MEL_LOW_HZ` to Nyquist, peak 1 (no Slaney norm).

    Args:
        sample_rate_hz: Sample rate in Hz.
        fft_size: FFT length in samples.
        bands: Number of mel bands.

    Returns:
        (bands, fft_size // 2 + 1) float32 weights; read-only (it is cached).
    """
    import librosa  # imported here: it loads in seconds, and only evaluations need it

    weights = librosa.filters.mel(sr=sample_rate_hz, n_fft=fft_size, n_mels=bands, fmin=MEL_LOW_HZ,
                                  fmax=sample_rate_hz / 2, htk=True, norm=None, dtype=np.float32)
    weights.setflags(write=False)
    return weights


@functools.lru_cache(maxsize=16)
def _hann(length: int) -> np.ndarray:
    """The symmetric Hann window (numpy's `hanning`) both distances have always used."""
    window = np.hanning(length).astype(np.float32)
    window.setflags(write=False)
    return window


def _power_frames(clip: np.ndarray, frame_length: int, hop: int, fft_size: int) -> np.ndarray:
    """(frames, fft_size // 2 + 1) power of librosa's STFT of the Hann frames of one clip.

    Frame t holds samples [t * hop, t * hop + frame_length), zero-padded to `fft_size`; a
    clip shorter than a frame is zero-padded to one. librosa centres a shorter window within
    the FFT, so the clip is padded by that offset to keep every frame where it always was.
    """
    clip = np.asarray(clip, dtype=np.float32)
    if clip.ndim != 1:
        raise ValueError(f"each clip must be one-dimensional (samples,), got shape {clip.shape}")
    if clip.size < frame_length:
        clip = np.pad(clip, (0, frame_length - clip.size))
    import librosa

    offset = (fft_size - frame_length) // 2
    clip = np.pad(clip, (offset, fft_size - frame_length - offset))
    spectrum = librosa.stft(clip, n_fft=fft_size, hop_length=hop, win_length=frame_length,
                            window=_hann(frame_length), center=False)
    return (np.abs(spectrum) ** 2).T


def logmel_frame_count(samples: int, sample_rate_hz: int) -> int:
    """How many log-mel frames `log_mel_frames` makes of one clip of `samples` samples."""
    frame_length = round(MEL_FRAME_S * sample_rate_hz)
    hop = round(MEL_HOP_S * sample_rate_hz)
    return 1 if samples < frame_length else (samples - frame_length) // hop + 1


def log_mel_frames(clips: Sequence[np.ndarray], sample_rate_hz: int) -> np.ndarray:
    """64-band log-mel features of every 25 ms frame (10 ms hop) of every clip.

    Args:
        clips: Sequence of (samples,) waveforms, or a (clips, samples) array.
        sample_rate_hz: Sample rate in Hz.

    Returns:
        (frames, 64) float64 log-mel power in dB, floored at `LOG_FLOOR_DB`.
    """
    frame_length = round(MEL_FRAME_S * sample_rate_hz)
    hop = round(MEL_HOP_S * sample_rate_hz)
    fft_size = 1 << int(np.ceil(np.log2(frame_length)))
    filters = mel_filterbank(sample_rate_hz, fft_size)
    features = []
    for clip in clips:
        mel_power = _power_frames(clip, frame_length, hop, fft_size) @ filters.T  # (frames, bands)
        features.append(10.0 * np.log10(np.maximum(mel_power.astype(np.float64), 10 ** (LOG_FLOOR_DB / 10))))
    if not features:
        return np.empty((0, MEL_BANDS))
    return np.concatenate(features)


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float | None:
    """Fréchet distance between Gaussians fitted to two sets of feature vectors.

    ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)), with `COVARIANCE_EPSILON`
    on both diagonals so that rank-deficient covariances (silent frames, few
    frames) stay well-conditioned; the result is clamped at 0.

    Args:
        features_a: (frames_a, dims) features.
        features_b: (frames_b, dims) features.

    Returns:
        The distance in squared feature units, or None when either set has at most
        `dims` frames (its covariance would be rank-deficient and the value noise).
    """
    return _frechet_from_moments(_Moments.of(features_a), _Moments.of(features_b))


@dataclass(frozen=True)
class _Moments:
    """Frame count, sum and sum of outer products of a set of feature vectors.

    Sums add up: the moments of a union of clips are the sums of the clips' moments.
    """

    count: float
    total: np.ndarray  # (dims,)
    outer: np.ndarray  # (dims, dims)

    @classmethod
    def of(cls, features: np.ndarray) -> _Moments:
        features = np.asarray(features, np.float64)
        return cls(float(features.shape[0]), features.sum(axis=0), features.T @ features)


def _frechet_from_moments(a: _Moments, b: _Moments) -> float | None:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) from moments; see `frechet_distance`."""
    dims = a.total.shape[0]
    if a.count <= dims or b.count <= dims:
        return None
    regulariser = COVARIANCE_EPSILON * np.eye(dims)
    mean_a, mean_b = a.total / a.count, b.total / b.count
    cov_a = (a.outer - a.count * np.outer(mean_a, mean_a)) / (a.count - 1) + regulariser
    cov_b = (b.outer - b.count * np.outer(mean_b, mean_b)) / (b.count - 1) + regulariser
    # Tr((S_a S_b)^(1/2)) is the sum of the square roots of the eigenvalues of S_a S_b, which
    # are real and non-negative (S_a S_b is similar to S_a^(1/2) S_b S_a^(1/2)); rounding can
    # leave tiny imaginary or negative parts, dropped here. 3x faster than scipy's sqrtm.
    eigenvalues = np.linalg.eigvals(cov_a @ cov_b).real
    cross_trace = float(np.sqrt(np.clip(eigenvalues, 0.0, None)).sum())
    distance = float(np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b)
                     - 2.0 * cross_trace)
    return max(distance, 0.0)


def frechet_logmel_distance(
    generated: Sequence[np.ndarray], reference: Sequence[np.ndarray], sample_rate_hz: int
) -> float | None:
    """Fréchet distance between the log-mel frame distributions of two sets of clips.

    Not FAD: FAD embeds audio with VGGish first; this fits the Gaussians to 64-band
    log-mel frames (`log_mel_frames`) directly, so it needs no pretrained weights and
    its values are not comparable with published FAD numbers.

    Args:
        generated: Sequence of (samples,) waveforms in [-1, 1], or a (clips, samples) array.
        reference: Same, for the real audio; lengths may differ from `generated`.
        sample_rate_hz: Sample rate of both sets in Hz.

    Returns:
        The distance in dB^2, or None when either set has at most 64 frames.
    """
    return frechet_distance(log_mel_frames(generated, sample_rate_hz), log_mel_frames(reference, sample_rate_hz))


def _power_sums(clips: Sequence[np.ndarray], fft_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Per clip, the summed power spectrum of its Hann frames (50% overlap) and their count.

    Returns:
        (clips, fft_size // 2 + 1) float64 sums and (clips,) float64 frame counts.
    """
    sums = np.zeros((len(clips), fft_size // 2 + 1), dtype=np.float64)
    counts = np.zeros(len(clips), dtype=np.float64)
    for index, clip in enumerate(clips):
        power = _power_frames(clip, fft_size, fft_size // 2, fft_size)
        sums[index], counts[index] = power.sum(axis=0, dtype=np.float64), power.shape[0]
    return sums, counts


def _log_power_db(power_sum: np.ndarray, count: float) -> np.ndarray:
    return 10.0 * np.log10(np.maximum(power_sum / count, 10 ** (LOG_FLOOR_DB / 10)))


def multires_log_spectral_distance(
    generated: Sequence[np.ndarray],
    reference: Sequence[np.ndarray],
    sample_rate_hz: int,
    fft_sizes: Sequence[int] = FFT_SIZES,
) -> float:
    """RMS difference of two sets' average log power spectra, averaged over FFT sizes.

    For each FFT size, every Hann-windowed frame (50% overlap) of every clip in a set
    is averaged into one power spectrum; the distance at that size is the RMS over
    bins of the difference of the two spectra in dB (floored at `LOG_FLOOR_DB`). It
    compares timbre and balance, not timing: identical sets give 0.

    Args:
        generated: Sequence of (samples,) waveforms in [-1, 1], or a (clips, samples) array.
        reference: Same, for the real audio; lengths may differ.
        sample_rate_hz: Sample rate of both sets in Hz (kept for a uniform signature;
            the bins of both sets line up at any rate).
        fft_sizes: FFT sizes in samples; clips shorter than one are zero-padded.

    Returns:
        The distance in dB.

    Raises:
        ValueError: If either set is empty or fft_sizes is empty.
    """
    if len(fft_sizes) == 0:
        raise ValueError("fft_sizes is empty")
    if len(generated) == 0 or len(reference) == 0:
        raise ValueError("a set of clips is empty")
    a = _ClipStatistics.of(generated, sample_rate_hz, fft_sizes)
    b = _ClipStatistics.of(reference, sample_rate_hz, fft_sizes)
    return _mr_lsd(a.spectra(slice(None)), b.spectra(slice(None)))


def _mr_lsd(a: dict[int, tuple[np.ndarray, float]], b: dict[int, tuple[np.ndarray, float]]) -> float:
    """The distance between two sets given their summed spectra and frame counts per FFT size."""
    return float(np.mean([
        np.sqrt(np.mean((_log_power_db(*a[size]) - _log_power_db(*b[size])) ** 2)) for size in a
    ]))


@dataclass(frozen=True)
class _ClipStatistics:
    """Per-clip sums from which both distances of any subset of the clips follow.

    A subset's log-mel moments and summed spectra are sums over its clips, so a drawn
    subset and its complement cost additions, not another pass over the audio.
    """

    mel_count: np.ndarray  # (clips,)
    mel_total: np.ndarray  # (clips, bands)
    mel_outer: np.ndarray  # (clips, bands, bands)
    power: dict[int, np.ndarray]  # FFT size -> (clips, bins) summed power
    power_count: dict[int, np.ndarray]  # FFT size -> (clips,) frames

    @classmethod
    def of(cls, clips: Sequence[np.ndarray], sample_rate_hz: int,
           fft_sizes: Sequence[int] = FFT_SIZES) -> _ClipStatistics:
        moments = [_Moments.of(log_mel_frames([clip], sample_rate_hz)) for clip in clips]
        power, power_count = {}, {}
        for size in fft_sizes:
            power[size], power_count[size] = _power_sums(clips, size)
        return cls(np.array([m.count for m in moments]), np.stack([m.total for m in moments]),
                   np.stack([m.outer for m in moments]), power, power_count)

    def moments(self, rows) -> _Moments:
        """The log-mel moments of the clips `rows` (an index array or a slice)."""
        return _Moments(float(self.mel_count[rows].sum()), self.mel_total[rows].sum(axis=0),
                        self.mel_outer[rows].sum(axis=0))

    def spectra(self, rows) -> dict[int, tuple[np.ndarray, float]]:
        """FFT size -> (summed power, frame count) of the clips `rows`."""
        return {size: (self.power[size][rows].sum(axis=0), float(self.power_count[size][rows].sum()))
                for size in self.power}


class ReferenceSet(FlooredReference):
    """Held-out real clips with their per-clip sums, prepared once for every evaluation of a run.

    The floors of each set size (and the noise controls that check them) are computed on
    first use and kept.

    Args:
        clips: (clips, length) float32 real clips in [-1, 1].
        sample_rate_hz: their rate in Hz.
        sources: Optional (clips,) id of the piece or file each clip comes from: each floor
            draw then compares its drawn set with the other sources' clips only
            (`harness.evaluation.floors.floor_draws`).

    Raises:
        ValueError: If `clips` is not 2-D or has no clip, or `sources` does not match it.
    """

    clip_noun = "segments"

    def _prepare(self, clips: np.ndarray) -> None:
        self.statistics = _ClipStatistics.of(clips, self.sample_rate_hz)

    def _draw_floors(self, count: int, seed: int) -> _Floors:
        draws = floor_draws(count, self.count, seed, self.sources)
        real = _distances_per_draw(self.statistics, draws, None)
        controls = {}
        for index, kind in enumerate(NOISE_CONTROLS):
            clips = noise_clips(kind, count, self.length, self.sample_rate_hz, self.rms, seed=seed * 31 + index)
            statistics = _ClipStatistics.of(clips, self.sample_rate_hz)
            controls[kind] = _distances_per_draw(self.statistics, draws, statistics)
        figures: dict[str, float | None] = {}
        reasons: dict[str, str] = {}
        for name in DISTANCES:
            mean, std, p95 = summarize(real[name])
            reason = undiscriminating_reason(
                p95, {kind: summarize(values[name])[0] for kind, values in controls.items()},
                count, self.length / self.sample_rate_hz)
            if reason is not None:
                reasons[name], p95 = reason, None
            figures[f"{name}_real_vs_real"], figures[f"{name}_real_vs_real_std"] = mean, std
            figures[f"{name}_real_vs_real_p95"] = p95
        return _Floors(draws, figures, reasons)


@dataclass(frozen=True)
class _Floors:
    """A reference's floors for one set size and seed: they do not depend on the generated set."""

    draws: list[tuple[np.ndarray, np.ndarray]]
    figures: dict[str, float | None]  # <name>_real_vs_real, _std, _p95 (p95 None when undiscriminating)
    reasons: dict[str, str]  # distance name -> why it has no verdict


def _distances_per_draw(real: _ClipStatistics, draws: Sequence[tuple[np.ndarray, np.ndarray]],
                        fixed: _ClipStatistics | None) -> dict[str, list[float | None]]:
    """Each distance of a set from the rest of the reference, one value per (drawn, rest) draw.

    The set is `fixed` (generated clips, or a noise control) in every draw, or with None
    the draw's drawn real clips (the floor).
    """
    values: dict[str, list[float | None]] = {name: [] for name in DISTANCES}
    for drawn, rest in draws:
        statistics, rows = (real, drawn) if fixed is None else (fixed, slice(None))
        values["frechet_logmel"].append(_frechet_from_moments(statistics.moments(rows), real.moments(rest)))
        values["mr_lsd_db"].append(_mr_lsd(statistics.spectra(rows), real.spectra(rest)))
    return values


def quality_metrics(
    generated: Sequence[np.ndarray], reference: np.ndarray | ReferenceSet, sample_rate_hz: int, *,
    seed: int = 0,
) -> dict[str, float | None]:
    """Both distances of the generated set from the reference, each with its like-for-like floor.

    The floor of a distance is the same distance for a set of real clips as many and as
    long as the generated ones. `FLOOR_DRAWS` times (draws fixed by `seed`), that many
    clips are drawn from `reference` without replacement; the clips left over are the
    reference of that draw for both the drawn real set and the generated set. Each
    ``<distance>`` is the generated set's mean over the draws, ``<distance>_real_vs_real``
    the real sets' mean, with their SD (``_std``) and `FLOOR_PERCENTILE` percentile
    (``_p95``) over the draws. A generated value at or below the p95 is within the floor:
    real sets of its size are that far from the reference at least one time in twenty.
    The p95 is None (no verdict) where white, pink or low-passed noise at the reference's
    level, as many and as long as the generated clips, lands within it on the same draws:
    `ReferenceSet.floor_notes` says which and why.

    A floor needs reference clips exactly as long as the generated clips (all of one length)
    and at least twice as many of them as generated clips, so that every draw leaves a
    reference at least as large as the set compared with it. Otherwise the floor figures
    are None and the distances compare the generated set with the whole reference.

    Args:
        generated: Sequence of (samples,) generated waveforms in [-1, 1].
        reference: (clips, length) float32 held-out real clips, or a `ReferenceSet` of them
            (prepared once when one reference serves many evaluations).
        sample_rate_hz: Sample rate of both in Hz.
        seed: Seed of the draws.

    Returns:
        ``frechet_logmel`` (dB^2) and ``mr_lsd_db`` (dB), and for each
        ``_real_vs_real``, ``_real_vs_real_std`` and ``_real_vs_real_p95``. A Fréchet
        figure is None when a set it needs has at most 64 log-mel frames: real sets of the
        generated set's size have exactly its frame count, so the generated value and its
        floor are None together.

    Raises:
        ValueError: If generated or reference is empty, or reference is not 2-D.
    """
    if not isinstance(reference, ReferenceSet):
        reference = ReferenceSet(reference, sample_rate_hz)
    like_for_like = reference.like_for_like(generated, sample_rate_hz)
    fake = _ClipStatistics.of(generated, sample_rate_hz)
    if like_for_like:
        floors = reference.floors(len(generated), seed)
        draws, figures = floors.draws, floors.figures
    else:  # no floor: the distances against the whole reference, floor figures None
        draws, figures = [(np.zeros(0, int), np.arange(reference.count))], {}
    values = _distances_per_draw(reference.statistics, draws, fake)
    metrics: dict[str, float | None] = {}
    for name in DISTANCES:
        metrics[name] = summarize(values[name])[0] if like_for_like else values[name][0]
        for suffix in ("", "_std", "_p95"):
            metrics[f"{name}_real_vs_real{suffix}"] = figures.get(f"{name}_real_vs_real{suffix}")
    return metrics


def within_floor(value: float | None, floor_p95: float | None) -> bool | None:
    """Whether a distance is within its floor: at most the p95 of like-for-like real sets.

    Returns:
        None when either figure is missing (no verdict possible).
    """
    if value is None or floor_p95 is None or not (np.isfinite(value) and np.isfinite(floor_p95)):
        return None
    return bool(value <= floor_p95)
