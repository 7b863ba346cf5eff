"""Like-for-like real-vs-real floors and the noise controls that say whether a floor can judge.

A distance between a set of k clips and held-out reference audio shrinks as k grows, so
its **floor** is the same distance for real sets of k reference clips, drawn
`FLOOR_DRAWS` times (`floor_draws`; the clips left over are each draw's reference) and
summarised by their mean, SD and `FLOOR_PERCENTILE` percentile (`summarize`). A value at
or below that percentile is within the floor.

A floor only means something when it excludes noise. The **noise controls** are white,
pink and low-passed noise at the reference's RMS level, as many and as long as the clips
judged (`noise_clips`), scored against the same draws. Where a control lands within the
floor's percentile, real sets of that size and length cannot be told from noise by that
distance, and the percentile is withheld (`undiscriminating_reason`): no verdict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy.signal import butter, sosfilt

FLOOR_DRAWS = 32  # real clip sets drawn per evaluation for the floor
FLOOR_PERCENTILE = 95.0  # a generated value above this percentile of the real sets' is beyond the floor
NOISE_CONTROLS = ("white", "pink", "lowpass")  # the controls every floor must exclude
NOISE_KINDS = (*NOISE_CONTROLS, "brown")
LOWPASS_HZ = 1000.0  # corner of the low-passed control: the "low-passed texture" of a weak generator
_LOWPASS_ORDER = 4


def floor_draws(clip_count: int, reference_count: int, seed: int,
                sources: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """`FLOOR_DRAWS` splits of the reference: (`clip_count` real clip rows, the rows compared with).

    Without `sources` the rows compared with are all the others. With `sources` (one source
    id per reference clip: the piece or file it was cut from) they are the clips of the
    *other* sources only, so that the drawn set is new music to its reference, as a
    generator's clips are: clips of one piece are closer to each other than to another piece.

    Args:
        clip_count: Size of the set a floor is drawn for.
        reference_count: Number of reference clips; at least `clip_count`.
        seed: Seed of the draws: one seed gives the same splits.
        sources: (reference_count,) source ids, or None.

    Returns:
        `FLOOR_DRAWS` pairs of int index arrays (drawn, rest).

    Raises:
        ValueError: If a draw with `sources` leaves fewer than `clip_count` clips to compare with.
    """
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(FLOOR_DRAWS):
        order = rng.permutation(reference_count)
        drawn, rest = order[:clip_count], order[clip_count:]
        if sources is not None:
            rest = rest[~np.isin(sources[rest], sources[drawn])]
            if rest.size < clip_count:
                raise ValueError(f"{clip_count} clips drawn from {len(set(sources.tolist()))} sources leave "
                                 f"{rest.size} clips of other sources; a floor needs at least {clip_count}")
        draws.append((drawn, rest))
    return draws


def summarize(values: Sequence[float | None]) -> tuple[float | None, float | None, float | None]:
    """(mean, SD, `FLOOR_PERCENTILE` percentile) of the draws' values; all None when any is None."""
    if not values or any(value is None for value in values):
        return None, None, None
    array = np.asarray(values, dtype=np.float64)
    return (float(array.mean()), float(array.std(ddof=1)) if len(array) > 1 else 0.0,
            float(np.percentile(array, FLOOR_PERCENTILE)))


def noise_clips(kind: str, count: int, length: int, sample_rate_hz: int, rms: float,
                seed: int) -> np.ndarray:
    """Stationary Gaussian noise of one colour, each clip scaled to `rms`.

    Args:
        kind: "white"; "pink" (power falling 3 dB per octave); "brown" (6 dB per octave);
            "lowpass": white through a 4th-order Butterworth low-pass at `LOWPASS_HZ`.
        count: Number of clips.
        length: Samples per clip.
        sample_rate_hz: Rate in Hz (sets the low-pass corner and the spectral slopes' origin).
        rms: Level of every clip, as a linear RMS (the reference's, for a control).
        seed: Seed of the noise.

    Returns:
        (count, length) float32 clips, clipped to [-1, 1].

    Raises:
        ValueError: On an unknown kind.
    """
    if kind not in NOISE_KINDS:
        raise ValueError(f"unknown noise kind {kind!r}; choose from {', '.join(NOISE_KINDS)}")
    rng = np.random.default_rng(seed)
    white = rng.standard_normal((count, length))
    if kind == "lowpass":
        sos = butter(_LOWPASS_ORDER, LOWPASS_HZ, fs=sample_rate_hz, output="sos")
        noise = sosfilt(sos, white, axis=1)
    elif kind in ("pink", "brown"):
        frequencies_hz = np.fft.rfftfreq(length, d=1.0 / sample_rate_hz)
        exponent = 0.5 if kind == "pink" else 1.0  # amplitude ~ f^-1/2 (pink), f^-1 (brown)
        gain = np.zeros_like(frequencies_hz)
        gain[1:] = frequencies_hz[1:] ** -exponent
        noise = np.fft.irfft(np.fft.rfft(white, axis=1) * gain, n=length, axis=1)
    else:
        noise = white
    level = np.sqrt(np.mean(noise**2, axis=1, keepdims=True))
    noise = noise * (rms / np.maximum(level, 1e-12))
    return np.clip(noise, -1.0, 1.0).astype(np.float32)


