"""Collapse diagnostics of generated audio: per-clip labels and metrics, and batch diversity.

The paper's generator produced either silence or a short click followed by a
constant value once the seed had been shifted out of its n-sample window. This
module says whether a clip shows that failure (or another one), and when it set
in, from the waveform alone. Everything here is pure NumPy on float arrays in
[-1, 1]; long clips are processed in chunks so that an hour of audio fits in a
few hundred MB and a few seconds.

Decision order of `diagnose_clip` (the first rule that matches wins):

1. ``silent``: the clip is constant from its first sample, or its level without
   DC (`ac_rms_db`) is below `Thresholds.silence_db`.
2. ``flat_collapse``: the clip moves at first, then stays constant (within
   `Thresholds.constant_tolerance`) from `collapse_onset_sample` to the end, for
   at least `Thresholds.min_collapsed_tail_fraction` of the clip, and either the
   constant is not zero or the sound stopped abruptly (the 20 ms before the onset
   are within `Thresholds.abrupt_stop_db` of the loudest 20 ms). Recordings that end
   in digital silence reach it through a decay, fade or reverb tail (44-56 dB below
   their loudest frame in the shipped recordings); a frozen generator stops mid-sound
   or holds a value off zero.
3. ``loop``: the clip's tail (its last `Thresholds.min_collapsed_tail_fraction`, as for
   ``flat_collapse``) repeats itself exactly: at some period L the mean squared difference
   x[t + L] - x[t] over the tail is at least `Thresholds.loop_residual_db` below the tail's
   variance, both at L and at the whole number of periods closest to half the tail. L is
   searched (FFT autocorrelation) from the first lag at which the normalised autocorrelation
   falls below `Thresholds.loop_drop_correlation`, so that the near-1 correlation of a
   smooth low-frequency signal at short lags does not count, up to max(n,
   `Thresholds.loop_max_period_s`) and at most a third of the searched stretch. This is
   the limit cycle of a deterministic autoregressive generator run free, the periodic
   counterpart of ``flat_collapse`` (a frozen value is a cycle of period 1), so it follows
   it; a constant tail has nothing left once its mean is removed. The half-tail lag makes
   "exactly" mean over seconds: decay (a plucked string), drift and vibrato accumulate
   there, which is also why no separate constant-level test is needed. Recordings are never
   sample-exact repetitions (noise floor, vibrato, decay); only a synthetic steady tone
   whose period is (nearly) a whole number of samples is, and a generator making one is
   looping. It precedes ``saturated`` and ``noise``, which describe level and spectrum: a
   cycle that reaches the rails, or one of noise-like samples, is still a cycle.
4. ``saturated``: at least `Thresholds.saturated_ratio` of the samples outside
   digital silence sit at or beyond `Thresholds.clip_level` of full scale.
5. ``noise``: stationary, structureless noise of any colour. Either the median
   spectral flatness of the clip's non-silent frames is at least
   `Thresholds.noise_flatness` (white noise is about 0.56, music below 0.05), or the
   clip is consistent with a stationary Gaussian process with a smooth spectrum on all
   three noise cues (medians over blocks of `NOISE_BLOCK_FRAMES` spectral frames; clips
   of fewer than `NOISE_MIN_FRAMES` frames have none and rely on flatness alone):

   - ``fluctuation_z`` <= `Thresholds.noise_fluctuation_z`: every bin's log power
     fluctuates from frame to frame as a noise periodogram does (5.57 dB standard
     deviation whatever the colour), neither less (steady partials) nor more (notes
     that start and stop);
   - ``tonality_ratio`` <= `Thresholds.noise_tonality_ratio`: the average spectrum is
     smooth, without the sharp peaks of pitched sound beyond what chance leaves;
   - ``modulation_z`` <= `Thresholds.noise_modulation_z`: the level does not move from
     frame to frame beyond chance (a slow fade does not count; onsets, bursts and
     tremolo do). Not consulted when the flatness is at least
     `Thresholds.noise_broadband_flatness`: a broadband spectrum whose shape holds still
     and has no peaks is impulsive noise however its level jumps (generators that sample
     a near-uniform mu-law softmax make it: spikes on hiss, flatness 0.36-0.48); nor when
     ``modulation_depth_db`` < `Thresholds.noise_modulation_depth_db`: the level moves
     beyond chance but by a dB or two from frame to frame, as spikes on coloured hiss
     (flatness 0.2-0.3) and applause do, where a rhythm moves it by 4 dB and more; nor
     when ``declicked_depth_db`` < `Thresholds.noise_declicked_depth_db`: what moves the
     level is isolated clicks, gone once a 3-frame running median smooths the level (hiss
     with a few clicks), where the notes and hits of music hold the level up for frames.

   Pink, brown, band-limited and AR(2)-coloured noise pass all three; music fails at
   least one: a tonal drone on tonality, a rhythm on modulation, changing notes on
   fluctuation.
6. ``healthy``: none of the above.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from harness.evaluation.levels import (
    DB_FLOOR,
    FrameStats,
    as_mono_float32,
    crossings_and_peak,
    frame_length_samples,
    frame_stats,
    percentiles_of,
    scalar_db,
    to_db,
)
from harness.evaluation.onset import find_collapse_onset, find_loop_period
from harness.evaluation.spectral import (
    SPECTRAL_BAND_LOW_HZ,
    mean_spectrum_centroid_hz,
    median_noise_cues,
    spectral_fft_size,
    spectral_pass,
)
from harness.evaluation.thresholds import DEFAULT_THRESHOLDS, Thresholds

LABELS = ("healthy", "silent", "flat_collapse", "loop", "saturated", "noise")
COLLAPSED_LABELS = ("silent", "flat_collapse", "loop", "saturated")
# Labels whose constant tail is a collapse; a healthy song ending in digital silence also has
# an onset, which is measured but is no collapse onset.
ONSET_LABELS = ("silent", "flat_collapse")
BATCH_LABELS = ("diverse", "mode_collapse")

MAX_DIVERSITY_CLIPS = 1024  # pairwise distances grow quadratically; larger batches are subsampled
# Floor of the log spectra compared for diversity: below the 16-bit quantisation noise of any
# bin (about -75 dB at 1024 points), so it only bounds how far digital silence is from sound.
_POWER_FLOOR_DB = DB_FLOOR


@dataclass
class ClipDiagnosis:
    """The label of one clip and the metrics it was derived from.

    Attributes:
        label: One of `LABELS`.
        metrics: Metric name -> value; None where a metric is undefined for the clip.
    """

    label: str
    metrics: dict[str, float | int | None]

    def to_dict(self) -> dict:
        """Return ``{"label": ..., "metrics": {...}}`` with plain JSON-able values."""
        return {"label": self.label, "metrics": dict(self.metrics)}


@dataclass
class BatchDiagnosis:
    """The label of a batch of clips, its metrics and each clip's diagnosis.

    Attributes:
        label: One of `BATCH_LABELS`.
        metrics: Metric name -> value; None where undefined.
        clips: The diagnosis of each clip, in input order.
    """

    label: str
    metrics: dict[str, float | int | None]
    clips: list[ClipDiagnosis] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Return label, metrics and the clips' dicts with plain JSON-able values."""
        return {
            "label": self.label,
            "metrics": dict(self.metrics),
            "clips": [clip.to_dict() for clip in self.clips],
        }


