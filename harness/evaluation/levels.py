"""Framing and levels of a waveform: frames, dB, per-frame sums, zero crossings and peak.

Pure NumPy on float arrays in [-1, 1]; long clips are processed in chunks (of
`CHUNK_SAMPLES`) so that an hour of audio fits in a few hundred MB.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from harness.evaluation.thresholds import DEFAULT_THRESHOLDS

DB_FLOOR = -120.0  # dBFS reported for digital silence instead of -inf


CHUNK_SAMPLES = 1 << 20  # bounds the temporaries of one pass to a few MB


_AMPLITUDE_FLOOR = 10.0 ** (DB_FLOOR / 20.0)


def as_mono_float32(audio: np.ndarray) -> np.ndarray:
    array = np.asarray(audio, dtype=np.float32)
    if array.ndim != 1:
        raise ValueError(f"audio must be one-dimensional (samples,), got shape {array.shape}")
    if array.size == 0:
        raise ValueError("audio is empty")
    return array


def to_db(amplitude: np.ndarray) -> np.ndarray:
    return 20.0 * np.log10(np.maximum(amplitude, _AMPLITUDE_FLOOR))


def scalar_db(amplitude: float) -> float:
    # math rather than NumPy: a dozen scalar calls per clip add up over thousands of clips.
    return 20.0 * math.log10(max(amplitude, _AMPLITUDE_FLOOR))


@functools.lru_cache(maxsize=8)
def hann_window(length: int) -> np.ndarray:
    window = np.hanning(length).astype(np.float32)
    window.setflags(write=False)  # shared between calls through the cache
    return window


def percentiles_of(values: np.ndarray, percents: Sequence[float]) -> np.ndarray:
    """np.percentile's default (linear) method, without its per-call overhead on small arrays."""
    ordered = np.sort(values)
    return np.interp(np.asarray(percents) / 100.0 * (ordered.size - 1), np.arange(ordered.size), ordered)


def frame_length_samples(sample_rate_hz: int, frame_s: float) -> int:
    return max(1, round(sample_rate_hz * frame_s))


def split_frames(audio: np.ndarray, frame_length: int) -> np.ndarray:
    """(frames, frame_length) view of consecutive non-overlapping frames; a last partial one is left out.

    With hop = frame length, a reshape is the same strided view as
    `sliding_window_view(...)[::hop]`, at a fraction of its per-call cost (it matters
    for thousands of one-second clips).
    """
    full = audio.size // frame_length
    return audio[: full * frame_length].reshape(full, frame_length)


@dataclass(frozen=True)
class FrameStats:
    """Sums over non-overlapping frames; the last frame may be shorter, so every sample counts."""

    sums: np.ndarray  # (frames,) float64 sum of samples
    squares: np.ndarray  # (frames,) float64 sum of squared samples
    lengths: np.ndarray  # (frames,) float64 samples per frame
    clipped: np.ndarray  # (frames,) int64 samples with |x| >= clip_level


def frame_stats(audio: np.ndarray, frame_length: int, clip_level: float) -> FrameStats:
    """One chunked pass that every level and clipping metric derives from."""
    frames = split_frames(audio, frame_length)
    full = frames.shape[0]
    sums = np.empty(full, dtype=np.float64)
    squares = np.empty(full, dtype=np.float64)
    clipped = np.empty(full, dtype=np.int64)
    step = max(1, CHUNK_SAMPLES // frame_length)
    for start in range(0, full, step):
        # float64 per chunk: var = E[x^2] - E[x]^2 must not cancel for a constant 0.3 tail.
        chunk = frames[start : start + step].astype(np.float64)
        sums[start : start + step] = chunk.sum(axis=1)
        squares[start : start + step] = np.einsum("ij,ij->i", chunk, chunk)
        clipped[start : start + step] = np.count_nonzero(np.abs(chunk) >= clip_level, axis=1)
    lengths = np.full(full, frame_length, dtype=np.float64)
    remainder = audio[full * frame_length :].astype(np.float64)
    if remainder.size:
        sums = np.append(sums, remainder.sum())
        squares = np.append(squares, remainder @ remainder)
        lengths = np.append(lengths, remainder.size)
        clipped = np.append(clipped, np.count_nonzero(np.abs(remainder) >= clip_level))
    return FrameStats(sums, squares, lengths, clipped)


def crossings_and_peak(audio: np.ndarray) -> tuple[int, float]:
    """Number of sign changes and the largest |x|, in chunks."""
    crossings = 0
    peak = 0.0
    for start in range(0, audio.size, CHUNK_SAMPLES):
        # One sample of overlap so that a sign change across a chunk border counts once.
        chunk = audio[start : start + CHUNK_SAMPLES + 1]
        negative = chunk < 0
        crossings += int(np.count_nonzero(negative[1:] != negative[:-1]))
        peak = max(peak, float(np.abs(chunk).max()))
    return crossings, peak


def frame_rms_db(audio: np.ndarray, sample_rate_hz: int, frame_s: float = 0.02) -> np.ndarray:
    """RMS level of consecutive non-overlapping frames, DC included.

    Args:
        audio: (samples,) float waveform in [-1, 1].
        sample_rate_hz: Sample rate in Hz.
        frame_s: Frame length in seconds; the last frame may be shorter.

    Returns:
        (frames,) float64 levels in dBFS, floored at `DB_FLOOR` for digital silence.
    """
    audio = as_mono_float32(audio)
    stats = frame_stats(audio, frame_length_samples(sample_rate_hz, frame_s), DEFAULT_THRESHOLDS.clip_level)
    return to_db(np.sqrt(stats.squares / stats.lengths))