def undiscriminating_reason(floor_p95: float | None, control_values: Mapping[str, float | None],
                            count: int, seconds: float) -> str | None:
    """Why a distance's floor cannot judge a set, or None when every noise control lands beyond it.

    A control without a value (the distance is undefined for noise: e.g. no onsets to time)
    counts as beyond: real sets have a value there and noise has none.

    Args:
        floor_p95: The floor's `FLOOR_PERCENTILE` percentile (None: there is no floor).
        control_values: Noise kind -> the control set's value (mean over the same draws).
        count: Clips per set.
        seconds: Length of each clip in seconds.

    Returns:
        A one-line reason naming the control that lands within, or None.
    """
    if floor_p95 is None:
        return None
    within = [(kind, value) for kind, value in control_values.items()
              if value is not None and value <= floor_p95]
    if not within:
        return None
    kind, value = within[0]
    return (f"no verdict at {count} clips of {seconds:g} s: {kind} noise at the reference level "
            f"scores {value:.4g}, within the floor's p95 {floor_p95:.4g}")


class FlooredReference:
    """Held-out real clips prepared once per run, with floors per set size computed on first use.

    The shared part of `harness.evaluation.quality.ReferenceSet` and
    `harness.evaluation.music.MusicReference`: checking the clips and their `sources`, the
    reference's RMS level (the noise controls' level) and the cache of floors by (set size,
    seed). A subclass prepares its per-clip statistics in `_prepare` and draws its floors in
    `_draw_floors`, returning an object with a ``reasons`` mapping (metric name -> why it
    gives no verdict).

    Args:
        clips: (clips, length) float32 real clips in [-1, 1].
        sample_rate_hz: their rate in Hz.
        sources: Optional (clips,) id of the piece or file each clip comes from (`floor_draws`).

    Raises:
        ValueError: If `clips` is not 2-D or has no clip, or `sources` does not match it.
    """

    clip_noun = "clips"  # what the shape error calls the reference's rows

    def __init__(self, clips: np.ndarray, sample_rate_hz: int, sources: Sequence | None = None):
        clips = np.asarray(clips, dtype=np.float32)
        if clips.ndim != 2 or clips.shape[0] == 0:
            raise ValueError(f"reference must be ({self.clip_noun}, length) with {self.clip_noun} >= 1, "
                             f"got {clips.shape}")
        self.count, self.length = clips.shape
        self.sample_rate_hz = sample_rate_hz
        self.sources = None if sources is None else np.asarray(sources)
        if self.sources is not None and self.sources.shape != (self.count,):
            raise ValueError(f"sources must hold one id per clip ({self.count}), got shape {self.sources.shape}")
        self.rms = float(np.sqrt(np.mean(clips.astype(np.float64) ** 2)))
        self._floors: dict[tuple[int, int], object] = {}
        self._prepare(clips)

    def _prepare(self, clips: np.ndarray) -> None:
        raise NotImplementedError

    def _draw_floors(self, count: int, seed: int):
        raise NotImplementedError

    def like_for_like(self, generated: Sequence[np.ndarray], sample_rate_hz: int) -> bool:
        """Whether a like-for-like floor can be drawn for `generated`: its clips all as long as
        the reference's, and the reference at least twice as many.

        Raises:
            ValueError: If `generated` is empty or at another rate than the reference.
        """
        if self.sample_rate_hz != sample_rate_hz:
            raise ValueError(f"the reference is at {self.sample_rate_hz} Hz, not {sample_rate_hz}")
        if len(generated) == 0:
            raise ValueError("generated is empty")
        return {len(clip) for clip in generated} == {self.length} and self.count >= 2 * len(generated)

    def floors(self, count: int, seed: int = 0):
        """The floors for sets of `count` clips as long as the reference's.

        Raises:
            ValueError: If the reference holds fewer than 2 * `count` clips.
        """
        if not 0 < 2 * count <= self.count:
            raise ValueError(f"a floor for sets of {count} clips needs at least {2 * count} reference "
                             f"clips, not {self.count}")
        key = (count, seed)
        if key not in self._floors:
            self._floors[key] = self._draw_floors(count, seed)
        return self._floors[key]

    def floor_notes(self, count: int, seed: int = 0) -> dict[str, str]:
        """Metric name -> why its floor gives no verdict for sets of `count` clips (see `floors`)."""
        return dict(self.floors(count, seed).reasons)
