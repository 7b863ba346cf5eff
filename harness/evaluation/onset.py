"""When a clip collapsed: the onset of its constant tail, and the period of a looping tail.

The rules that use them (``flat_collapse`` and ``loop``) are described in
`harness.evaluation.diagnostics`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import scipy.fft

from harness.evaluation.levels import CHUNK_SAMPLES, as_mono_float32, scalar_db
from harness.evaluation.thresholds import DEFAULT_THRESHOLDS, Thresholds

# The loop search (`find_loop_period`) looks for the period in the last this many longest periods of the
# tail (200 ms at 16 or 44.1 kHz with the defaults), then checks it over the whole tail in chunks.
_LOOP_SEARCH_PERIODS = 4


def find_collapse_onset(
    audio: np.ndarray, sample_rate_hz: int, thresholds: Thresholds
) -> tuple[int | None, float, float]:
    """`collapse_onset_sample` plus the lowest and highest value of the constant tail."""
    band = 2.0 * thresholds.constant_tolerance
    high = -np.inf
    low = np.inf
    end = audio.size
    chunk = 4096  # music breaks the band within a few samples of its end: start small
    onset = 0
    while end > 0:
        start = max(0, end - chunk)
        backwards = audio[start:end][::-1]
        running_high = np.maximum(np.maximum.accumulate(backwards), high)
        running_low = np.minimum(np.minimum.accumulate(backwards), low)
        broken = running_high - running_low > band
        if broken.any():
            first_broken = int(np.argmax(broken))
            onset = end - first_broken
            if first_broken:
                high, low = running_high[first_broken - 1], running_low[first_broken - 1]
            break
        high, low = running_high[-1], running_low[-1]
        end = start
        chunk = min(chunk * 4, CHUNK_SAMPLES)
    if onset and audio.size - onset < max(1.0, thresholds.min_constant_tail_s * sample_rate_hz):
        return None, 0.0, 0.0
    return onset, float(low), float(high)


def collapse_onset_sample(
    audio: np.ndarray, sample_rate_hz: int, thresholds: Thresholds = DEFAULT_THRESHOLDS
) -> int | None:
    """First sample after which the clip stays within a narrow band to its end.

    The tail from the onset on fits inside a band of width 2 x
    `thresholds.constant_tolerance`; the sample just before the onset does not fit
    with it. The scan runs backwards in growing chunks and stops at the first sample
    that breaks the band, so music (which breaks it within a few samples of its
    end) costs almost nothing.

    Args:
        audio: (samples,) float waveform.
        sample_rate_hz: Sample rate in Hz (for the minimum tail length).
        thresholds: Tolerance and minimum tail length.

    Returns:
        The onset sample index; 0 when the whole clip is constant; None when the
        constant tail is shorter than `thresholds.min_constant_tail_s`.
    """
    return find_collapse_onset(as_mono_float32(audio), sample_rate_hz, thresholds)[0]


def _lag_residual(audio: np.ndarray, start: int, lags: Sequence[int]) -> tuple[list[float], float]:
    """Mean of (x[t + lag] - x[t])^2 over t in [start, size - lag) for each lag, and the variance of audio[start:].

    Chunked float64 passes, so an hour-long tail needs a few MB.
    """
    residuals = []
    for lag in lags:
        total = 0.0
        for begin in range(start, audio.size - lag, CHUNK_SAMPLES):
            end = min(begin + CHUNK_SAMPLES, audio.size - lag)
            difference = audio[begin + lag : end + lag].astype(np.float64) - audio[begin:end]
            total += float(difference @ difference)
        residuals.append(total / (audio.size - start - lag))
    total_sum = total_squares = 0.0
    for begin in range(start, audio.size, CHUNK_SAMPLES):
        chunk = audio[begin : begin + CHUNK_SAMPLES].astype(np.float64)
        total_sum += float(chunk.sum())
        total_squares += float(chunk @ chunk)
    size = audio.size - start
    return residuals, max(total_squares / size - (total_sum / size) ** 2, 0.0)


def find_loop_period(
    audio: np.ndarray, sample_rate_hz: int, n: int, thresholds: Thresholds
) -> tuple[int | None, float | None]:
    """`loop_period_samples` and `loop_residual_db` of a clip (see `diagnose_clip`); None, None without a lag.

    The tail is the last `thresholds.min_collapsed_tail_fraction` of the clip. The
    period is searched by an FFT autocorrelation over lags up to max(n,
    `loop_max_period_s`), at most a third of the tail, in the tail's last
    `_LOOP_SEARCH_PERIODS` times that many samples (mean removed; a short, bounded
    stretch, so thousands of clips or an hour cost little), from the first lag whose
    normalised autocorrelation is below
    `loop_drop_correlation`: the smallest lag whose residual is within
    `loop_residual_db`, else the lag of the smallest residual. Music stops there. A
    lag within it is then measured over the whole tail, at itself and at the whole
    number of periods closest to half the tail, and the worse of the two is reported.
    """
    tail_start = audio.size - int(audio.size * thresholds.min_collapsed_tail_fraction)
    if audio.size - tail_start < 6:  # three periods of at least 2 samples
        return None, None
    max_lag = min((audio.size - tail_start) // 3, max(n, round(thresholds.loop_max_period_s * sample_rate_hz)))
    stretch = audio[max(tail_start, audio.size - _LOOP_SEARCH_PERIODS * max_lag) :].astype(np.float64)
    stretch -= stretch.mean()
    size = stretch.size
    energy = np.concatenate(([0.0], np.cumsum(stretch * stretch)))
    if max_lag < 2 or energy[-1] <= 0.0:
        return None, None
    fft_size = scipy.fft.next_fast_len(size + max_lag, real=True)
    spectrum = scipy.fft.rfft(stretch, fft_size)
    correlation = scipy.fft.irfft(spectrum.real**2 + spectrum.imag**2, fft_size)[: max_lag + 1]
    lags = np.arange(max_lag + 1)
    head = energy[size - lags]  # energy of x[t] over t < size - lag
    rear = energy[size] - energy[lags]  # energy of x[t + lag] over the same t
    normalised = correlation / np.sqrt(np.maximum(head * rear, 1e-300))
    dropped = np.flatnonzero(normalised[1:] < thresholds.loop_drop_correlation)
    if dropped.size == 0:
        return None, None
    first = int(dropped[0]) + 1
    # Mean squared difference over the stretch's variance (energy[-1] / size).
    residual = np.maximum(head + rear - 2.0 * correlation, 0.0)[first:] / (size - lags[first:])
    residual *= size / energy[-1]
    limit = 10.0 ** (thresholds.loop_residual_db / 10.0)
    within = np.flatnonzero(residual <= limit)
    period = first + int(within[0] if within.size else np.argmin(residual))
    if not within.size:
        return period, scalar_db(math.sqrt(float(residual[period - first])))
    tail_size = audio.size - tail_start
    periods = max(1, round(tail_size / 2 / period))
    (at_period, at_half), variance = _lag_residual(audio, tail_start, (period, periods * period))
    worse = max(at_period, at_half) / variance if variance > 0.0 else 1.0
    return period, scalar_db(math.sqrt(worse))