def _label(metrics: dict[str, float | int | None], thresholds: Thresholds) -> str:
    onset = metrics["collapse_onset_sample"]
    if onset == 0 or metrics["ac_rms_db"] < thresholds.silence_db:
        return "silent"
    tail_fraction = metrics["collapsed_tail_fraction"]
    if tail_fraction is not None and tail_fraction >= thresholds.min_collapsed_tail_fraction:
        # Recordings end in digital zero after a decay; a generator freezes mid-sound or off zero.
        off_zero = abs(metrics["collapsed_value"]) > thresholds.constant_tolerance
        if off_zero or metrics["pre_onset_drop_db"] <= thresholds.abrupt_stop_db:
            return "flat_collapse"
    residual_db = metrics["loop_residual_db"]
    if residual_db is not None and residual_db <= thresholds.loop_residual_db:
        return "loop"
    if metrics["clipping_ratio"] >= thresholds.saturated_ratio:
        return "saturated"
    flatness = metrics["spectral_flatness"]
    if flatness is not None and flatness >= thresholds.noise_flatness:
        return "noise"
    if (
        metrics["fluctuation_z"] is not None
        and metrics["fluctuation_z"] <= thresholds.noise_fluctuation_z
        and metrics["tonality_ratio"] <= thresholds.noise_tonality_ratio
        and (metrics["modulation_z"] <= thresholds.noise_modulation_z
             or metrics["modulation_depth_db"] < thresholds.noise_modulation_depth_db
             or metrics["declicked_depth_db"] < thresholds.noise_declicked_depth_db
             or (flatness is not None and flatness >= thresholds.noise_broadband_flatness))
    ):
        return "noise"
    return "healthy"


