"""The built-in corpus: plucked-string music synthesised from a seed, needing no files.

``samplegan data synth`` writes it as an ordinary dataset (same format and writer
as ``samplegan data import``). It holds ``pieces`` separate pieces that share the
requested total length; each piece is one source, so the held-out split keeps
whole pieces apart. Every piece has

- a key (any of the 12 tonics) and a scale: major, natural minor, dorian,
  mixolydian or harmonic minor;
- a tempo of 72-144 BPM in 4/4, and a four-chord progression of diatonic triads
  (e.g. I-V-vi-IV, ii-V-I-I), one chord per bar;
- a bass voice (chord roots, 65-210 Hz) on beats 1 and 3;
- a chord voice (130 Hz-1.25 kHz), either strummed on beats 1 and 3 (strings
  15 ms apart) or arpeggiated in eighth notes;
- a melody (260 Hz-1.5 kHz): a stepwise random walk over the scale with
  eighth- to half-note lengths and rests, landing on chord tones on beats 1 and 3;
- dynamics: a velocity per note with accents on beats 1 and 3; velocity sets
  both loudness and brightness, as on a real string.

Notes are Karplus-Strong plucked strings: a noise burst circulating in a delay
line with an averaging low-pass and a first-order all-pass for fine tuning, run
by `scipy.signal.lfilter`; the decay time shortens with pitch. Each piece is
peak-normalised to -3 dBFS and quantised to 16 bits like imported audio. The
corpus depends only on the seed; the score also does not depend on the sample
rate, so 16 kHz and 44.1 kHz corpora of one seed play the same music.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.signal import lfilter

from harness import __version__
from harness.data.audio import quantize_16bit, to_int16
from harness.data.dataset import SourceAudio, write_dataset
from models.errors import SampleGanError

GENERATOR = "karplus-strong-v1"  # bump when the music for a given seed changes
PEAK_DBFS = -3.0
NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
SCALES = {  # semitones above the tonic
    "major": (0, 2, 4, 5, 7, 9, 11),
    "natural minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "harmonic minor": (0, 2, 3, 5, 7, 8, 11),
}
PROGRESSIONS = (  # scale degrees from 0, one chord per bar
    (0, 4, 5, 3),  # I-V-vi-IV
    (0, 3, 4, 0),  # I-IV-V-I
    (1, 4, 0, 0),  # ii-V-I-I
    (0, 5, 3, 4),  # I-vi-IV-V
    (5, 3, 0, 4),  # vi-IV-I-V
)
BASS_BASE_MIDI = 36  # C2; a scale index counts scale steps up from base + tonic
VOICE_BASE_MIDI = 48  # C3, for chords and melody
MELODY_RANGE = (7, 18)  # scale indices above VOICE_BASE_MIDI + tonic
STRUM_GAP_S = 0.015
RELEASE_S = 0.04  # fade at note-off, as a finger damping the string


@dataclass(frozen=True)
class Note:
    """One plucked note of a score.

    Attributes:
        onset_s: start time in seconds from the start of the piece.
        duration_s: sounding length in seconds (the string is damped after it).
        midi: MIDI note number (69 = A4 = 440 Hz).
        velocity: in (0, 1]: loudness and brightness.
        voice: "bass", "chord" or "melody".
    """

    onset_s: float
    duration_s: float
    midi: int
    velocity: float
    voice: str


def midi_to_hz(midi: float) -> float:
    """Equal-tempered frequency in Hz of a MIDI note number (A4 = 69 = 440 Hz)."""
    return 440.0 * 2.0 ** ((midi - 69) / 12)


def decay_time_s(frequency_hz: float) -> float:
    """Time for a plucked string to fall by 60 dB: long in the bass, short in the treble."""
    return float(np.clip(4.0 * math.sqrt(110.0 / frequency_hz), 0.5, 4.0))


def karplus_strong_filter(
    frequency_hz: float, sample_rate_hz: int, t60_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients (b, a) of a tuned Karplus-Strong string for `scipy.signal.lfilter`.

    The loop is a delay of L samples, the two-point average (0.5 + 0.5 z^-1, half
    a sample of delay) and a first-order all-pass that supplies the fractional
    rest of the period, scaled by a loss g per round trip:
    H(z) = A_den / (A_den - g z^-L (0.5 + 0.5 z^-1) A_num) with A = A_num / A_den.

    Args:
        frequency_hz: fundamental in Hz; at most sample_rate_hz / 2 / 1.6.
        sample_rate_hz: rate in Hz.
        t60_s: time in seconds for the fundamental to decay by 60 dB (from the
            loss alone; the averaging filter damps high harmonics faster).

    Returns:
        (b [2], a [L + 3]) as float64 arrays.
    """
    period = sample_rate_hz / frequency_hz  # samples per cycle
    delay = math.floor(period - 0.6)  # keeps the all-pass delay in (0.1, 1.1]: well behaved
    fraction = period - 0.5 - delay
    allpass = (1.0 - fraction) / (1.0 + fraction)
    loss = 10.0 ** (-3.0 / (t60_s * frequency_hz))  # -60 dB after t60_s * f0 round trips
    b = np.array([1.0, allpass])
    a = np.zeros(delay + 3)
    a[0], a[1] = 1.0, allpass
    a[delay:] -= loss * np.array([0.5 * allpass, 0.5 * allpass + 0.5, 0.5])
    return b, a


