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
     tremolo do).

   Pink, brown, band-limited and AR(2)-coloured noise pass all three; music fails at
   least one: a tonal drone on tonality, a rhythm on modulation, changing notes on
   fluctuation.
6. ``healthy``: none of the above.
"""

from __future__ import annotations

import functools
import math
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.fft

LABELS = ("healthy", "silent", "flat_collapse", "loop", "saturated", "noise")
COLLAPSED_LABELS = ("silent", "flat_collapse", "loop", "saturated")
# Labels whose constant tail is a collapse; a healthy song ending in digital silence also has
# an onset, which is measured but is no collapse onset.
ONSET_LABELS = ("silent", "flat_collapse")
BATCH_LABELS = ("diverse", "mode_collapse")

DB_FLOOR = -120.0  # dBFS reported for digital silence instead of -inf
SPECTRAL_BAND_LOW_HZ = 50.0  # below this, bins hold DC leakage rather than music
SPECTRAL_FRAME_S = 0.04  # spectral frames are the next power of two at or above this
MAX_DIVERSITY_CLIPS = 1024  # pairwise distances grow quadratically; larger batches are subsampled
_CHUNK_SAMPLES = 1 << 20  # bounds the temporaries of one pass to a few MB
_AMPLITUDE_FLOOR = 10.0 ** (DB_FLOOR / 20.0)
# Floor of the log spectra compared for diversity: below the 16-bit quantisation noise of any
# bin (about -75 dB at 1024 points), so it only bounds how far digital silence is from sound.
_POWER_FLOOR_DB = DB_FLOOR

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
_TONALITY_SMOOTH_BINS = 9  # running median width: over twice a Hann main lobe (4 bins)
_NOISE_BIN_RANGE = 1e-6  # bins more than 60 dB below a block's loudest are left out of its cues
# The loop search (`_loop_period`) looks for the period in the last this many longest periods of the
# tail (200 ms at 16 or 44.1 kHz with the defaults), then checks it over the whole tail in chunks.
_LOOP_SEARCH_PERIODS = 4


@dataclass(frozen=True)
class Thresholds:
    """Named thresholds of the labels; every default is chosen to keep real music `healthy`.

    Attributes:
        constant_tolerance: Half-width, in sample-value units, of the band a tail must
            stay inside to count as constant. 1e-3 is 33 steps of 16-bit audio, so
            quantisation and dither (a few steps) never break a constant tail, while
            any audible music (peaks far above -60 dBFS) does. A tail whose centre is
            within this of zero is a zero tail.
        min_constant_tail_s: Shortest constant tail reported as an onset. 10 ms keeps
            a zero-crossing or the last few samples of a file from counting.
        min_collapsed_tail_fraction: Share of the clip the constant tail must cover for
            `flat_collapse`. Half the clip: a collapsed generator stays flat for
            everything after its onset (near n, a small part of any generated clip),
            while recordings end with at most a second or two of silence.
        abrupt_stop_db: A zero tail is a collapse only if the 20 ms before its onset
            are at most this far below the clip's loudest 20 ms frame. Endings of the
            shipped recordings (natural, faded, excerpted, at 16 to 44.1 kHz) measured
            44-56 dB; cutting them to zero at 18 points each measured 0-40 dB, mostly
            below 25 dB.
        silence_db: Level without DC (dBFS) below which a clip or a frame is silent.
            The shipped recordings measure -19 to -23 dBFS over whole files and down to
            -31 dBFS over 2 s excerpts; -60 dBFS leaves about 30 dB of room for quieter
            recordings and passages and is still far above 16-bit dither (-101 dBFS).
        clip_level: Absolute sample value counted as at the rails (-0.09 dBFS). Just
            above the -0.1 dBFS ceiling that mastering limiters commonly use, so a loud
            but unclipped master does not count.
        saturated_ratio: Share of the samples outside digital silence at the rails for
            `saturated`. The shipped recordings normalised to full scale and driven
            6 dB into clipping put 0.1-1.9% of those samples there, and 2-10% when driven
            12 dB in (harder than loud commercial masters); with x20 gain (26 dB) they
            put 23-55% there, and a generator stuck at tanh's rails puts all of them there.
        noise_flatness: Median spectral flatness (0..1) for `noise`. White noise is
            exp(-Euler gamma) = 0.56 whatever its level; the shipped recordings measure
            below 0.01 at every rate (0.04 when clipped x20), since harmonic peaks and a
            falling spectrum keep music low. 0.4 leaves a tenfold margin for noisier
            genres than those shipped. Coloured noise (pink 0.30, brown 0.04, white
            low-passed at 1.5 kHz 0.00) is left to the three cues below.
        noise_fluctuation_z: Largest `fluctuation_z` for `noise` (with the other two
            cues). Measured, like the two below, on 2,904 noise clips: white, pink,
            brown (shaped and integrated), high-, low- and band-passed, AR(2) with pole
            radius 0.9-0.995, AR(4), mu-law quantised to 256 classes (also at -45 dBFS),
            faded (linear to zero, by 20 dB, 0.5 s in and out); 1-10 s at 16 and 44.1 kHz,
            16 seeds, half of them 16-bit quantised: median 0.96, 99th percentile 1.35,
            largest 2.16 (brown noise, whose power sits in a few bins). No window of a
            shipped recording (1-4 s at 0.1 s steps, 16 and 44.1 kHz) needs this cue to
            stay healthy; whole recordings measure 0.8 (ambi_choir, a steady pad) to 7.2.
            It is what flags a pitched tone whose spectrum the vibrato smooths: a sine
            with a 5.5 Hz, +-44 Hz vibrato measures 3.2-3.3 over 1 s, more when longer.
        noise_tonality_ratio: Largest `tonality_ratio` for `noise`. The noise clips
            measure median 0.91, 99th percentile 1.04, largest 1.17 (AR(2) with pole
            radius 0.995, a 25 Hz wide resonance close to a whistle; 1.06 without it).
            Windows of shipped recordings that only this cue keeps healthy measure at
            least 1.69 over 1 s (a held string chord in the Brahms at 16 kHz; bass_voxy_c
            1.97 at 44.1 kHz, its 65 Hz harmonics 3 bins apart) and 15 over 2-4 s
            (ambi_glass_hum); whole drones: ambi_choir 4.1-6.0, bass_voxy_c 2.5-5.1,
            ambi_glass_hum 12-16.
        noise_modulation_z: Largest `modulation_z` for `noise`. The noise clips measure
            median -0.1, 99th percentile 2.5, largest 4.1 (pink noise faded by 20 dB over
            1 s). Windows of shipped recordings that only this cue keeps healthy (the
            noise-like tail after the Brahms recording's final chord: spectral flatness
            0.2, near-Gaussian) measure at least 8.2 over 2 s, 9.7 over 3 s and 13.9 over
            4 s; coloured percussive bursts 58-190, a 4 Hz tremolo 40-86. Over 1 s that
            tail goes down to 4.7: 9 of the 1,885 one-second windows at 16 kHz (40.8-42.6 s
            into the Brahms) are labelled `noise`, none at 44.1 kHz.
        loop_residual_db: Largest `loop_residual_db` for `loop`: the energy of
            x[t + L] - x[t] over the mean-removed tail, relative to the tail's energy,
            at the period L and at the whole number of periods closest to half the tail
            (the worse of the two). Exact repetition gives 0 (-inf dB; the four 4 s clips
            of a free-running teacher-forced tanh LSTM measured exactly 0 at periods of 33
            and 111 samples), and so does a test tone whose period is a whole number of
            samples (a 440 Hz sine at 16 kHz: period 400). The shipped recordings, 16-bit at
            16 and 44.1 kHz, whole and as 2, 3 and 4 s excerpts at nine offsets, measure
            at least -20.8 dB (loop_breakbeat; ambi_glass_hum -19.3, trumpet_loop -19.5,
            bass_voxy_c -15.9, ambi_choir -3.1), all in the search stretch; the built-in
            corpus (the same excerpts) -32.7 dB there (a held synthetic note over 200 ms),
            which the half-tail lag would still have to pass. A Karplus-Strong note that
            decays fast enough to be nearly periodic measures -38.3 dB at two periods; an
            exactly repeating waveform decaying by 3 dB/s, and a sine drifting from 440 to
            441 Hz over 4 s (it passes the search), fail at the half-tail lag (+1.4 dB for
            the drift); a 1% vibrato measures -22 dB. -40 dB is 19 dB below the closest
            recording and keeps a loop 40 dB above any noise floor added to it.
        loop_drop_correlation: The period is searched from the first lag at which the
            normalised autocorrelation of the tail falls below this, so that the near-1
            correlation of a smooth low-frequency signal at short lags does not count; a
            zero-mean periodic signal always falls below it within its period.
        loop_max_period_s: Longest period searched, in seconds (800 samples at 16 kHz,
            a 20 Hz fundamental), or the window n if longer; at most a third of the tail
            (so that it holds three periods). The loops seen so far had periods of 33 and
            111 samples.
        mode_collapse_lsd_db: `diversity_lsd_db` below which a batch is `mode_collapse`.
            Independent takes of the same white noise (1 s at 16 kHz) are 1.7 dB apart
            through estimation variance alone, so below 1 dB the clips share nearly
            every spectral detail.
        frame_s: Frame length of the RMS curve, the silent-frame count and the
            pre-onset level.
        start_window_s: Length of the start window of `start_transient_db`.
    """

    constant_tolerance: float = 1e-3
    min_constant_tail_s: float = 0.01
    min_collapsed_tail_fraction: float = 0.5
    abrupt_stop_db: float = 30.0
    silence_db: float = -60.0
    clip_level: float = 0.99
    saturated_ratio: float = 0.15
    noise_flatness: float = 0.4
    noise_fluctuation_z: float = 2.5
    noise_tonality_ratio: float = 1.4
    noise_modulation_z: float = 6.0
    loop_residual_db: float = -40.0
    loop_drop_correlation: float = 0.5
    loop_max_period_s: float = 0.05
    mode_collapse_lsd_db: float = 1.0
    frame_s: float = 0.02
    start_window_s: float = 0.01


DEFAULT_THRESHOLDS = Thresholds()


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


def _as_mono_float32(audio: np.ndarray) -> np.ndarray:
    array = np.asarray(audio, dtype=np.float32)
    if array.ndim != 1:
        raise ValueError(f"audio must be one-dimensional (samples,), got shape {array.shape}")
    if array.size == 0:
        raise ValueError("audio is empty")
    return array


def _to_db(amplitude: np.ndarray) -> np.ndarray:
    return 20.0 * np.log10(np.maximum(amplitude, _AMPLITUDE_FLOOR))


def _scalar_db(amplitude: float) -> float:
    # math rather than NumPy: a dozen scalar calls per clip add up over thousands of clips.
    return 20.0 * math.log10(max(amplitude, _AMPLITUDE_FLOOR))


@functools.lru_cache(maxsize=8)
def _hann(length: int) -> np.ndarray:
    window = np.hanning(length).astype(np.float32)
    window.setflags(write=False)  # shared between calls through the cache
    return window


def _percentiles(values: np.ndarray, percents: Sequence[float]) -> np.ndarray:
    """np.percentile's default (linear) method, without its per-call overhead on small arrays."""
    ordered = np.sort(values)
    return np.interp(np.asarray(percents) / 100.0 * (ordered.size - 1), np.arange(ordered.size), ordered)


