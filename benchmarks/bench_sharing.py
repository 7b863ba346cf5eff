"""Workers sharing a machine's cores: are `samplegan study plan`'s predictions right, and
would one TensorFlow thread per worker be faster?

Times teacher-forcing steps of a variant (by default `embedded-fix` at the sizes of
`studies/collapse_cpu.toml`) on the built-in corpus in four ways: one process with
TensorFlow's default threads, one process with one thread, `--workers` processes side by
side with default threads, and side by side with one thread each. Prints each case's
seconds per step and cores kept busy, and the side-by-side step the plan's sharing model
(`harness.study.plan.slowdown`) predicts from the lone process's figures.

    python benchmarks/bench_sharing.py [--variant embedded-fix] [--workers 2] [--steps 30]
        [--set KEY=VALUE ...] [--json]

Every process builds its own `Trainer` and warms up (tracing) for 3 steps before timing.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from harness.study.plan import slowdown

COLLAPSE_CPU = {"sample_rate": 16000, "n": 500, "ae_steps": 0, "pretrain_steps": 450,
                "teacher_warmup": 0, "pretrain_length": 500}
WARM_UP_STEPS = 3


def time_steps(variant: str, overrides: dict, dataset: str, threads: int, steps: int,
               start: multiprocessing.Event) -> dict:
    """Seconds per teacher-forcing step and cores busy, in this (fresh) process."""
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    from harness.common.quiet_tf import import_tensorflow_quietly

    import_tensorflow_quietly()
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    from harness.data.loader import load_dataset
    from harness.training.events import RunOptions
    from harness.training.trainer import Trainer
    from models.registry import resolve

    trainer = Trainer(resolve(variant, overrides), load_dataset(Path(dataset)),
                      Path(tempfile.mkdtemp(prefix="bench-sharing-")),
                      options=RunOptions(progress=False))
    step = trainer.phase_step("pretrain")
    for index in range(WARM_UP_STEPS):
        [float(value) for value in step(index).values()]
    start.wait()  # side by side: every process starts timing together
    wall, cpu = time.perf_counter(), time.process_time()
    for index in range(WARM_UP_STEPS, WARM_UP_STEPS + steps):
        [float(value) for value in step(index).values()]
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"step_s": wall / steps, "cores_busy": cpu / wall}


def run_case(variant: str, overrides: dict, dataset: str, processes: int, threads: int,
             steps: int) -> list[dict]:
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        start = manager.Event()
        with ProcessPoolExecutor(processes, mp_context=context) as pool:
            futures = [pool.submit(time_steps, variant, overrides, dataset, threads, steps, start)
                       for _ in range(processes)]
            time.sleep(1.0)
            while not all(f.running() or f.done() for f in futures):
                time.sleep(0.5)
            start.set()
            return [future.result() for future in futures]


def builtin_dataset(sample_rate: int, n: int, folder: Path) -> str:
    """The built-in corpus of collapse_cpu (240 s, 8 pieces), written as a dataset."""
    from harness.data.corpus import synthesize_dataset

    synthesize_dataset(folder / "corpus", seconds=240.0, sample_rate_hz=sample_rate, n=n,
                       pieces=8, holdout_fraction=0.25, seed=0, force=False)
    return str(folder / "corpus")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", default="embedded-fix")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from models.config import parse_value

    overrides = dict(COLLAPSE_CPU)
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key] = parse_value(key, value)
    cores = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory(prefix="bench-sharing-") as folder:
        dataset = builtin_dataset(overrides["sample_rate"], overrides["n"], Path(folder))
        cases = {}
        for name, processes, threads in (("alone", 1, 0), ("alone, 1 thread", 1, 1),
                                         ("side by side", args.workers, 0),
                                         ("side by side, 1 thread each", args.workers, 1)):
            print(f"timing: {name} ...", file=sys.stderr, flush=True)
            cases[name] = run_case(args.variant, overrides, dataset, processes, threads,
                                   args.steps)
    alone = cases["alone"][0]
    predicted = alone["step_s"] * slowdown(alone["cores_busy"], args.workers, cores, False)
    result = {"variant": args.variant, "overrides": overrides, "workers": args.workers,
              "cores": cores, "steps": args.steps, "cases": cases,
              "plan_predicts_side_by_side_step_s": predicted}
    if args.json:
        print(json.dumps(result, indent=1))
        return
    print(f"{args.variant}, teacher-forcing step ({args.steps} timed), {cores} cores")
    for name, runs in cases.items():
        steps = ", ".join(f"{run['step_s']:.3f} s ({run['cores_busy']:.2f} cores)" for run in runs)
        print(f"  {name:<28} {steps}")
    side = max(run["step_s"] for run in cases["side by side"])
    print(f"  the plan predicts {predicted:.3f} s per step side by side; measured {side:.3f} s "
          f"({100 * (side / predicted - 1):+.0f} %)")


if __name__ == "__main__":
    main()
