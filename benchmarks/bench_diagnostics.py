"""Diagnose one hour of 16 kHz audio as one clip and as 3600 one-second clips; both must take < 10 s.

The hour is a real recording resampled to 16 kHz and looped (the built-in
Brahms recording when it is found, else a synthetic chord melody), so every
spectral and level path does real work. Usage:

    python benchmarks/bench_diagnostics.py [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from harness.evaluation.diagnostics import diagnose_batch, diagnose_clip

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from shared_music import find_music_dir  # noqa: E402

RATE_HZ = 16000
HOUR_S = 3600
N = 500
BUDGET_S = 10.0
RECORDING = "brahms_hungarian_dance_5.ogg"


def _music_dir() -> Path | None:
    folder = find_music_dir()
    return folder if folder is not None and (folder / RECORDING).is_file() else None


def _one_loop() -> tuple[np.ndarray, str]:
    """A stretch of music at 16 kHz to tile, and where it came from."""
    folder = _music_dir()
    if folder is not None:
        from harness.data.audio import read_audio, resample

        audio, rate = read_audio(folder / RECORDING)
        return resample(audio, rate, RATE_HZ), f"{RECORDING} looped"
    # Three-note chords on a changing root, with decaying envelopes: music-like, not a test tone.
    time_s = np.arange(8 * RATE_HZ) / RATE_HZ
    roots_hz = 220.0 * 2 ** (np.array([0, 5, 7, 3, 10, 0, 8, 7]) / 12)
    root_hz = roots_hz[(time_s // 1).astype(int)]
    envelope = np.exp(-3.0 * (time_s % 1.0))
    chord = sum(np.sin(2 * np.pi * root_hz * ratio * time_s) for ratio in (1.0, 1.26, 1.5))
    return (0.2 * envelope * chord).astype(np.float32), "synthetic chords looped"


def run() -> dict:
    """Time both cases once each and return the figures."""
    loop, source = _one_loop()
    hour = np.resize(loop, HOUR_S * RATE_HZ)  # np.resize repeats the loop to the length
    started = time.perf_counter()
    clip = diagnose_clip(hour, RATE_HZ, N)
    one_clip_s = time.perf_counter() - started

    clips = list(hour.reshape(HOUR_S, RATE_HZ))  # views: no copy
    started = time.perf_counter()
    batch = diagnose_batch(clips, RATE_HZ, N)
    many_clips_s = time.perf_counter() - started
    return {
        "source": source,
        "samples": int(hour.size),
        "sample_rate_hz": RATE_HZ,
        "one_clip_s": round(one_clip_s, 3),
        "one_clip_label": clip.label,
        "clips_3600_s": round(many_clips_s, 3),
        "clips_3600_label": batch.label,
        "clips_3600_share_healthy": batch.metrics["share_healthy"],
        "budget_s": BUDGET_S,
        "within_budget": one_clip_s < BUDGET_S and many_clips_s < BUDGET_S,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="Print one JSON object.")
    as_json = parser.parse_args().json
    result = run()
    if as_json:
        print(json.dumps(result))
    else:
        print(f"one hour of 16 kHz audio ({result['source']}, {result['samples']:,} samples)")
        print(f"  as one clip:            {result['one_clip_s']:6.2f} s  ({result['one_clip_label']})")
        print(f"  as 3600 one-second clips: {result['clips_3600_s']:4.2f} s  "
              f"(batch {result['clips_3600_label']}, {result['clips_3600_share_healthy']:.0%} healthy)")
        print(f"  budget {BUDGET_S:.0f} s each: {'ok' if result['within_budget'] else 'EXCEEDED'}")
    return 0 if result["within_budget"] else 1


if __name__ == "__main__":
    sys.exit(main())
