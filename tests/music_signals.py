"""The classes the music metrics must separate, as (clips, samples) float32 arrays.

Shared by tests/evaluation/test_music.py and benchmarks/music_margins.py (which puts the
tests folder on `sys.path`). Real material comes from the built-in corpus (`corpus_clips`),
the shared recordings and the textured-noise clips of a real run in tests/evaluation/data;
everything else is synthesised here: shaped noise, pitch without notes, silence, collapse.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.data.corpus import compose_corpus, render_piece
from harness.evaluation.floors import noise_clips

DATA = Path(__file__).resolve().parent / "evaluation" / "data"
FRAME_TIER_GLOB = "frame_tier_fix_*.wav"


def corpus_clips(pieces: range, clip_samples: int, clips_per_piece: int, sample_rate_hz: int,
                 seed: int = 0, corpus_pieces: int = 8) -> np.ndarray:
    """Consecutive clips from the start of some pieces of the built-in corpus.

    Returns:
        (len(pieces) * clips_per_piece, clip_samples) float32.
    """
    composed = compose_corpus(seconds=corpus_pieces * clip_samples * clips_per_piece / sample_rate_hz,
                              pieces=corpus_pieces, seed=seed)
    audio = [render_piece(composed[index], clip_samples * clips_per_piece, sample_rate_hz) for index in pieces]
    return np.concatenate(audio).reshape(-1, clip_samples)


def recording_clips(audio: np.ndarray, clip_samples: int, count: int, skip_samples: int = 0) -> np.ndarray:
    """`count` consecutive clips of a decoded recording, after `skip_samples`."""
    stretch = audio[skip_samples : skip_samples + count * clip_samples]
    if stretch.size < count * clip_samples:
        raise ValueError(f"the recording holds {audio.size} samples, fewer than {count} clips need")
    return stretch.reshape(count, clip_samples).astype(np.float32)


def frame_tier_clips(clip_samples: int, folder: Path = DATA, pattern: str = FRAME_TIER_GLOB) -> np.ndarray | None:
    """The real `frame-tier-fix` run's clips (16 kHz) cut to `clip_samples`, or None when absent
    or shorter (the copies in tests/evaluation/data are 2 s; the run's own are 4 s)."""
    from harness.data.audio import read_audio

    paths = sorted(folder.glob(pattern))
    if not paths:
        return None
    clips = [read_audio(path)[0][:clip_samples] for path in paths]
    if any(clip.size < clip_samples for clip in clips):
        return None
    return np.stack(clips)


def synthetic_classes(count: int, clip_samples: int, sample_rate_hz: int, rms: float,
                      seed: int = 0) -> dict[str, np.ndarray]:
    """Every non-music class at the reference's level `rms`: shaped noise, pitch without notes,
    silence and the paper's collapse; each (count, clip_samples) float32."""
    rng = np.random.default_rng(seed)
    time_s = np.arange(clip_samples) / sample_rate_hz
    amplitude = rms * np.sqrt(2.0)

    def each(make) -> np.ndarray:
        return np.stack([make(index) for index in range(count)]).astype(np.float32)

    def tone(index: int) -> np.ndarray:
        return amplitude * np.sin(2 * np.pi * 440.0 * 2 ** (index / 12) * time_s)

    def drone(index: int) -> np.ndarray:  # a bowed-string stack of 7 harmonics, slowly swelling
        root_hz = 110.0 * 2 ** (index / 12)
        stack = sum(np.sin(2 * np.pi * root_hz * k * time_s) / k for k in range(1, 8))
        swell = 1.0 + 0.2 * np.sin(2 * np.pi * 0.3 * time_s)
        return stack * swell * rms / np.sqrt(np.mean(stack**2))

    def whistle(index: int) -> np.ndarray:  # 5 Hz, +-20 Hz vibrato on a held pitch, hiss 20 dB below
        pitch_hz = 880.0 * 2 ** (index / 12)
        phase = 2 * np.pi * pitch_hz * time_s - (20.0 / 5.0) * np.cos(2 * np.pi * 5.0 * time_s)
        return amplitude * np.sin(phase) + 0.1 * rms * rng.standard_normal(clip_samples)

    def collapse(index: int) -> np.ndarray:  # a click, then a constant once the seed has left the window
        clip = np.full(clip_samples, 0.3 - 0.05 * index)
        clip[:200] = 0.0
        clip[200:210] = 0.9
        return clip

    classes = {kind: noise_clips(kind, count, clip_samples, sample_rate_hz, rms, seed + offset)
               for offset, kind in enumerate(("white", "pink", "brown", "lowpass"))}
    classes.update(tone=each(tone), drone=each(drone), whistle_over_hiss=each(whistle),
                   silence=np.zeros((count, clip_samples), np.float32), collapse=each(collapse))
    return classes
