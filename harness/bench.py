"""`samplegan bench generation`: how fast each LSTM mode generates audio.

The paper needed about 30 minutes for one second of 44.1 kHz audio. Generation speed
does not depend on what the weights hold, so the benchmark builds untrained models of
the paper's sizes (two 128-unit LSTMs, n = 500) and times the compiled generation
loop after a warm-up call that pays for tracing and XLA compilation.
"""

from __future__ import annotations

import os
import platform
import time
from typing import Any

PAPER_SECONDS_PER_AUDIO_SECOND = 30 * 60.0  # paper, section 4: ~30 min per second of audio
SAMPLE_RATE_HZ = 44100


def _time_generation(lstm_mode: str, n: int, units: int, streams: int, samples: int,
                     xla: bool) -> dict[str, Any]:
    import numpy as np
    import tensorflow as tf

    from models.registry import resolve
    from models.sample_gan import SampleGAN, set_global_seed

    set_global_seed(0)
    model = SampleGAN(resolve("paper", {"lstm_mode": lstm_mode, "n": n, "lstm_units": units}))
    generator = model.generator
    generator.set_xla(xla)
    window = tf.constant(np.random.default_rng(0).uniform(-0.5, 0.5, (streams, n)), tf.float32)
    carry = generator.start(window)
    generator.run(carry, samples, tf.constant([0, 0]))  # trace + compile
    started = time.perf_counter()
    _, emitted, _ = generator.run(carry, samples, tf.constant([0, 1]))
    emitted.numpy()
    seconds = time.perf_counter() - started
    per_stream = samples / seconds
    return {
        "lstm_mode": lstm_mode, "n": n, "lstm_units": units, "streams": streams, "xla": xla,
        "samples_per_stream": samples, "seconds": round(seconds, 4),
        "samples_per_s_per_stream": round(per_stream, 1),
        "samples_per_s_total": round(per_stream * streams, 1),
        "seconds_per_audio_second": round(SAMPLE_RATE_HZ / per_stream, 2),
        "speedup_vs_paper": round(PAPER_SECONDS_PER_AUDIO_SECOND / (SAMPLE_RATE_HZ / per_stream), 1),
    }


def run_generation_bench(quick: bool = False) -> dict[str, Any]:
    """Time both LSTM modes, with and without XLA, for 1 and 16 streams.

    Args:
        quick: tiny sizes and few samples (a check that the benchmark itself runs).

    Returns:
        One JSON-ready object: the cases and the paper's reference figure.
    """
    from harness.quiet_tf import import_tensorflow_quietly

    import_tensorflow_quietly()
    n, units = (64, 16) if quick else (500, 128)
    cases = []
    for lstm_mode, samples in (("stateless", 50 if quick else 200),
                               ("stateful", 500 if quick else 8820)):
        for xla in (True, False):
            for streams in (1, 16):
                cases.append(_time_generation(lstm_mode, n, units, streams, samples, xla))
    return {
        "benchmark": "generation",
        "quick": quick,
        "paper_seconds_per_audio_second": PAPER_SECONDS_PER_AUDIO_SECOND,
        "sample_rate_hz": SAMPLE_RATE_HZ,
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine()},
        "cases": cases,
    }


def format_generation_bench(result: dict[str, Any]) -> str:
    """A readable table of `run_generation_bench`."""
    lines = [f"generation speed ({'quick sizes' if result['quick'] else 'paper sizes'}, "
             f"{result['machine']['cpus']} CPUs); paper: "
             f"{result['paper_seconds_per_audio_second']:.0f} s per second of 44.1 kHz audio",
             f"{'mode':<10} {'n':>5} {'units':>5} {'xla':>5} {'streams':>7} "
             f"{'samples/s/stream':>17} {'samples/s':>10} {'s per audio s':>14} {'vs paper':>9}"]
    for case in result["cases"]:
        lines.append(
            f"{case['lstm_mode']:<10} {case['n']:>5} {case['lstm_units']:>5} "
            f"{'on' if case['xla'] else 'off':>5} {case['streams']:>7} "
            f"{case['samples_per_s_per_stream']:>17.1f} {case['samples_per_s_total']:>10.1f} "
            f"{case['seconds_per_audio_second']:>14.2f} {case['speedup_vs_paper']:>8.1f}x")
    return "\n".join(lines)