def _diagnose(
    audio: np.ndarray, sample_rate_hz: int, n: int, thresholds: Thresholds
) -> tuple[ClipDiagnosis, np.ndarray]:
    """`diagnose_clip` plus the clip's mean power spectrum (for batch diversity)."""
    audio = as_mono_float32(audio)
    if sample_rate_hz <= 0 or n <= 0:
        raise ValueError(f"sample_rate_hz and n must be positive, got {sample_rate_hz} and {n}")
    frame_length = frame_length_samples(sample_rate_hz, thresholds.frame_s)
    stats = frame_stats(audio, frame_length, thresholds.clip_level)
    total_sum, total_squares = float(stats.sums.sum()), float(stats.squares.sum())
    if not np.isfinite(total_squares):
        raise ValueError("audio contains NaN or infinite values")
    levels, loudest_frame_db = _level_metrics(audio, sample_rate_hz, stats, frame_length,
                                              total_sum, total_squares, thresholds)
    fft_size = spectral_fft_size(sample_rate_hz)
    mean_power, flatness, cues = spectral_pass(audio, sample_rate_hz, fft_size, thresholds.silence_db)
    metrics: dict[str, float | int | None] = {
        **levels,
        "spectral_flatness": float(percentiles_of(flatness, (50,))[0]) if flatness.size else None,
        "spectral_centroid_hz": mean_spectrum_centroid_hz(mean_power, sample_rate_hz, fft_size),
        **median_noise_cues(cues),
        "start_transient_db": _start_transient_db(audio, sample_rate_hz, total_sum, total_squares,
                                                  thresholds),
        **_collapse_metrics(audio, sample_rate_hz, n, frame_length, loudest_frame_db, thresholds),
    }
    return ClipDiagnosis(label=_label(metrics, thresholds), metrics=metrics), mean_power