def pluck(
    frequency_hz: float, duration_s: float, velocity: float, sample_rate_hz: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """One plucked-string note, damped at its end.

    Args:
        frequency_hz: fundamental in Hz.
        duration_s: length in seconds, including a 40 ms damping fade.
        velocity: in (0, 1]; peak of the excitation, and its brightness.
        sample_rate_hz: rate in Hz.
        rng: source of the excitation noise.

    Returns:
        float64 [round(duration_s * sample_rate_hz)].
    """
    length = max(1, round(duration_s * sample_rate_hz))
    period = max(2, round(sample_rate_hz / frequency_hz))
    burst = rng.uniform(-1.0, 1.0, period)
    burst -= burst.mean()  # no DC to circulate in the loop
    # Soft plucks are darker: a one-pole low-pass whose pole grows as velocity falls.
    pole = 0.1 + 0.6 * (1.0 - velocity)
    burst = lfilter([1.0 - pole], [1.0, -pole], burst)
    excitation = np.zeros(length)
    excitation[: min(period, length)] = (velocity / np.abs(burst).max()) * burst[:length]
    tone = lfilter(*karplus_strong_filter(frequency_hz, sample_rate_hz, decay_time_s(frequency_hz)),
                   excitation)
    release = min(length, round(RELEASE_S * sample_rate_hz))
    tone[length - release :] *= np.linspace(1.0, 0.0, release)
    return tone


def _scale_midi(base_midi: int, scale: tuple[int, ...], index: int) -> int:
    octave, step = divmod(index, len(scale))
    return base_midi + 12 * octave + scale[step]


def _velocity(rng: np.random.Generator, base: float, accent: float, spread: float) -> float:
    return float(base + accent + rng.uniform(-spread, spread))


def _accompaniment(rng: np.random.Generator, bar_s: float, beat_s: float, triad: tuple[int, ...],
                   scale: tuple[int, ...], tonic: int, chord_style: str) -> list[Note]:
    """One bar of bass (beats 1 and 3) and chords (strummed or arpeggiated)."""
    notes = []
    for beat, accent in ((0, 0.15), (2, 0.0)):  # beat 1 is accented
        notes.append(Note(bar_s + beat * beat_s, 2 * beat_s,
                          _scale_midi(BASS_BASE_MIDI + tonic, scale, triad[0]),
                          _velocity(rng, 0.6, accent, 0.05), "bass"))
        if chord_style == "strum":
            for string, index in enumerate(triad):
                notes.append(Note(bar_s + beat * beat_s + string * STRUM_GAP_S, 2 * beat_s,
                                  _scale_midi(VOICE_BASE_MIDI + tonic, scale, index + 7),
                                  _velocity(rng, 0.4, accent, 0.05), "chord"))
    if chord_style == "arpeggio":
        for eighth in range(8):  # root, third, fifth, third; the second half an octave up
            index = triad[(0, 1, 2, 1)[eighth % 4]] + 7 * (eighth // 4)
            notes.append(Note(bar_s + eighth * beat_s / 2, beat_s,
                              _scale_midi(VOICE_BASE_MIDI + tonic, scale, index),
                              _velocity(rng, 0.35, 0.1 if eighth % 4 == 0 else 0.0, 0.05), "chord"))
    return notes


def _melody(rng: np.random.Generator, bar_s: float, beat_s: float, triad: tuple[int, ...],
            scale: tuple[int, ...], tonic: int, index: int) -> tuple[list[Note], int]:
    """One bar of melody starting from scale index `index`; returns the notes and the last index."""
    notes = []
    position_beats = 0.0
    while position_beats < 4.0:
        length_beats = min(float(rng.choice([0.5, 0.5, 1.0, 1.0, 1.5, 2.0])), 4.0 - position_beats)
        if rng.random() >= 0.15:  # else a rest
            index = int(np.clip(index + rng.choice([-2, -1, -1, 0, 1, 1, 2]), *MELODY_RANGE))
            if position_beats in (0.0, 2.0):  # strong beats land on the nearest chord tone
                tones = [tone + 7 * octave for tone in triad for octave in (1, 2)
                         if MELODY_RANGE[0] <= tone + 7 * octave <= MELODY_RANGE[1]]
                index = min(tones, key=lambda tone: abs(tone - index))
            accent = {0.0: 0.2, 2.0: 0.1}.get(position_beats, 0.0)
            notes.append(Note(bar_s + position_beats * beat_s, length_beats * beat_s,
                              _scale_midi(VOICE_BASE_MIDI + tonic, scale, index),
                              _velocity(rng, 0.6, accent, 0.08), "melody"))
        position_beats += length_beats
    return notes, index


def compose_piece(rng: np.random.Generator, seconds: float) -> tuple[list[Note], dict[str, Any]]:
    """A seeded score: bass, chords and melody over a chord progression.

    Args:
        rng: the only source of choices, so a seed fixes the score.
        seconds: length of the piece; notes starting later are left out.

    Returns:
        (notes, description): the notes in onset order, and a JSON-ready summary
        (key, scale, tempo, progression, chord style, note count).
    """
    tonic = int(rng.integers(12))
    scale_name = sorted(SCALES)[int(rng.integers(len(SCALES)))]
    scale = SCALES[scale_name]
    tempo_bpm = int(rng.integers(72, 145))
    progression = PROGRESSIONS[int(rng.integers(len(PROGRESSIONS)))]
    chord_style = ("strum", "arpeggio")[int(rng.integers(2))]
    beat_s = 60.0 / tempo_bpm
    melody_index = int(rng.integers(*MELODY_RANGE))
    notes: list[Note] = []
    for bar in range(math.ceil(seconds / (4 * beat_s))):
        degree = progression[bar % len(progression)]
        triad = (degree, degree + 2, degree + 4)  # scale indices of a diatonic triad
        bar_s = bar * 4 * beat_s
        notes += _accompaniment(rng, bar_s, beat_s, triad, scale, tonic, chord_style)
        melody, melody_index = _melody(rng, bar_s, beat_s, triad, scale, tonic, melody_index)
        notes += melody
    notes = sorted((note for note in notes if note.onset_s < seconds), key=lambda n: n.onset_s)
    description = {
        "key": NOTE_NAMES[tonic],
        "scale": scale_name,
        "tempo_bpm": tempo_bpm,
        "progression_degrees": [degree + 1 for degree in progression],
        "chord_style": chord_style,
        "notes": len(notes),
    }
    return notes, description


def render_notes(
    notes: list[Note], samples: int, sample_rate_hz: int, rng: np.random.Generator
) -> np.ndarray:
    """Mix plucked notes into one buffer, cutting what rings past its end.

    Args:
        notes: the score.
        samples: length of the buffer in samples.
        sample_rate_hz: rate in Hz.
        rng: source of the pluck noise.

    Returns:
        float64 [samples], not normalised.
    """
    mix = np.zeros(samples)
    for note in notes:
        start = round(note.onset_s * sample_rate_hz)
        if start >= samples:
            continue
        tone = pluck(midi_to_hz(note.midi), note.duration_s, note.velocity, sample_rate_hz, rng)
        tone = tone[: samples - start]
        mix[start : start + tone.shape[0]] += tone
    return mix


def peak_normalize(audio: np.ndarray, peak_dbfs: float = PEAK_DBFS) -> np.ndarray:
    """Scale so the largest magnitude sits at `peak_dbfs` (silence is left alone).

    Args:
        audio: float [samples].
        peak_dbfs: target peak in dB relative to full scale 1.0.

    Returns:
        float64 [samples].
    """
    peak = np.abs(audio).max(initial=0.0)
    if peak == 0:
        return np.asarray(audio, dtype=np.float64)
    return audio * (10.0 ** (peak_dbfs / 20.0) / peak)


@dataclass(frozen=True)
class Piece:
    """One composed piece of the corpus, ready to render.

    Attributes:
        path: its source name in the manifest, e.g. ``builtin://piece-03``.
        notes: the score.
        description: JSON-ready summary (see `compose_piece`) including `path`.
        sound_seed: seed of the pluck noise, apart from the score's so that the
            extra draws at 44.1 kHz do not change the music.
    """

    path: str
    notes: list[Note]
    description: dict[str, Any]
    sound_seed: np.random.SeedSequence


def compose_corpus(*, seconds: float, pieces: int, seed: int) -> list[Piece]:
    """The scores of the corpus; independent of the sample rate.

    Args:
        seconds: total length in seconds, shared equally by the pieces.
        pieces: number of pieces.
        seed: any integer; the same seed gives the same corpus.

    Returns:
        `pieces` pieces.
    """
    composed = []
    for number, child in enumerate(np.random.SeedSequence(seed % 2**64).spawn(pieces)):
        score_seed, sound_seed = child.spawn(2)
        notes, description = compose_piece(np.random.default_rng(score_seed), seconds / pieces)
        path = f"builtin://piece-{number:02d}"
        composed.append(Piece(path, notes, {"path": path, **description}, sound_seed))
    return composed


def render_piece(piece: Piece, samples: int, sample_rate_hz: int) -> np.ndarray:
    """The audio of a piece as the dataset stores it.

    Args:
        piece: from `compose_corpus`.
        samples: length in samples.
        sample_rate_hz: rate in Hz.

    Returns:
        float32 [samples], 16-bit-quantised (int16 / 32768), peaking at -3 dBFS.
    """
    mix = render_notes(piece.notes, samples, sample_rate_hz, np.random.default_rng(piece.sound_seed))
    return quantize_16bit(peak_normalize(mix))


def _rendered(composed: Sequence[Piece], piece_samples: int,
              sample_rate_hz: int) -> Iterator[SourceAudio]:
    """The pieces rendered one at a time, as sources of a dataset."""
    for piece in composed:
        audio = render_piece(piece, piece_samples, sample_rate_hz)
        yield SourceAudio(
            path=piece.path,
            sha256=hashlib.sha256(to_int16(audio).tobytes()).hexdigest(),
            audio=audio, sample_rate_in=sample_rate_hz, channels_in=1,
            duration_s=piece_samples / sample_rate_hz,
        )


def synthesize_dataset(
    out: Path,
    *,
    seconds: float,
    sample_rate_hz: int,
    n: int,
    pieces: int,
    holdout_fraction: float,
    seed: int,
    force: bool,
) -> dict[str, Any]:
    """Write the built-in corpus as a dataset (``samplegan data synth``).

    Args:
        out: dataset folder to create.
        seconds: total seconds of music across all pieces.
        sample_rate_hz: rate in Hz.
        n: segment length in samples (stride n).
        pieces: number of pieces; each is one source of the by-source split.
        holdout_fraction: share of pieces held out, in [0, 1).
        seed: seed of the music and of the split.
        force: replace an existing dataset at `out`.

    Returns:
        The manifest; its ``corpus`` entry records the generator and each piece.

    Raises:
        SampleGanError: pieces shorter than n, or `out` exists and may not be replaced.
    """
    if pieces < 1:
        raise SampleGanError(f"pieces must be at least 1 (got {pieces})")
    piece_samples = round(seconds * sample_rate_hz / pieces)
    if piece_samples < n:
        raise SampleGanError(
            f"{seconds:g} s over {pieces} pieces gives {piece_samples} samples per piece, "
            f"fewer than n={n}; raise --seconds or lower --pieces"
        )
    composed = compose_corpus(seconds=seconds, pieces=pieces, seed=seed)
    corpus = {
        "generator": GENERATOR,
        "seconds": seconds,
        "pieces": pieces,
        "piece_seconds": piece_samples / sample_rate_hz,
        "peak_dbfs": PEAK_DBFS,
        "seed": seed,
        "piece_list": [piece.description for piece in composed],
    }
    return write_dataset(
        out, _rendered(composed, piece_samples, sample_rate_hz), sample_rate_hz=sample_rate_hz, n=n, stride=None, drop_silence_db=None,
        holdout_fraction=holdout_fraction, seed=seed, force=force,
        created_by=f"samplegan-lab {__version__} (data synth)", extra={"corpus": corpus},
    )
