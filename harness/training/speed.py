"""`samplegan bench`: how fast the harness generates audio and takes training steps.

Speed does not depend on what the weights hold, so both benchmarks build untrained
models of the paper's sizes (two 128-unit LSTMs, n = 500), one per generator family at
the sizes its declaration gives (`models.plugin.BenchSizes`), and drive them through the
code the harness really runs: `generate_audio` (what `samplegan generate` calls) and
the `Trainer`'s GAN step. Every case is timed after a warm-up call that pays for
tracing and XLA compilation. The fastest of the timed runs is reported, the median
beside it: on a shared machine other jobs can only make a run slower.

The timing primitive (`timed_calls`) lives here; `harness.study.calibration` times a study's
own configurations with it for another question (how long will this study take), and the
scripts in `benchmarks/` (outside the package) call these functions or time other parts.
"""

from __future__ import annotations

import datetime
import multiprocessing
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from harness.common.host import processor_name
from harness.common.quiet_tf import import_tensorflow_quietly
from harness.training.generation import generate_audio
from models.parts import names, part

PAPER_SECONDS_PER_AUDIO_SECOND = 30 * 60.0  # paper, section 4: ~30 min per second of audio
AUDIO_RATE_HZ = 44100  # "seconds per second of audio" are seconds of 44.1 kHz audio
GENERATORS = names("generator")
BATCHES = (1, 64)  # streams generated together
PAPER_PATH = "paper_predict_loop"


@dataclass(frozen=True)
class GenerationSizes:
    """What one run of `samplegan bench generation` builds and times (each family's
    samples per stream come from its declaration)."""

    n: int  # window in samples
    lstm_units: int  # units of each of the two LSTMs
    paper_samples: int  # samples of the predict loop (one call each), timed once
    repeats: int  # timed runs per case of the compiled paths
    quick: bool  # the families' quick sizes


FULL_GENERATION = GenerationSizes(n=500, lstm_units=128, paper_samples=40, repeats=3, quick=False)
QUICK_GENERATION = GenerationSizes(n=32, lstm_units=8, paper_samples=5, repeats=1, quick=True)


@dataclass(frozen=True)
class TrainSizes:
    """What one run of `samplegan bench train` builds and times (paper sizes otherwise;
    each family's timed steps come from its declaration)."""

    overrides: dict[str, Any]  # config overrides of `paper`
    corpus_seconds: float  # built-in corpus the batches are drawn from
    quick: bool  # the families' quick sizes, one timed step each


FULL_TRAIN = TrainSizes(overrides={"n": 500, "batch_size": 16}, corpus_seconds=2.0, quick=False)
QUICK_TRAIN = TrainSizes(
    overrides={"n": 32, "batch_size": 4, "lstm_units": 8, "ae_levels": 1, "ae_filters": 4,
               "sample_rate": 16000}, corpus_seconds=1.0, quick=True)


def family_overrides(generator: str, quick: bool) -> dict[str, Any]:
    """The config overrides that select `generator`, with its own keys at quick sizes."""
    bench = part("generator", generator).bench
    return {"generator": generator, **(bench.quick_overrides if quick else {})}


def train_steps(generator: str, quick: bool) -> int:
    """Timed GAN steps of `generator` after the warm-up step."""
    return 1 if quick else part("generator", generator).bench.train_steps


# ----------------------------------------------------------------------------- shared
def progress(benchmark: str, message: str) -> None:
    """One line on stderr: the full benchmarks take minutes."""
    print(f"bench {benchmark}: {message}", file=sys.stderr, flush=True)


def run_context() -> dict[str, Any]:
    """Machine, date and library versions of a benchmark run (TensorFlow imported)."""
    import keras
    import tensorflow as tf

    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "processor": processor_name(),
                    "gpus": len(tf.config.list_physical_devices("GPU")),
                    "platform": platform.platform(),
                    "load_average_1min_at_start": round(os.getloadavg()[0], 2)},
        "versions": {"python": platform.python_version(), "tensorflow": tf.__version__,
                     "keras": keras.__version__, "numpy": np.__version__},
    }