def _level_metrics(audio: np.ndarray, sample_rate_hz: int, stats: FrameStats, frame_length: int,
                   total_sum: float, total_squares: float, thresholds: Thresholds,
                   ) -> tuple[dict[str, float | int | None], float]:
    """Levels, silence, DC, clipping and zero crossings; and the loudest frame's level in dB."""
    size = audio.size
    mean = total_sum / size
    ac_variance = max(total_squares / size - mean * mean, 0.0)
    silence_amplitude = 10.0 ** (thresholds.silence_db / 20.0)
    frame_mean_square = stats.squares / stats.lengths
    frame_db = to_db(np.sqrt(frame_mean_square))
    # A short last frame would weigh as much as a full one in the percentiles.
    full_frame_db = frame_db[stats.lengths == frame_length] if frame_db.size > 1 else frame_db
    frame_std = np.sqrt(np.maximum(frame_mean_square - (stats.sums / stats.lengths) ** 2, 0.0))
    # Digital silence is left out so that padding a clipped master does not dilute its ratio;
    # DC is kept so that a clip stuck at a rail counts as loud.
    loud = np.sqrt(frame_mean_square) >= silence_amplitude
    loud_samples = float(stats.lengths[loud].sum())
    crossings, peak = crossings_and_peak(audio)
    duration_s = size / sample_rate_hz
    percentiles = percentiles_of(full_frame_db, (10, 50, 90))
    return {
        "duration_s": duration_s,
        "rms_db": scalar_db(math.sqrt(total_squares / size)),
        "ac_rms_db": scalar_db(math.sqrt(ac_variance)),
        "rms_db_p10": float(percentiles[0]),
        "rms_db_p50": float(percentiles[1]),
        "rms_db_p90": float(percentiles[2]),
        "peak_db": scalar_db(peak),
        "silent_frame_ratio": int(np.count_nonzero(frame_std < silence_amplitude)) / frame_std.size,
        "dc_offset": mean,
        "clipping_ratio": float(stats.clipped[loud].sum() / loud_samples) if loud_samples else 0.0,
        "zero_crossing_rate_per_s": crossings / duration_s,
    }, float(frame_db.max())


def _start_transient_db(audio: np.ndarray, sample_rate_hz: int, total_sum: float,
                        total_squares: float, thresholds: Thresholds) -> float | None:
    """How far the start's peak stands above the rest's level, in dB (None: no rest)."""
    size = audio.size
    start = min(size, frame_length_samples(sample_rate_hz, thresholds.start_window_s))
    if start >= size:
        return None
    head = audio[:start].astype(np.float64)
    rest_size = size - start
    rest_mean = (total_sum - head.sum()) / rest_size
    rest_variance = (total_squares - head @ head) / rest_size - rest_mean**2
    start_peak = float(np.max(np.abs(head - rest_mean)))
    return scalar_db(start_peak) - scalar_db(math.sqrt(max(rest_variance, 0.0)))


def _collapse_metrics(audio: np.ndarray, sample_rate_hz: int, n: int, frame_length: int,
                      loudest_frame_db: float, thresholds: Thresholds,
                      ) -> dict[str, float | int | None]:
    """The constant tail (onset, value, length, the drop before it) and the looping tail."""
    size = audio.size
    onset, tail_low, tail_high = find_collapse_onset(audio, sample_rate_hz, thresholds)
    tail = None if onset is None else size - onset
    pre_onset_drop_db = None
    if onset:
        before = audio[max(0, onset - frame_length) : onset].astype(np.float64)
        before_db = scalar_db(math.sqrt(before @ before / before.size))
        pre_onset_drop_db = loudest_frame_db - before_db
    loop_period, loop_residual_db = find_loop_period(audio, sample_rate_hz, n, thresholds)
    return {
        "collapse_onset_sample": onset,
        "collapse_onset_s": None if onset is None else onset / sample_rate_hz,
        "collapse_onset_over_n": None if onset is None else onset / n,
        "collapsed_value": None if onset is None else (tail_low + tail_high) / 2.0,
        "collapsed_tail_s": None if tail is None else tail / sample_rate_hz,
        "collapsed_tail_fraction": None if tail is None else tail / size,
        "pre_onset_drop_db": pre_onset_drop_db,
        "loop_period_samples": loop_period,
        "loop_period_s": None if loop_period is None else loop_period / sample_rate_hz,
        "loop_residual_db": loop_residual_db,
    }