def _frame_length(sample_rate_hz: int, frame_s: float) -> int:
    return max(1, round(sample_rate_hz * frame_s))


def spectral_fft_size(sample_rate_hz: int) -> int:
    """FFT size of the spectral frames: the next power of two at or above 40 ms, at least 256.

    Args:
        sample_rate_hz: Sample rate in Hz.

    Returns:
        Frame length in samples (1024 at 16 and 22.05 kHz, 2048 at 44.1 kHz).
    """
    return max(256, 1 << int(np.ceil(np.log2(sample_rate_hz * SPECTRAL_FRAME_S))))


def _frames(audio: np.ndarray, frame_length: int) -> np.ndarray:
    """(frames, frame_length) view of consecutive non-overlapping frames; a last partial one is left out.

    With hop = frame length, a reshape is the same strided view as
    `sliding_window_view(...)[::hop]`, at a fraction of its per-call cost (it matters
    for thousands of one-second clips).
    """
    full = audio.size // frame_length
    return audio[: full * frame_length].reshape(full, frame_length)


@dataclass(frozen=True)
class _FrameStats:
    """Sums over non-overlapping frames; the last frame may be shorter, so every sample counts."""

    sums: np.ndarray  # (frames,) float64 sum of samples
    squares: np.ndarray  # (frames,) float64 sum of squared samples
    lengths: np.ndarray  # (frames,) float64 samples per frame
    clipped: np.ndarray  # (frames,) int64 samples with |x| >= clip_level


