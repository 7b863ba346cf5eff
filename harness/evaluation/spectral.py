"""The spectral measures of a clip: mean power spectrum, flatness, centroid and the noise cues.

The noise cues test blocks of `NOISE_BLOCK_FRAMES` spectrogram frames against a stationary
Gaussian process with a smooth spectrum (see `harness.evaluation.diagnostics`, rule 5).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

import numpy as np
import scipy.fft

from harness.evaluation.levels import CHUNK_SAMPLES, hann_window, split_frames

SPECTRAL_BAND_LOW_HZ = 50.0  # below this, bins hold DC leakage rather than music


SPECTRAL_FRAME_S = 0.04  # spectral frames are the next power of two at or above this


# The noise cues (`_block_noise_cues`) test spectrogram blocks against a stationary Gaussian process.
NOISE_BLOCK_FRAMES = 32  # spectral frames per block: 2.0 s at 16 kHz, 1.5 s at 44.1 kHz


NOISE_MIN_FRAMES = 15  # shorter clips get no noise cues: 15 frames are 0.96 s at 16 kHz, 0.70 s at 44.1 kHz


_LOG_POWER_STD = math.pi / math.sqrt(6.0)  # std of ln(exponential variable): a noise bin's ln power, 5.57 dB


# Sampling sd of a sample std of n ln-exponential values is 1.05 sigma / sqrt(n) (kurtosis 5.4).
_STD_OF_SAMPLE_STD = 1.05


# Sampling sd of an RMS over n second differences of white noise, over its expectation: 0.986 / sqrt(n)
# (the differences correlate at -2/3 and 1/6 with their neighbours: 0.5 * sqrt(2 * (1 + 2 * 0.472))).
_RMS_RATIO_SD = 0.986


# Variance of a mean of K Hann bins' ln powers is 1.65 / K times one bin's: adjacent bins' complex
# amplitudes correlate at 2/3, so their ln powers at Li2(4/9) / zeta(2) = 0.31, two apart at 0.02.
_ADJACENT_BIN_FACTOR = 1.65


_DB_PER_NEPER_OF_POWER = 10.0 / math.log(10.0)  # a natural-log power ratio in dB


_TONALITY_SMOOTH_BINS = 9  # running median width: over twice a Hann main lobe (4 bins)


_DECLICK_FRAMES = 3  # running-median width that removes a one-frame click from the level

_NOISE_BIN_RANGE = 1e-6  # bins more than 60 dB below a block's loudest are left out of its cues


def spectral_fft_size(sample_rate_hz: int) -> int:
    """FFT size of the spectral frames: the next power of two at or above 40 ms, at least 256.

    Args:
        sample_rate_hz: Sample rate in Hz.

    Returns:
        Frame length in samples (1024 at 16 and 22.05 kHz, 2048 at 44.1 kHz).
    """
    return max(256, 1 << int(np.ceil(np.log2(sample_rate_hz * SPECTRAL_FRAME_S))))


@dataclass(frozen=True)
class _NoiseCues:
    """Per-block noise cues (see `_block_noise_cues`); a clip reports their medians over active blocks."""

    fluctuation_z: float
    tonality_ratio: float
    modulation_z: float
    modulation_depth_db: float
    declicked_depth_db: float


def _block_bounds(frames: int) -> list[tuple[int, int]]:
    """Frame ranges of the noise-cue blocks: `NOISE_BLOCK_FRAMES` each, the last one takes the remainder.

    No blocks when the clip has fewer than `NOISE_MIN_FRAMES` frames.
    """
    if frames < NOISE_MIN_FRAMES:
        return []
    starts = list(range(0, max(1, frames // NOISE_BLOCK_FRAMES) * NOISE_BLOCK_FRAMES, NOISE_BLOCK_FRAMES))
    return list(zip(starts, starts[1:] + [frames], strict=True))


def _depth_db(gain: np.ndarray, gain_variance: float) -> float:
    """How far a gain track moves from frame to frame beyond chance, in dB (see _block_noise_cues)."""
    curvature = gain[2:] - 2.0 * gain[1:-1] + gain[:-2]
    excess = float(curvature @ curvature) / curvature.size - 6.0 * gain_variance
    return _DB_PER_NEPER_OF_POWER * math.sqrt(max(excess, 0.0) / 6.0)


def _modulation_cues(gain: np.ndarray, kept: int, median_filter) -> tuple[float, float, float]:
    """(modulation_z, modulation_depth_db, declicked_depth_db) of a block's per-frame gain (mean
    natural-log power over its `kept` bins); see _block_noise_cues."""
    amplitude = np.exp((gain - gain.max()) / 2.0)
    curvature = amplitude[2:] - 2.0 * amplitude[1:-1] + amplitude[:-2]
    middle = amplitude[1:-1]
    # Gain error: the mean of `kept` log powers, adjacent Hann bins correlated (see _ADJACENT_BIN_FACTOR);
    # amplitude error = gain error / 2 times the amplitude; a second difference has 6 times its variance.
    gain_variance = _LOG_POWER_STD**2 * _ADJACENT_BIN_FACTOR / kept
    chance = 6.0 * gain_variance / 4.0 * float(middle @ middle)
    ratio = math.sqrt(float(curvature @ curvature) / chance) if chance > 0.0 else 0.0
    modulation_z = (ratio - 1.0) * math.sqrt(curvature.size) / _RMS_RATIO_SD
    # A click lifts one frame's gain; a note holds it over the frames of its decay. A running
    # median of 3 frames removes the one and keeps the other (chance is removed as above, a
    # little more than the median leaves of it, so steady noise stays at 0).
    declicked = median_filter(gain, _DECLICK_FRAMES, mode="nearest")
    return modulation_z, _depth_db(gain, gain_variance), _depth_db(declicked, gain_variance)


def _block_noise_cues(power: np.ndarray, log_power: np.ndarray) -> _NoiseCues:
    """How far one block of power spectra is from a stationary Gaussian process with a smooth spectrum.

    Under that null hypothesis every periodogram bin is its expected power times an
    exponential variable, independently from frame to frame, so its natural log has a
    standard deviation of pi / sqrt(6) (5.57 dB) whatever the colour of the noise. The
    cues use the bins within `_NOISE_BIN_RANGE` of the block's loudest bin, after
    removing each frame's gain (its mean log power over those bins), so that a fade does
    not count as a change of spectrum. Each is about 1 (or 0 for a z-score) for noise.

    Args:
        power: (frames, bins) float32 periodogram of `NOISE_MIN_FRAMES` or more Hann frames.
        log_power: Its natural log (plus a tiny offset that keeps digital silence finite).

    Returns:
        fluctuation_z: the power-weighted RMS over bins of the z-score of each bin's
        log-power standard deviation over the frames against 5.57 dB, on a log scale
        (about 1 for noise; steady partials fluctuate far less, notes that start and stop
        far more). tonality_ratio: RMS of the average log spectrum around its running
        median over `_TONALITY_SMOOTH_BINS` bins, over what averaging the frames leaves
        of the 5.57 dB (about 1 for noise: a smooth spectrum of any colour; harmonic peaks
        several times more). modulation_z: z-score of the RMS second difference of the
        frames' amplitude (exp of half the gain) against what chance alone gives (about 0
        for noise, however slowly it fades; onsets, bursts and tremolo far more).
        modulation_depth_db: how far the level moves from frame to frame beyond chance, in
        dB: the RMS second difference of the frames' gain (mean log power) over sqrt(6),
        with what chance gives removed in quadrature (0 for noise; so the typical size of
        independent frame-to-frame level jitter). `modulation_z` says the level moves;
        this says by how much (a rhythm moves it by 4.3 dB and more, spiky hiss by 0.9-2.7).
        declicked_depth_db: the same depth after a running median of `_DECLICK_FRAMES`
        frames of the gain, which removes one-frame clicks and keeps notes that hold the
        level for several frames (hiss with isolated clicks 0; rhythmic music 1.7 and more).
    """
    frames = power.shape[0]
    mean_power = power.sum(axis=0, dtype=np.float64) / frames
    keep = mean_power >= mean_power.max() * _NOISE_BIN_RANGE
    weights = mean_power[keep]
    kept = weights.size
    if kept < keep.size:  # boolean indexing copies; most blocks of noise and music keep every bin
        log_power = log_power[:, keep]
    gain = log_power.sum(axis=1, dtype=np.float64) / kept  # (frames,)
    shape = log_power - gain.astype(np.float32)[:, None]  # each frame's spectral shape, float32
    average = shape.sum(axis=0, dtype=np.float64) / frames  # (kept,)
    squares = (shape * shape).sum(axis=0, dtype=np.float64)
    spread = np.sqrt(np.maximum(squares - frames * average**2, 1e-12) / (frames - 1))
    # On a log scale the sample std is close to normal at both ends (a steady partial's is near 0).
    spread_z = np.log(spread / _LOG_POWER_STD) * (math.sqrt(frames - 1) / _STD_OF_SAMPLE_STD)
    fluctuation_z = math.sqrt(float(weights @ spread_z**2) / float(weights.sum()))
    from scipy.ndimage import median_filter  # imported here: scipy.ndimage loads slowly

    fine = average - median_filter(average, _TONALITY_SMOOTH_BINS, mode="nearest")
    tonality_ratio = math.sqrt(float(fine @ fine) / fine.size) / (_LOG_POWER_STD / math.sqrt(frames))
    modulation_z, modulation_depth_db, declicked_depth_db = _modulation_cues(gain, kept, median_filter)
    return _NoiseCues(fluctuation_z, tonality_ratio, modulation_z, modulation_depth_db, declicked_depth_db)


def spectral_pass(
    audio: np.ndarray, sample_rate_hz: int, fft_size: int, silence_db: float
) -> tuple[np.ndarray, np.ndarray, list[_NoiseCues]]:
    """Mean power spectrum, the spectral flatness of each active frame, the noise cues of each active block.

    Frames are non-overlapping, Hann-windowed and `fft_size` long; a last partial frame
    is left out, and a clip shorter than one frame is zero-padded to one. Flatness,
    activity and the noise cues use the bins at or above `SPECTRAL_BAND_LOW_HZ`; a frame
    is active when its level there is at or above `silence_db`, a block (see
    `_block_bounds`) when its mean level there is. Chunks hold whole blocks.

    Returns:
        (fft_size // 2 + 1,) float64 mean power spectrum, (active frames,) float64
        flatness values in [0, 1], and the noise cues of each active block (see
        `_block_noise_cues`; empty for clips under `NOISE_MIN_FRAMES` frames).
    """
    if audio.size < fft_size:
        audio = np.pad(audio, (0, fft_size - audio.size))
    frames = split_frames(audio, fft_size)
    window = hann_window(fft_size)
    low_bin = int(np.ceil(SPECTRAL_BAND_LOW_HZ * fft_size / sample_rate_hz))
    # Parseval: a signal of variance v gives a one-sided power sum of v * fft_size * sum(w^2) / 2.
    active_band_sum = 10.0 ** (silence_db / 10.0) * fft_size * float(np.sum(window.astype(np.float64) ** 2)) / 2.0
    power_sum = np.zeros(fft_size // 2 + 1, dtype=np.float64)
    flatness_parts = []
    cues = []
    blocks = _block_bounds(frames.shape[0])
    step = max(1, CHUNK_SAMPLES // fft_size)
    # Chunks of whole blocks (about `step` frames); without blocks, plain chunks of `step` frames.
    per_chunk = max(1, step // NOISE_BLOCK_FRAMES)
    if blocks:
        groups = [blocks[i : i + per_chunk] for i in range(0, len(blocks), per_chunk)]
        chunks = [(group[0][0], group[-1][1], group) for group in groups]
    else:
        chunks = [(start, min(start + step, frames.shape[0]), []) for start in range(0, frames.shape[0], step)]
    for start, end, chunk_blocks in chunks:
        # scipy's FFT: the same float32 transform as np.fft, about half the cost on short clips.
        spectrum = scipy.fft.rfft(frames[start:end] * window, axis=1)
        power = spectrum.real**2 + spectrum.imag**2  # (k, bins) float32
        power_sum += power.sum(axis=0, dtype=np.float64)
        band = power[:, low_bin:]
        # Tiny offset: exact-zero bins (band-limited or digital audio) would send log to -inf.
        log_band = np.log(band + 1e-30)
        arithmetic = band.sum(axis=1, dtype=np.float64) / band.shape[1]
        active = arithmetic * band.shape[1] >= active_band_sum
        if active.any():
            active_log = log_band if active.all() else log_band[active]
            geometric = np.exp(active_log.sum(axis=1, dtype=np.float64) / band.shape[1])
            flatness_parts.append(geometric / (arithmetic[active] + 1e-30))
        for block_start, block_end in chunk_blocks:
            rows = slice(block_start - start, block_end - start)
            if arithmetic[rows].mean() * band.shape[1] >= active_band_sum:
                cues.append(_block_noise_cues(band[rows], log_band[rows]))
    flatness = np.concatenate(flatness_parts) if flatness_parts else np.empty(0)
    return power_sum / frames.shape[0], flatness, cues


def mean_spectrum_centroid_hz(mean_power: np.ndarray, sample_rate_hz: int, fft_size: int) -> float | None:
    frequencies_hz = np.arange(fft_size // 2 + 1) * (sample_rate_hz / fft_size)
    low_bin = int(np.ceil(SPECTRAL_BAND_LOW_HZ * fft_size / sample_rate_hz))
    band = mean_power[low_bin:]
    total = band.sum()
    if total <= 0.0:
        return None
    return float(frequencies_hz[low_bin:] @ band / total)


def median_noise_cues(cues: list[_NoiseCues]) -> dict[str, float | None]:
    """The clip's noise cues: medians over its active blocks (None without one)."""
    names = ("fluctuation_z", "tonality_ratio", "modulation_z", "modulation_depth_db", "declicked_depth_db")
    if not cues:
        return dict.fromkeys(names)
    # statistics.median: a clip of a few seconds has one block, and NumPy's per-call cost dominates.
    return {name: float(statistics.median(getattr(cue, name) for cue in cues)) for name in names}