def diagnose_clip(
    audio: np.ndarray, sample_rate_hz: int, n: int, thresholds: Thresholds = DEFAULT_THRESHOLDS
) -> ClipDiagnosis:
    """Label one clip and measure its level, spectrum and collapse onset.

    Args:
        audio: (samples,) float waveform in [-1, 1] (float32 or float64).
        sample_rate_hz: Sample rate in Hz.
        n: The generator's window in samples; `collapse_onset_over_n` is onset / n,
            so about 1 means the clip collapsed when the seed left the window.
        thresholds: Label thresholds (see `Thresholds`).

    Returns:
        The label (decision order in the module docstring) and these metrics:
        ``duration_s``; ``rms_db`` (DC included) and ``ac_rms_db`` (DC removed) of the
        whole clip in dBFS; ``rms_db_p10/p50/p90``: percentiles of the 20 ms frame RMS
        (`frame_rms_db`); ``peak_db``; ``silent_frame_ratio``: share of frames whose
        level without DC is below `silence_db`; ``dc_offset`` (mean sample value);
        ``clipping_ratio``: share of samples with |x| >= `clip_level` among the samples
        of 20 ms frames louder than `silence_db` (DC included, so digital silence is
        left out and a clip stuck at a rail is not);
        ``zero_crossing_rate_per_s``: sign changes per second; ``spectral_flatness``:
        geometric over arithmetic mean of the power above 50 Hz, median over the
        non-overlapping ~40 ms Hann frames whose level above 50 Hz is at least
        `silence_db` (None if there is none); ``spectral_centroid_hz``
        of the mean power spectrum above 50 Hz (None for digital silence);
        ``fluctuation_z``, ``tonality_ratio``, ``modulation_z``, ``modulation_depth_db`` and
        ``declicked_depth_db``: the noise cues (see `_block_noise_cues`; about 1, 1, 0, 0 and
        0 for stationary noise of any colour),
        medians over the blocks of `NOISE_BLOCK_FRAMES` spectral frames whose level above
        50 Hz is at least `silence_db` (None for clips under `NOISE_MIN_FRAMES` frames or
        without such a block);
        ``start_transient_db``: peak deviation in the first 10 ms over the AC RMS of
        the rest, both around the rest's mean (a click before a flat tail gives
        several tens of dB; None for clips under 10 ms); ``collapse_onset_sample``
        (see `collapse_onset_sample`; reported whatever the label, e.g. for a song
        ending in digital silence), ``collapse_onset_s``, ``collapse_onset_over_n``,
        ``collapsed_value`` (centre of the tail's band), ``collapsed_tail_s`` and
        ``collapsed_tail_fraction`` (all None when there is no onset);
        ``pre_onset_drop_db``: how far the 20 ms before the onset are below the loudest
        20 ms frame (None when the onset is 0 or None);
        ``loop_period_samples`` and ``loop_period_s``: the lag at which the tail comes
        closest to repeating itself (a period only when ``loop_residual_db`` is low);
        ``loop_residual_db``: the mean squared difference between the tail and itself
        one lag on, over the tail's variance, in dB (floored at `DB_FLOOR` for an exact
        loop; at the lag and at half the tail when the lag passes, else in the searched
        stretch only; see `find_loop_period`; all three None when the tail is too short, has
        no variance, or its autocorrelation never falls below `loop_drop_correlation`).

    Raises:
        ValueError: If audio is empty, not 1-D or not finite, or sample_rate_hz or n
            is not positive.
    """
    return _diagnose(audio, sample_rate_hz, n, thresholds)[0]