class CallTiming(NamedTuple):
    """One timed call: wall seconds, and CPU seconds of this process (all its threads)."""

    wall_s: float
    cpu_s: float


def timed_calls(run: Callable[[], object], calls: int) -> list[CallTiming]:
    """Time `calls` consecutive calls of `run`; the first pays for tracing and compilation."""
    timings = []
    for _ in range(calls):
        started, started_cpu = time.perf_counter(), time.process_time()
        run()
        timings.append(CallTiming(time.perf_counter() - started, time.process_time() - started_cpu))
    return timings


def best_and_median(run: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Seconds of the fastest and the median of `repeats` calls of `run`, after a warm-up call."""
    seconds = [timing.wall_s for timing in timed_calls(run, repeats + 1)[1:]]
    return min(seconds), statistics.median(seconds)


def _untrained_model(generator: str, sizes: GenerationSizes):
    from models.registry import resolve
    from models.sample_gan import SampleGAN, set_global_seed

    set_global_seed(0)
    return SampleGAN(resolve("paper", {**family_overrides(generator, sizes.quick),
                                       "n": sizes.n, "lstm_units": sizes.lstm_units}))


# ------------------------------------------------------------------------- generation
def paper_predict_loop(predict: Callable[[np.ndarray], np.ndarray], head,
                       seed_window: np.ndarray, samples: int) -> np.ndarray:
    """The paper's generation: one Keras inference call per sample on the shifted window.

    Args:
        predict: a stateless generator's Keras inference, windows (B, n) -> head params
            (B, P): `partial(generator.predict, verbose=0)` as the paper, or
            `generator.predict_on_batch` (the same model without predict's per-call set-up).
        head: the generator's output head, which turns params into samples.
        seed_window: (B, n) the first window.
        samples: samples to generate per stream.

    Returns:
        (B, samples) float32: each sample is the head's sample of the window before it,
        then shifted in as the oldest sample is shifted out.
    """
    import tensorflow as tf

    window = np.asarray(seed_window, np.float32)
    emitted = np.empty((len(window), samples), np.float32)
    for step in range(samples):
        params = tf.constant(predict(window))  # (B, P)
        emitted[:, step] = head.sample(params, tf.constant([0, step]))
        window = np.concatenate([window[:, 1:], emitted[:, step:step + 1]], axis=1)
    return emitted


def _seed_segments(batch: int, n: int) -> np.ndarray:
    return np.random.default_rng(0).uniform(-0.5, 0.5, (batch, n)).astype(np.float32)


def _row(path: str, batch: int, samples: int, best_s: float, median_s: float, xla: bool,
         quick: bool) -> dict[str, Any]:
    samples_per_s = samples * batch / best_s  # all streams together
    target = None if quick or path == PAPER_PATH else (
        part("generator", path).bench.generation_targets.get(batch))
    return {
        "path": path, "batch": batch, "samples_per_s": round(samples_per_s, 1),
        "samples_per_s_median": round(samples * batch / median_s, 1),
        "seconds_per_audio_second": round(AUDIO_RATE_HZ / samples_per_s, 3),
        "xla": xla, "samples_per_stream": samples, "best_run_s": round(best_s, 3),
        "target_samples_per_s": target,
        "meets_target": None if target is None else samples_per_s >= target,
    }


def run_generation_bench(quick: bool = False) -> dict[str, Any]:
    """Samples per second of the paper's predict loop and of every generator at batch 1 and 64.

    Args:
        quick: tiny sizes and few samples (a check that the benchmark itself runs).

    Returns:
        `{"config": {...}, "results": [{"path", "batch", "samples_per_s", ...}]}`;
        `samples_per_s` counts every stream of the batch.
    """
    import_tensorflow_quietly()
    sizes = QUICK_GENERATION if quick else FULL_GENERATION
    config = {"n": sizes.n, "lstm_units": sizes.lstm_units, "sample_rate_hz": AUDIO_RATE_HZ,
              "quick": quick, "repeats": sizes.repeats,
              "paper_seconds_per_audio_second": PAPER_SECONDS_PER_AUDIO_SECOND, **run_context()}
    progress("generation", f"n = {sizes.n}, {sizes.lstm_units}-unit LSTMs, "
                           f"{1 + len(GENERATORS) * len(BATCHES)} cases" + ("" if quick else "; a few minutes"))
    results = []
    for generator in GENERATORS:
        bench = part("generator", generator).bench
        model = _untrained_model(generator, sizes)
        if bench.paper_loop:  # the paper's model, driven the paper's way
            window = _seed_segments(1, sizes.n)
            predict = partial(model.generator.predict, verbose=0)
            paper_predict_loop(predict, model.generator.head, window, 1)  # builds predict
            started = time.perf_counter()
            paper_predict_loop(predict, model.generator.head, window, sizes.paper_samples)
            seconds = time.perf_counter() - started
            # Keras' predict does not use XLA on a CPU-only machine.
            results.append(_row(PAPER_PATH, 1, sizes.paper_samples, seconds, seconds,
                                bool(model.generator.jit_compile), quick))
            progress("generation", f"{PAPER_PATH}, batch 1: "
                                   f"{results[-1]['samples_per_s']:,.1f} samples/s")
        for batch in BATCHES:
            samples = (bench.quick_generation_samples if quick else bench.generation_samples)[batch]
            segments = _seed_segments(batch, sizes.n)
            best_s, median_s = best_and_median(
                partial(generate_audio, model, segments, samples, progress=False), sizes.repeats)
            results.append(_row(generator, batch, samples, best_s, median_s,
                                model.generator.use_xla, quick))
            progress("generation", f"{generator}, batch {batch}: "
                                   f"{results[-1]['samples_per_s']:,.1f} samples/s")
    paper_rate = results[0]["samples_per_s"]
    for row in results:
        row["ratio_to_paper_predict_loop"] = round(row["samples_per_s"] / paper_rate, 2)
    config["machine"]["load_average_1min_at_end"] = round(os.getloadavg()[0], 2)
    return {"config": config, "results": results}


def _target_text(target: float | None, met: bool | None, wanted: str) -> str:
    if target is None:
        return "-"
    return f"{wanted.format(target)}: {'met' if met else 'MISSED'}"


def format_generation_bench(result: dict[str, Any]) -> str:
    """A readable table of `run_generation_bench`."""
    config = result["config"]
    lines = [
        f"generation speed: n = {config['n']}, two {config['lstm_units']}-unit LSTMs"
        f"{' (quick sizes)' if config['quick'] else ''}; {config['machine']['cpus']} CPUs "
        f"({config['machine']['processor']}), {config['date']}; best of {config['repeats']} "
        f"runs (the paper loop: one run); the paper: "
        f"{config['paper_seconds_per_audio_second']:.0f} s per second of audio",
        f"{'path':<19} {'batch':>5} {'xla':>4} {'samples/s':>11} {'median':>11} "
        f"{'vs paper loop':>13} {'s per 44.1 kHz s':>16}  target",
    ]
    for row in result["results"]:
        lines.append(
            f"{row['path']:<19} {row['batch']:>5} {'on' if row['xla'] else 'off':>4} "
            f"{row['samples_per_s']:>11,.1f} {row['samples_per_s_median']:>11,.1f} "
            f"{row['ratio_to_paper_predict_loop']:>12,.1f}x "
            f"{row['seconds_per_audio_second']:>16,.3f}  "
            f"{_target_text(row['target_samples_per_s'], row['meets_target'], '>= {:,}')}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- training
def _time_step_parts(trainer, steps: int, generator: str) -> dict[str, list[float]]:
    """Seconds of the GAN step's three parts (generate, discriminator update, generator
    update) over `steps` repeats after a warm-up, each compiled as the whole step is."""
    import tensorflow as tf

    from harness.training.trainer import gan_step_seeds

    real, seed_segments, seed = trainer.gan_batch(0)
    seeds = gan_step_seeds(seed)
    fake_sequences = tf.function(trainer.fake_sequences, reduce_retracing=True)
    discriminator_update = tf.function(trainer.discriminator_update, reduce_retracing=True)
    generator_update = tf.function(trainer.generator_update, reduce_retracing=True)
    seconds: dict[str, list[float]] = {"generate": [], "discriminator": [], "generator": []}
    progress("train", f"{generator}: timing the step's parts {steps} time(s) after a warm-up")
    for repeat in range(steps + 1):
        started = time.perf_counter()
        seed_window, fake, fed = fake_sequences(seed_segments, seeds[0], seeds[1])
        fake.numpy()
        generated = time.perf_counter()
        discriminator_update(real, fake, seeds[2])["d_loss"].numpy()
        discriminated = time.perf_counter()
        generator_update(seed_window, fake, fed, seeds[3])["g_loss"].numpy()
        finished = time.perf_counter()
        if repeat:  # the first pays for tracing and compilation
            seconds["generate"].append(generated - started)
            seconds["discriminator"].append(discriminated - generated)
            seconds["generator"].append(finished - discriminated)
    return seconds


def _time_train_steps(generator: str, quick: bool) -> dict[str, Any]:
    """Seconds of the Trainer's GAN step and of its parts for one generator family.

    Runs in a process of its own (see `run_train_bench`), so its peak RSS is this family's.
    """
    import_tensorflow_quietly()

    from harness.data.corpus import synthesize_dataset
    from harness.data.loader import load_dataset
    from harness.training.events import RunOptions
    from harness.training.trainer import Trainer
    from models.registry import resolve

    sizes = QUICK_TRAIN if quick else FULL_TRAIN
    config = resolve("paper", {**sizes.overrides, **family_overrides(generator, quick)})
    steps = train_steps(generator, quick)
    with tempfile.TemporaryDirectory(prefix="samplegan-bench-") as folder:
        corpus = Path(folder) / "corpus"
        synthesize_dataset(corpus, seconds=sizes.corpus_seconds, sample_rate_hz=config.sample_rate,
                           n=config.n, pieces=1, holdout_fraction=0.0, seed=0, force=False)
        trainer = Trainer(config, load_dataset(corpus), Path(folder) / "work",
                          options=RunOptions(progress=False))
        progress("train", f"{generator}: timing {steps} whole GAN step(s) after a warm-up")
        step_counter = iter(range(steps + 1))
        gan_step_s, _ = best_and_median(
            lambda: float(trainer.gan_batch_step(next(step_counter))["d_loss"]), steps)

        seconds = _time_step_parts(trainer, steps, generator)
        progress("train", f"{generator}: timing {steps} teacher-forced step(s) after a warm-up")
        teacher_counter = iter(range(steps + 1))
        teacher_step_s, _ = best_and_median(
            lambda: float(trainer.pretrain_batch_step(next(teacher_counter))["teacher_loss"]),
            steps)
        xla = trainer.model.generator.use_xla
    # Samples a teacher-forced step scores: one per sequence where each prediction re-reads
    # its whole window, every sample after the warm-up otherwise.
    scored = 1 if part("generator", generator).reruns_window else config.teacher_predicted
    generate_s, generator_update_s = min(seconds["generate"]), min(seconds["generator"])
    generator_step_s = generate_s + generator_update_s
    target = None if quick else part("generator", generator).bench.train_target_generator_step_s
    peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    row = {
        "generator": generator, "batch": config.batch_size, "n": config.n,
        "generator_step_s": round(generator_step_s, 3),
        "discriminator_step_s": round(min(seconds["discriminator"]), 3),
        "gan_step_s": round(gan_step_s, 3), "teacher_step_s": round(teacher_step_s, 3),
        "trained_samples_per_s": round(config.batch_size * scored / teacher_step_s),
        "generate_s": round(generate_s, 3), "generator_update_s": round(generator_update_s, 3),
        "peak_rss_mib": round(peak_rss_mib), "xla": xla, "steps_timed": steps,
        "target_generator_step_s": target,
        "meets_target": None if target is None else generator_step_s < target,
    }
    progress("train", f"{generator}: generator step {row['generator_step_s']} s, discriminator "
                      f"step {row['discriminator_step_s']} s, whole step {row['gan_step_s']} s, "
                      f"teacher-forced step {row['teacher_step_s']} s "
                      f"({row['trained_samples_per_s']:,} trained samples/s), "
                      f"peak RSS {row['peak_rss_mib']} MiB")
    return row


def run_train_bench(quick: bool = False, generators: Sequence[str] = ()) -> dict[str, Any]:
    """Seconds per generator and per discriminator step, and peak memory, of every generator.

    Each family runs in a fresh process, so its peak RSS is its own. The generator step is
    the generation of the fake batch (no tape) plus the generator's update through the
    replay; the discriminator step is the discriminator's update on that batch; the whole
    step (`Trainer.gan_batch_step`, what training runs) is timed on its own as well, and
    so is a teacher-forced step (`Trainer.pretrain_batch_step`, sequences of 2n samples),
    with the trained (scored) samples per second it gives.

    Args:
        quick: tiny sizes (a check that the benchmark itself runs).
        generators: the families to time, in the table's order; empty: every one.

    Returns:
        `{"config": {...}, "results": [{"generator", "generator_step_s", ...}]}`.
    """
    timed = [generator for generator in GENERATORS if not generators or generator in generators]
    import_tensorflow_quietly()
    from models.registry import resolve

    sizes = QUICK_TRAIN if quick else FULL_TRAIN
    reference = resolve("paper", sizes.overrides)
    config = {"n": reference.n, "batch": reference.batch_size, "lstm_units": reference.lstm_units,
              "gen_length": reference.gen_length, "sample_rate_hz": reference.sample_rate,
              "quick": quick,
              "steps_timed": {generator: train_steps(generator, quick) for generator in timed},
              **run_context()}
    progress("train", f"batch {reference.batch_size}, n = {reference.n}, "
                      f"{'every generator' if timed == list(GENERATORS) else ', '.join(timed)}, "
                      "each in its own process" + ("" if quick else "; a few minutes"))
    # A fresh process per family. Full runs time one at a time, so two never share
    # the CPU; quick runs only check that the benchmark runs.
    with ProcessPoolExecutor(max_workers=2 if quick else 1, max_tasks_per_child=1,
                             mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_time_train_steps, generator, quick) for generator in timed]
        results = [future.result() for future in futures]
    config["machine"]["load_average_1min_at_end"] = round(os.getloadavg()[0], 2)
    return {"config": config, "results": results}


def format_train_bench(result: dict[str, Any]) -> str:
    """A readable table of `run_train_bench`."""
    config = result["config"]
    lines = [
        f"training steps: batch {config['batch']}, n = {config['n']}, two "
        f"{config['lstm_units']}-unit LSTMs per net{' (quick sizes)' if config['quick'] else ''}; "
        f"{config['machine']['cpus']} CPUs ({config['machine']['processor']}), {config['date']}; "
        "fastest timed step",
        f"{'generator':<10} {'generator step':>14} {'(generate + update)':>21} "
        f"{'discriminator step':>18} {'whole step':>10} {'teacher step':>12} "
        f"{'trained/s':>10} {'peak RSS':>9}  target",
    ]
    for row in result["results"]:
        parts = f"({row['generate_s']:.3f} + {row['generator_update_s']:.3f})"
        lines.append(
            f"{row['generator']:<10} {row['generator_step_s']:>12.3f} s {parts:>21} "
            f"{row['discriminator_step_s']:>16.3f} s {row['gan_step_s']:>8.3f} s "
            f"{row['teacher_step_s']:>10.3f} s {row['trained_samples_per_s']:>10,} "
            f"{row['peak_rss_mib']:>6,} MiB  "
            f"{_target_text(row['target_generator_step_s'], row['meets_target'], '< {:g} s')}")
    return "\n".join(lines)
