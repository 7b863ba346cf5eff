"""Offline quality metrics of generated audio against held-out real audio, with no pretrained weights.

Two distances, each reported beside the same distance between two disjoint halves
of the real data, so a reader can see how far generated audio is from "as close
as real audio gets to itself":

- ``frechet_logmel``: Fréchet distance between Gaussians fitted to 64-band log-mel
  frames. It has the form of FAD but is NOT FAD: there is no VGGish (or any learned)
  embedding, so its values are not comparable with published FAD numbers.
- ``mr_lsd_db``: multi-resolution log-spectral distance between the two sets'
  average power spectra, in dB.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import scipy.linalg
from numpy.lib.stride_tricks import sliding_window_view

MEL_BANDS = 64
MEL_FRAME_S = 0.025  # 25 ms frames, 10 ms hop: the usual speech/audio-tagging front end
MEL_HOP_S = 0.010
MEL_LOW_HZ = 60.0  # below this, 16 kHz / 512-point bins are too coarse for distinct mel bands
LOG_FLOOR_DB = -100.0  # log features of digital silence; 16-bit audio bins sit above it
COVARIANCE_EPSILON = 1e-6  # added to both covariances so sqrtm of near-singular ones is finite
_CHUNK_FRAMES = 4096


def _hz_to_mel(frequency_hz: np.ndarray | float) -> np.ndarray | float:
    return 2595.0 * np.log10(1.0 + np.asarray(frequency_hz) / 700.0)


def _mel_to_hz(mel: np.ndarray | float) -> np.ndarray | float:
    return 700.0 * (10.0 ** (np.asarray(mel) / 2595.0) - 1.0)


@functools.lru_cache(maxsize=16)
def mel_filterbank(sample_rate_hz: int, fft_size: int, bands: int = MEL_BANDS) -> np.ndarray:
    """Triangular HTK-mel filters from `MEL_LOW_HZ` to Nyquist, peak 1.

    Args:
        sample_rate_hz: Sample rate in Hz.
        fft_size: FFT length in samples.
        bands: Number of mel bands.

    Returns:
        (bands, fft_size // 2 + 1) float32 weights; read-only (it is cached).
    """
    edges_hz = _mel_to_hz(np.linspace(_hz_to_mel(MEL_LOW_HZ), _hz_to_mel(sample_rate_hz / 2), bands + 2))
    bins_hz = np.fft.rfftfreq(fft_size, d=1.0 / sample_rate_hz)
    lower, centre, upper = edges_hz[:-2, None], edges_hz[1:-1, None], edges_hz[2:, None]
    rising = (bins_hz - lower) / (centre - lower)
    falling = (upper - bins_hz) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)
    weights.setflags(write=False)
    return weights


def _frames(clip: np.ndarray, frame_length: int, hop: int) -> np.ndarray:
    """(frames, frame_length) strided view of a clip; a clip shorter than a frame is zero-padded."""
    clip = np.asarray(clip, dtype=np.float32)
    if clip.ndim != 1:
        raise ValueError(f"each clip must be one-dimensional (samples,), got shape {clip.shape}")
    if clip.size < frame_length:
        clip = np.pad(clip, (0, frame_length - clip.size))
    return sliding_window_view(clip, frame_length)[::hop]


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
    window = np.hanning(frame_length).astype(np.float32)
    filters = mel_filterbank(sample_rate_hz, fft_size)
    features = []
    for clip in clips:
        frames = _frames(clip, frame_length, hop)
        for start in range(0, frames.shape[0], _CHUNK_FRAMES):
            chunk = frames[start : start + _CHUNK_FRAMES] * window
            power = np.abs(np.fft.rfft(chunk, n=fft_size, axis=1)) ** 2  # (k, bins)
            mel_power = power @ filters.T  # (k, bands)
            features.append(10.0 * np.log10(np.maximum(mel_power.astype(np.float64), 10 ** (LOG_FLOOR_DB / 10))))
    if not features:
        return np.empty((0, MEL_BANDS))
    return np.concatenate(features)


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float | None:
    """Fréchet distance between Gaussians fitted to two sets of feature vectors.

    ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)), with `COVARIANCE_EPSILON`
    on both diagonals so that rank-deficient covariances (silent frames, few
    frames) still have a finite square root; the imaginary part numerical noise
    leaves in sqrtm is dropped and the result is clamped at 0.

    Args:
        features_a: (frames_a, dims) features.
        features_b: (frames_b, dims) features.

    Returns:
        The distance in squared feature units, or None when either set has at most
        `dims` frames (its covariance would be rank-deficient and the value noise).
    """
    dims = features_a.shape[1]
    if features_a.shape[0] <= dims or features_b.shape[0] <= dims:
        return None
    mean_a, mean_b = features_a.mean(axis=0), features_b.mean(axis=0)
    regulariser = COVARIANCE_EPSILON * np.eye(dims)
    cov_a = np.cov(features_a, rowvar=False) + regulariser
    cov_b = np.cov(features_b, rowvar=False) + regulariser
    cross_sqrt = scipy.linalg.sqrtm(cov_a @ cov_b)
    distance = float(
        np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(cross_sqrt).real
    )
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


def _mean_log_power_db(clips: Sequence[np.ndarray], fft_size: int) -> np.ndarray:
    """(fft_size // 2 + 1,) log of the power spectrum averaged over every frame (50% overlap)."""
    window = np.hanning(fft_size).astype(np.float32)
    total = np.zeros(fft_size // 2 + 1, dtype=np.float64)
    count = 0
    for clip in clips:
        frames = _frames(clip, fft_size, fft_size // 2)
        for start in range(0, frames.shape[0], _CHUNK_FRAMES):
            chunk = frames[start : start + _CHUNK_FRAMES] * window
            total += (np.abs(np.fft.rfft(chunk, axis=1)) ** 2).sum(axis=0, dtype=np.float64)
            count += chunk.shape[0]
    if count == 0:
        raise ValueError("a set of clips is empty")
    return 10.0 * np.log10(np.maximum(total / count, 10 ** (LOG_FLOOR_DB / 10)))


def multires_log_spectral_distance(
    generated: Sequence[np.ndarray],
    reference: Sequence[np.ndarray],
    sample_rate_hz: int,
    fft_sizes: Sequence[int] = (256, 512, 1024, 2048),
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
    distances = [
        np.sqrt(np.mean((_mean_log_power_db(generated, size) - _mean_log_power_db(reference, size)) ** 2))
        for size in fft_sizes
    ]
    return float(np.mean(distances))


def quality_metrics(
    generated: Sequence[np.ndarray], reference: np.ndarray, sample_rate_hz: int, *, seed: int = 0
) -> dict[str, float | None]:
    """Both distances of generated vs real audio, and of real vs real as a reference point.

    The real-vs-real values compare two disjoint halves of `reference` (a random split
    of its segments given `seed`). Each half has half the frames, so the real-vs-real
    Fréchet value carries a somewhat larger small-sample bias than the generated one:
    read it as a floor, not an exact target.

    Args:
        generated: Sequence of (samples,) generated waveforms in [-1, 1]; any lengths.
        reference: (segments, length) float32 held-out real segments.
        sample_rate_hz: Sample rate of both in Hz.
        seed: Seed of the split of `reference` into halves.

    Returns:
        ``frechet_logmel`` and ``frechet_logmel_real_vs_real`` (dB^2; None when a set
        has at most 64 log-mel frames), ``mr_lsd_db`` and ``mr_lsd_db_real_vs_real``
        (dB; the latter None with fewer than 2 reference segments).

    Raises:
        ValueError: If generated or reference is empty, or reference is not 2-D.
    """
    reference = np.asarray(reference, dtype=np.float32)
    if reference.ndim != 2 or reference.shape[0] == 0:
        raise ValueError(f"reference must be (segments, length) with segments >= 1, got {reference.shape}")
    if len(generated) == 0:
        raise ValueError("generated is empty")
    order = np.random.default_rng(seed).permutation(reference.shape[0])
    half_a, half_b = reference[order[: len(order) // 2]], reference[order[len(order) // 2 :]]
    generated_features = log_mel_frames(generated, sample_rate_hz)
    reference_features = log_mel_frames(reference, sample_rate_hz)
    split = reference.shape[0] >= 2
    return {
        "frechet_logmel": frechet_distance(generated_features, reference_features),
        "frechet_logmel_real_vs_real": (
            frechet_distance(log_mel_frames(half_a, sample_rate_hz), log_mel_frames(half_b, sample_rate_hz))
            if split
            else None
        ),
        "mr_lsd_db": multires_log_spectral_distance(generated, reference, sample_rate_hz),
        "mr_lsd_db_real_vs_real": (
            multires_log_spectral_distance(half_a, half_b, sample_rate_hz) if split else None
        ),
    }