def _frame_stats(audio: np.ndarray, frame_length: int, clip_level: float) -> _FrameStats:
    """One chunked pass that every level and clipping metric derives from."""
    frames = _frames(audio, frame_length)
    full = frames.shape[0]
    sums = np.empty(full, dtype=np.float64)
    squares = np.empty(full, dtype=np.float64)
    clipped = np.empty(full, dtype=np.int64)
    step = max(1, _CHUNK_SAMPLES // frame_length)
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
    return _FrameStats(sums, squares, lengths, clipped)


def _crossings_and_peak(audio: np.ndarray) -> tuple[int, float]:
    """Number of sign changes and the largest |x|, in chunks."""
    crossings = 0
    peak = 0.0
    for start in range(0, audio.size, _CHUNK_SAMPLES):
        # One sample of overlap so that a sign change across a chunk border counts once.
        chunk = audio[start : start + _CHUNK_SAMPLES + 1]
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
    audio = _as_mono_float32(audio)
    stats = _frame_stats(audio, _frame_length(sample_rate_hz, frame_s), DEFAULT_THRESHOLDS.clip_level)
    return _to_db(np.sqrt(stats.squares / stats.lengths))


def _collapse_onset(
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
        chunk = min(chunk * 4, _CHUNK_SAMPLES)
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
    return _collapse_onset(_as_mono_float32(audio), sample_rate_hz, thresholds)[0]


def _lag_residual(audio: np.ndarray, start: int, lags: Sequence[int]) -> tuple[list[float], float]:
    """Mean of (x[t + lag] - x[t])^2 over t in [start, size - lag) for each lag, and the variance of audio[start:].

    Chunked float64 passes, so an hour-long tail needs a few MB.
    """
    residuals = []
    for lag in lags:
        total = 0.0
        for begin in range(start, audio.size - lag, _CHUNK_SAMPLES):
            end = min(begin + _CHUNK_SAMPLES, audio.size - lag)
            difference = audio[begin + lag : end + lag].astype(np.float64) - audio[begin:end]
            total += float(difference @ difference)
        residuals.append(total / (audio.size - start - lag))
    total_sum = total_squares = 0.0
    for begin in range(start, audio.size, _CHUNK_SAMPLES):
        chunk = audio[begin : begin + _CHUNK_SAMPLES].astype(np.float64)
        total_sum += float(chunk.sum())
        total_squares += float(chunk @ chunk)
    size = audio.size - start
    return residuals, max(total_squares / size - (total_sum / size) ** 2, 0.0)


def _loop_period(
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
        return period, _scalar_db(math.sqrt(float(residual[period - first])))
    tail_size = audio.size - tail_start
    periods = max(1, round(tail_size / 2 / period))
    (at_period, at_half), variance = _lag_residual(audio, tail_start, (period, periods * period))
    worse = max(at_period, at_half) / variance if variance > 0.0 else 1.0
    return period, _scalar_db(math.sqrt(worse))


@dataclass(frozen=True)
class _NoiseCues:
    """Per-block noise cues (see `_block_noise_cues`); a clip reports their medians over active blocks."""

    fluctuation_z: float
    tonality_ratio: float
    modulation_z: float


def _block_bounds(frames: int) -> list[tuple[int, int]]:
    """Frame ranges of the noise-cue blocks: `NOISE_BLOCK_FRAMES` each, the last one takes the remainder.

    No blocks when the clip has fewer than `NOISE_MIN_FRAMES` frames.
    """
    if frames < NOISE_MIN_FRAMES:
        return []
    starts = list(range(0, max(1, frames // NOISE_BLOCK_FRAMES) * NOISE_BLOCK_FRAMES, NOISE_BLOCK_FRAMES))
    return list(zip(starts, starts[1:] + [frames], strict=True))


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
    amplitude = np.exp((gain - gain.max()) / 2.0)
    curvature = amplitude[2:] - 2.0 * amplitude[1:-1] + amplitude[:-2]
    middle = amplitude[1:-1]
    # Gain error: the mean of `kept` log powers, adjacent Hann bins correlated (see _ADJACENT_BIN_FACTOR);
    # amplitude error = gain error / 2 times the amplitude; a second difference has 6 times its variance.
    gain_variance = _LOG_POWER_STD**2 * _ADJACENT_BIN_FACTOR / kept
    chance = 6.0 * gain_variance / 4.0 * float(middle @ middle)
    ratio = math.sqrt(float(curvature @ curvature) / chance) if chance > 0.0 else 0.0
    modulation_z = (ratio - 1.0) * math.sqrt(curvature.size) / _RMS_RATIO_SD
    return _NoiseCues(fluctuation_z, tonality_ratio, modulation_z)


def _spectral_pass(
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
    frames = _frames(audio, fft_size)
    window = _hann(fft_size)
    low_bin = int(np.ceil(SPECTRAL_BAND_LOW_HZ * fft_size / sample_rate_hz))
    # Parseval: a signal of variance v gives a one-sided power sum of v * fft_size * sum(w^2) / 2.
    active_band_sum = 10.0 ** (silence_db / 10.0) * fft_size * float(np.sum(window.astype(np.float64) ** 2)) / 2.0
    power_sum = np.zeros(fft_size // 2 + 1, dtype=np.float64)
    flatness_parts = []
    cues = []
    blocks = _block_bounds(frames.shape[0])
    step = max(1, _CHUNK_SAMPLES // fft_size)
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


def _spectral_centroid_hz(mean_power: np.ndarray, sample_rate_hz: int, fft_size: int) -> float | None:
    frequencies_hz = np.arange(fft_size // 2 + 1) * (sample_rate_hz / fft_size)
    low_bin = int(np.ceil(SPECTRAL_BAND_LOW_HZ * fft_size / sample_rate_hz))
    band = mean_power[low_bin:]
    total = band.sum()
    if total <= 0.0:
        return None
    return float(frequencies_hz[low_bin:] @ band / total)


def _median_cues(cues: list[_NoiseCues]) -> dict[str, float | None]:
    """The clip's noise cues: medians over its active blocks (None without one)."""
    names = ("fluctuation_z", "tonality_ratio", "modulation_z")
    if not cues:
        return dict.fromkeys(names)
    # statistics.median: a clip of a few seconds has one block, and NumPy's per-call cost dominates.
    return {name: float(statistics.median(getattr(cue, name) for cue in cues)) for name in names}


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
        and metrics["modulation_z"] <= thresholds.noise_modulation_z
    ):
        return "noise"
    return "healthy"


def _diagnose(
    audio: np.ndarray, sample_rate_hz: int, n: int, thresholds: Thresholds
) -> tuple[ClipDiagnosis, np.ndarray]:
    """`diagnose_clip` plus the clip's mean power spectrum (for batch diversity)."""
    audio = _as_mono_float32(audio)
    if sample_rate_hz <= 0 or n <= 0:
        raise ValueError(f"sample_rate_hz and n must be positive, got {sample_rate_hz} and {n}")
    size = audio.size
    frame_length = _frame_length(sample_rate_hz, thresholds.frame_s)
    stats = _frame_stats(audio, frame_length, thresholds.clip_level)
    total_sum, total_squares = float(stats.sums.sum()), float(stats.squares.sum())
    if not np.isfinite(total_squares):
        raise ValueError("audio contains NaN or infinite values")
    mean = total_sum / size
    ac_variance = max(total_squares / size - mean * mean, 0.0)
    silence_amplitude = 10.0 ** (thresholds.silence_db / 20.0)

    frame_mean_square = stats.squares / stats.lengths
    frame_db = _to_db(np.sqrt(frame_mean_square))
    # A short last frame would weigh as much as a full one in the percentiles.
    full_frame_db = frame_db[stats.lengths == frame_length] if frame_db.size > 1 else frame_db
    frame_std = np.sqrt(np.maximum(frame_mean_square - (stats.sums / stats.lengths) ** 2, 0.0))
    # Digital silence is left out so that padding a clipped master does not dilute its ratio;
    # DC is kept so that a clip stuck at a rail counts as loud.
    loud = np.sqrt(frame_mean_square) >= silence_amplitude
    loud_samples = float(stats.lengths[loud].sum())

    crossings, peak = _crossings_and_peak(audio)
    fft_size = spectral_fft_size(sample_rate_hz)
    mean_power, flatness, cues = _spectral_pass(audio, sample_rate_hz, fft_size, thresholds.silence_db)

    onset, tail_low, tail_high = _collapse_onset(audio, sample_rate_hz, thresholds)
    tail = None if onset is None else size - onset
    pre_onset_drop_db = None
    if onset:
        before = audio[max(0, onset - frame_length) : onset].astype(np.float64)
        before_db = _scalar_db(math.sqrt(before @ before / before.size))
        pre_onset_drop_db = float(frame_db.max()) - before_db

    loop_period, loop_residual_db = _loop_period(audio, sample_rate_hz, n, thresholds)

    start = min(size, _frame_length(sample_rate_hz, thresholds.start_window_s))
    start_transient_db = None
    if start < size:
        head = audio[:start].astype(np.float64)
        rest_size = size - start
        rest_mean = (total_sum - head.sum()) / rest_size
        rest_variance = (total_squares - head @ head) / rest_size - rest_mean**2
        start_peak = float(np.max(np.abs(head - rest_mean)))
        start_transient_db = _scalar_db(start_peak) - _scalar_db(math.sqrt(max(rest_variance, 0.0)))

    duration_s = size / sample_rate_hz
    percentiles = _percentiles(full_frame_db, (10, 50, 90))
    metrics: dict[str, float | int | None] = {
        "duration_s": duration_s,
        "rms_db": _scalar_db(math.sqrt(total_squares / size)),
        "ac_rms_db": _scalar_db(math.sqrt(ac_variance)),
        "rms_db_p10": float(percentiles[0]),
        "rms_db_p50": float(percentiles[1]),
        "rms_db_p90": float(percentiles[2]),
        "peak_db": _scalar_db(peak),
        "silent_frame_ratio": int(np.count_nonzero(frame_std < silence_amplitude)) / frame_std.size,
        "dc_offset": mean,
        "clipping_ratio": float(stats.clipped[loud].sum() / loud_samples) if loud_samples else 0.0,
        "zero_crossing_rate_per_s": crossings / duration_s,
        "spectral_flatness": float(_percentiles(flatness, (50,))[0]) if flatness.size else None,
        "spectral_centroid_hz": _spectral_centroid_hz(mean_power, sample_rate_hz, fft_size),
        **_median_cues(cues),
        "start_transient_db": start_transient_db,
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
    return ClipDiagnosis(label=_label(metrics, thresholds), metrics=metrics), mean_power


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
        ``fluctuation_z``, ``tonality_ratio`` and ``modulation_z``: the noise cues
        (see `_block_noise_cues`; about 1, 1 and 0 for stationary noise of any colour),
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
        stretch only; see `_loop_period`; all three None when the tail is too short, has
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
