"""Seconds per 4 s clip of the music features, and of one evaluation's music metrics.

Times `clip_features` on 4 s clips of the built-in corpus at 16 kHz, stage by stage
(pYIN, HPSS, the rest), in CPU seconds of this process (the machine may be shared) and
wall seconds; then preparing a `MusicReference` of REFERENCE_CLIPS clips (once per run,
with the noise controls of one set size) and one evaluation of EVAL_CLIPS clips. Usage:

    python benchmarks/bench_music.py [--clips 8] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from harness.evaluation.music import MusicReference, clip_features, music_metrics

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from music_signals import corpus_clips  # noqa: E402

RATE_HZ = 16000
CLIP_SAMPLES = 4 * RATE_HZ
EVAL_CLIPS = 4  # clips per evaluation
REFERENCE_CLIPS = 32


def _timed(work) -> tuple[float, float]:
    """(CPU seconds of this process, wall seconds) of one call."""
    cpu, wall = time.process_time(), time.perf_counter()
    work()
    return time.process_time() - cpu, time.perf_counter() - wall


def run(clips: int) -> dict:
    """Time the features of `clips` clips, a reference and an evaluation; return the figures."""
    import librosa

    audio = corpus_clips(range(REFERENCE_CLIPS // 4 + 1), CLIP_SAMPLES, 4, RATE_HZ, corpus_pieces=9)
    clip_features(audio[0], RATE_HZ)  # warm-up: librosa's first calls compile and cache
    per_clip = [_timed(lambda clip=clip: clip_features(clip, RATE_HZ)) for clip in audio[:clips]]
    pyin = [_timed(lambda clip=clip: librosa.pyin(clip, fmin=65.0, fmax=2093.0, sr=RATE_HZ, frame_length=1024,
                                                   hop_length=512, resolution=0.5))
            for clip in audio[:clips]]
    holder = {}

    def prepare() -> None:
        holder["reference"] = MusicReference(audio[:REFERENCE_CLIPS], RATE_HZ)
        holder["reference"].floors(EVAL_CLIPS)

    reference_cpu, reference_wall = _timed(prepare)
    generated = list(audio[REFERENCE_CLIPS : REFERENCE_CLIPS + EVAL_CLIPS])
    evaluation_cpu, evaluation_wall = _timed(lambda: music_metrics(generated, holder["reference"], RATE_HZ))
    return {
        "clip_s": CLIP_SAMPLES / RATE_HZ, "sample_rate_hz": RATE_HZ, "clips_timed": clips,
        "features_cpu_s_per_clip": round(float(np.median([cpu for cpu, _ in per_clip])), 3),
        "features_wall_s_per_clip": round(float(np.median([wall for _, wall in per_clip])), 3),
        "pyin_cpu_s_per_clip": round(float(np.median([cpu for cpu, _ in pyin])), 3),
        "reference_clips": REFERENCE_CLIPS,
        "reference_cpu_s": round(reference_cpu, 2), "reference_wall_s": round(reference_wall, 2),
        "evaluation_clips": EVAL_CLIPS,
        "evaluation_cpu_s": round(evaluation_cpu, 2), "evaluation_wall_s": round(evaluation_wall, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=8, help="4 s clips to time the features on")
    parser.add_argument("--json", action="store_true", help="Print one JSON object.")
    args = parser.parse_args()
    result = run(args.clips)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"music features of a 4 s clip at 16 kHz (median of {result['clips_timed']}): "
          f"{result['features_cpu_s_per_clip']:.3f} s CPU, {result['features_wall_s_per_clip']:.3f} s wall "
          f"(pYIN alone {result['pyin_cpu_s_per_clip']:.3f} s CPU)")
    print(f"reference of {result['reference_clips']} clips with its floors and noise controls: "
          f"{result['reference_cpu_s']:.1f} s CPU, {result['reference_wall_s']:.1f} s wall")
    print(f"one evaluation of {result['evaluation_clips']} clips: "
          f"{result['evaluation_cpu_s']:.2f} s CPU, {result['evaluation_wall_s']:.2f} s wall")
    return 0


if __name__ == "__main__":
    sys.exit(main())