def _diversity_lsd_db(mean_powers: np.ndarray, sample_rate_hz: int, fft_size: int) -> float:
    """Mean pairwise RMS difference (dB) of the clips' log mean power spectra above 50 Hz."""
    if mean_powers.shape[0] > MAX_DIVERSITY_CLIPS:
        keep = np.linspace(0, mean_powers.shape[0] - 1, MAX_DIVERSITY_CLIPS).round().astype(int)
        mean_powers = mean_powers[keep]
    low_bin = int(np.ceil(SPECTRAL_BAND_LOW_HZ * fft_size / sample_rate_hz))
    spectra_db = 10.0 * np.log10(np.maximum(mean_powers[:, low_bin:], 10.0 ** (_POWER_FLOOR_DB / 10)))
    spectra_db -= spectra_db.mean(axis=0)  # centring keeps the Gram expansion from cancelling
    squared_norms = np.einsum("ij,ij->i", spectra_db, spectra_db)
    squared = squared_norms[:, None] + squared_norms[None, :] - 2.0 * spectra_db @ spectra_db.T
    distances = np.sqrt(np.maximum(squared, 0.0) / spectra_db.shape[1])  # (clips, clips)
    upper = np.triu_indices(distances.shape[0], k=1)
    return float(distances[upper].mean())


def diagnose_batch(
    clips: Sequence[np.ndarray], sample_rate_hz: int, n: int, thresholds: Thresholds = DEFAULT_THRESHOLDS
) -> BatchDiagnosis:
    """Diagnose each clip and measure how different the clips are from one another.

    Args:
        clips: Sequence of (samples,) waveforms at one sample rate; lengths may differ.
        sample_rate_hz: Sample rate in Hz.
        n: The generator's window in samples.
        thresholds: Label thresholds (see `Thresholds`).

    Returns:
        The batch label (``mode_collapse`` when ``diversity_lsd_db`` is below
        `thresholds.mode_collapse_lsd_db` or when every clip of two or more is
        ``silent`` -- the spectra of near-silence differ by noise-floor detail, but
        every seed gave the same silence -- else ``diverse``; a single clip is
        ``diverse``), the per-clip diagnoses and these metrics: ``clips``;
        ``share_<label>`` for each label in `LABELS`; ``collapsed_share``: share of
        clips whose label is in `COLLAPSED_LABELS`; ``diversity_lsd_db``: mean pairwise
        log-spectral distance between the clips' mean power spectra above 50 Hz in dB,
        on at most `MAX_DIVERSITY_CLIPS` clips evenly spaced through the batch (None for
        one clip); ``mean_collapse_onset_over_n`` over clips labelled in `ONSET_LABELS`
        (None if there is none).

    Raises:
        ValueError: If clips is empty, or a clip is invalid (see `diagnose_clip`).
    """
    if len(clips) == 0:
        raise ValueError("a batch needs at least one clip")
    results = [_diagnose(clip, sample_rate_hz, n, thresholds) for clip in clips]
    diagnoses = [diagnosis for diagnosis, _ in results]
    counts = Counter(diagnosis.label for diagnosis in diagnoses)
    onsets_over_n = [
        d.metrics["collapse_onset_over_n"] for d in diagnoses
        if d.label in ONSET_LABELS and d.metrics["collapse_onset_over_n"] is not None
    ]
    diversity = None
    if len(clips) > 1:
        mean_powers = np.stack([mean_power for _, mean_power in results])
        diversity = _diversity_lsd_db(mean_powers, sample_rate_hz, spectral_fft_size(sample_rate_hz))
    metrics: dict[str, float | int | None] = {"clips": len(clips)}
    metrics.update({f"share_{label}": counts[label] / len(clips) for label in LABELS})
    metrics["collapsed_share"] = sum(counts[label] for label in COLLAPSED_LABELS) / len(clips)
    metrics["diversity_lsd_db"] = diversity
    metrics["mean_collapse_onset_over_n"] = float(np.mean(onsets_over_n)) if onsets_over_n else None
    all_silent = len(clips) > 1 and counts["silent"] == len(clips)
    collapsed = all_silent or (diversity is not None and diversity < thresholds.mode_collapse_lsd_db)
    return BatchDiagnosis(
        label="mode_collapse" if collapsed else "diverse", metrics=metrics, clips=diagnoses
    )
