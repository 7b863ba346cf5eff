"""Calibration for `samplegan study plan`: real steps of a study's models, timed and cached.

A calibration process builds each configuration's real `Trainer` and times the functions
`Trainer.run` calls (see `harness.study.plan` for what is timed and how it is
extrapolated). Timings are cached under the store folder by (configuration, machine,
code commit).

Timing apart from `harness.training.speed` (`samplegan bench`), whose `timed_calls` it uses:
that module measures fixed benchmark sizes against speed targets; this one times the study's
own configurations to predict its duration.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.common.files import file_lock, store_dir
from harness.common.signals import Terminated
from models.config import SampleGANConfig
from models.errors import SampleGanError

CALIBRATION_CAP_S = 60.0  # seconds of calibration beyond the minimum, shared by the configurations


TIMED_CALLS = 2  # at most this many calls of each timed function after its first (tracing) call
QUICK_CALL_S = 1.0  # ... and a second one only when the first took less: the fastest counts


MIN_PROBE_SAMPLES = 8  # the shorter probe length of a slow point never goes below this


DECISION_PROBE_SAMPLES = 32  # samples generated once to tell a slow point from a fast one


DECISION_PROBE_S = 0.25  # ... and again at a length taking about this long, if it was quicker


HELDOUT = "heldout"  # the held-out likelihood measured every `eval_every` teacher-forced steps
CACHE_FILE = "plan_timings.json"


def progress(message: str) -> None:
    """One line on stderr: calibrating a large study takes minutes."""
    print(f"plan: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class PhaseTiming:
    """Wall seconds of one timed function: its first call (tracing included) and a later one."""

    first_s: float
    step_s: float


@dataclass(frozen=True)
class PointTiming:
    """What one configuration costs on this machine, measured with no other worker of ours.

    `phases` holds every training phase the trial runs and "evaluation" (one evaluation:
    generation, diagnosis, quality metrics).
    """

    build_s: float  # Trainer construction: nets, optimisers, evaluation data
    phases: dict[str, PhaseTiming]
    render_s: float  # per evaluation: clips, figure and page the tracked run writes
    finish_s: float  # per trial: final model and training curves
    cores_busy: float  # CPU seconds per wall second of the timed steps (1.0 = one core)
    others_busy: float = 0.0  # cores other processes kept busy meanwhile (0 on a quiet machine)

    @staticmethod
    def from_dict(values: Mapping[str, Any]) -> PointTiming:
        return PointTiming(build_s=values["build_s"], render_s=values["render_s"],
                           finish_s=values["finish_s"], cores_busy=values["cores_busy"],
                           others_busy=values.get("others_busy", 0.0),
                           phases={k: PhaseTiming(**v) for k, v in values["phases"].items()})


def busy_cpu_s() -> float:
    """CPU seconds every process has spent so far on the cores this process may run on.

    Only those cores: a container's /proc/stat can list every core of its host, whose other
    tenants do not slow a step down unless they share this process's cores."""
    try:
        lines = Path("/proc/stat").read_text().splitlines()
    except OSError:  # not Linux: the whole machine's cores
        import psutil

        times = psutil.cpu_times()
        return sum(times) - times.idle - getattr(times, "iowait", 0.0)
    mine = {f"cpu{index}" for index in os.sched_getaffinity(0)}
    ticks = 0
    for line in lines:
        name, *fields = line.split()
        if name in mine:
            # user nice system idle iowait irq softirq steal [guest guest_nice: inside user]
            values = [int(field) for field in fields[:8]]
            ticks += sum(values) - values[3] - values[4]
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CalibrationRequest:
    """One configuration to time: its config values, dataset and the phases it runs."""

    key: str  # its `cost_key` in the timing cache
    config: dict[str, Any]
    dataset: str
    phases: tuple[str, ...]
    allowance_s: float  # calibration seconds this configuration may take beyond the minimum


def time_function(run: Callable[[], object], calls: int) -> tuple[PhaseTiming, float, float]:
    """(timing, wall seconds, CPU seconds) of up to `calls` calls after the first.

    The fastest later call is the step's cost: on a shared machine other jobs can only
    make a call slower, and one hiccup must not stand for thousands of steps. A later call
    is repeated only while the calls so far took under `QUICK_CALL_S` in all: hiccups
    matter for quick calls, and a slow call (a GAN step, an evaluation) costs the
    calibration most when repeated.
    """
    from harness.training.speed import timed_calls

    first = timed_calls(run, 1)[0]
    later = []
    while len(later) < max(1, calls) and (not later
                                          or sum(t.wall_s for t in later) < QUICK_CALL_S):
        later += timed_calls(run, 1)
    step_s = min(t.wall_s for t in later)
    return (PhaseTiming(first_s=first.wall_s, step_s=step_s),
            sum(t.wall_s for t in later), sum(t.cpu_s for t in later))


def materialise(metrics: Mapping[str, Any]) -> None:
    for value in metrics.values():
        float(value)  # waits for the step: TensorFlow runs ops asynchronously


class CalibrationRun:
    """Times one configuration's Trainer; lives in the calibration process."""

    def __init__(self, request: CalibrationRequest, work_dir: Path):
        from harness.data.loader import load_dataset

        self.request = request
        self.config = SampleGANConfig.from_dict(request.config)
        self.dataset = load_dataset(Path(request.dataset))
        self.work_dir = work_dir
        self.wall_s = 0.0
        self.cpu_s = 0.0
        self.last_evaluation = None  # rendered once, as the tracked run renders every one

    def trainer(self, config: SampleGANConfig):
        from harness.training.events import RunOptions
        from harness.training.schedule import check_dataset
        from harness.training.trainer import Trainer

        check_dataset(config, self.dataset)
        folder = Path(tempfile.mkdtemp(dir=self.work_dir))
        started = time.perf_counter()
        trainer = Trainer(config, self.dataset, folder, options=RunOptions(progress=False))
        return trainer, time.perf_counter() - started

    def time(self, run: Callable[[], object], calls: int) -> PhaseTiming:
        timing, wall_s, cpu_s = time_function(run, calls)
        self.wall_s += wall_s
        self.cpu_s += cpu_s
        return timing

    def step(self, trainer, phase: str) -> Callable[[], None]:
        step_fn = trainer.phase_step(phase)
        counter = iter(range(1_000_000))
        return lambda: materialise(step_fn(next(counter)))

    def run(self) -> PointTiming:
        from harness.tracking.run_figures import plot_training_curves
        from harness.tracking.run_page import render_evaluation

        config = self.config
        machine_s, own_s, began = busy_cpu_s(), time.process_time(), time.perf_counter()
        trainer, build_s = self.trainer(config)
        phases: dict[str, PhaseTiming] = {}
        for phase in self.request.phases:
            if phase == HELDOUT:
                phases[phase] = self.time(trainer.heldout_likelihood, TIMED_CALLS)
            elif phase != "gan":
                phases[phase] = self.time(self.step(trainer, phase), TIMED_CALLS)
        if "gan" in self.request.phases:
            phases.update(self.generation_phases(trainer))
        else:
            phases["evaluation"] = self.time(trainer.evaluate, TIMED_CALLS)
            self.last_evaluation = trainer.evaluations[-1]
        folder = Path(tempfile.mkdtemp(dir=self.work_dir))
        started = time.perf_counter()
        render_evaluation(self.last_evaluation, folder / "eval")
        render_s = time.perf_counter() - started
        started = time.perf_counter()
        trainer.model.save(folder / "model", trainer.seed_bank())
        plot_training_curves(trainer.history, folder / "curves.png")
        finish_s = time.perf_counter() - started
        others_s = (busy_cpu_s() - machine_s) - (time.process_time() - own_s)
        return PointTiming(build_s=build_s, phases=phases, render_s=render_s, finish_s=finish_s,
                           cores_busy=self.cpu_s / self.wall_s if self.wall_s else 1.0,
                           others_busy=max(0.0, others_s / (time.perf_counter() - began)))

    def generation_phases(self, trainer) -> dict[str, PhaseTiming]:
        """The GAN step and the evaluation: each at its real length if that fits half the
        allowance, else at two shorter lengths (sized to fit), extrapolated linearly."""
        config = self.config
        real = {"gan": config.gen_length, "evaluation": config.eval_length}
        fits, longest, per_sample_s = self.what_fits(trainer, real)
        timed = {}
        if fits["gan"]:
            timed["gan"] = self.time(self.step(trainer, "gan"), TIMED_CALLS)
        if fits["evaluation"]:
            timed["evaluation"] = self.time(trainer.evaluate, TIMED_CALLS)
            self.last_evaluation = trainer.evaluations[-1]
        if all(fits.values()):
            return timed
        timed.update(self.extrapolated(fits, longest, per_sample_s, real))
        return timed

    def what_fits(self, trainer, real: Mapping[str, int],
                  ) -> tuple[dict[str, bool], dict[str, int], float]:
        """Which phases fit the allowance at their `real` length, the longer probe length of
        the others, and the seconds per generated sample that decided it."""
        import numpy as np

        config = self.config
        # Seconds per generated sample at the evaluation's batch: a short generation bounds
        # it; when the bound says a phase would not fit and the call was so quick that its
        # overhead could dominate, a longer generation gives the slope.
        window = trainer.model.seed_windows(trainer.seed_bank()[: config.eval_clips], [0, 1])

        def generation_s(samples: int) -> float:
            return self.time(lambda: trainer.model.generator.generate(
                window, samples, np.array([0, 2]))[0].numpy(), 1).step_s

        batch_ratio = {"gan": max(1.0, config.batch_size / config.eval_clips), "evaluation": 1.0}

        def fitting(per_sample_s: float, call_s: float) -> tuple[dict[str, bool], dict[str, int]]:
            """Which phases to time at their real length, and the longer probe length of
            the others (its two calls take about half the allowance)."""
            longest = {phase: min(real[phase], max(MIN_PROBE_SAMPLES * 3, int(
                self.request.allowance_s / 4 / max(per_sample_s * batch_ratio[phase], 1e-9))))
                for phase in real}
            fits = {phase: (1 + TIMED_CALLS) * (call_s + per_sample_s * batch_ratio[phase]
                                                * real[phase]) <= self.request.allowance_s / 2
                    or 2 * longest[phase] >= real[phase] for phase in real}
            return fits, longest

        short_s = generation_s(DECISION_PROBE_SAMPLES)
        per_sample_s = short_s / DECISION_PROBE_SAMPLES  # an upper bound: the call's overhead too
        fits, longest = fitting(per_sample_s, 0.0)
        if not all(fits.values()) and short_s < DECISION_PROBE_S:
            samples = int(DECISION_PROBE_SAMPLES * DECISION_PROBE_S / max(short_s, 1e-3))
            per_sample_s = max(0.0, (generation_s(samples) - short_s)
                               / (samples - DECISION_PROBE_SAMPLES))
            fits, longest = fitting(per_sample_s, max(0.0, short_s - DECISION_PROBE_SAMPLES
                                                      * per_sample_s))
        return fits, longest, per_sample_s

    def extrapolated(self, fits: Mapping[str, bool], longest: Mapping[str, int],
                     per_sample_s: float, real: Mapping[str, int]) -> dict[str, PhaseTiming]:
        """The phases that do not fit, timed at two shorter lengths and extrapolated linearly."""
        config = self.config
        lengths = [{phase: max(MIN_PROBE_SAMPLES, longest[phase] // 3) for phase in real}, longest]
        progress(f"  {per_sample_s * 1e3:.2g} ms per generated sample: timing "
                 + " and ".join(f"the {phase} at {lengths[0][phase]} and {lengths[1][phase]} "
                                f"samples instead of {real[phase]}"
                                for phase in real if not fits[phase]))
        probes = []
        for probe_lengths in lengths:
            short, _ = self.trainer(config.replace(
                train_gen_length=config.train_gen_length if fits["gan"] else probe_lengths["gan"],
                eval_samples=config.eval_samples if fits["evaluation"]
                else probe_lengths["evaluation"]))
            probes.append({
                "gan": None if fits["gan"] else self.time(self.step(short, "gan"), 1),
                "evaluation": None if fits["evaluation"] else self.time(short.evaluate, 1)})
            if not fits["evaluation"]:
                self.last_evaluation = short.evaluations[-1]
        timed = {}
        for phase in real:
            if not fits[phase]:
                (length1, first), (length2, second) = (
                    (lengths[0][phase], probes[0][phase]), (lengths[1][phase], probes[1][phase]))
                step_s = linear_at(real[phase], length1, first.step_s, length2, second.step_s)
                # The first call's extra (tracing) hardly depends on the length.
                timed[phase] = PhaseTiming(first_s=second.first_s - second.step_s + step_s,
                                           step_s=step_s)
        return timed


PR_SET_PDEATHSIG = 1  # prctl(2) option: the signal this process gets when its parent dies


def die_with_parent(parent_pid: int) -> None:
    """Have Linux SIGKILL this process the moment `parent_pid` (its parent) ends, however it
    ends; exit now if it already has. Runs first thing in the calibration process (the pool's
    initializer), so even its start-up imports are covered; elsewhere `exit_with_parent`'s
    polling is the only guard."""
    import ctypes
    import signal

    with contextlib.suppress(OSError, AttributeError):  # not Linux: no prctl
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def exit_with_parent(parent_pid: int, every_s: float = 1.0) -> None:
    """End this process as soon as `parent_pid` is no longer its parent (the planning
    command was killed, even by SIGKILL, and this process was re-parented): a calibration
    nobody waits for must not keep the cores busy for minutes."""
    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(every_s)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


def calibrate_in_this_process(requests: Sequence[CalibrationRequest], cache_path: Path,
                              machine_key: str, parent_pid: int | None = None) -> None:
    """Time every request in this (fresh) process, saving each to the cache as it is measured
    (with how long this process took to import what a worker imports). With `parent_pid`,
    the process ends when that process does."""
    if parent_pid is not None:
        exit_with_parent(parent_pid)
    started = time.perf_counter()
    from harness.common.quiet_tf import import_tensorflow_quietly

    import_tensorflow_quietly()
    import harness.runs.train  # noqa: F401 - what a worker imports before its first trial
    import harness.training.trainer  # noqa: F401

    startup_s = time.perf_counter() - started
    cache = TimingCache(cache_path)
    cache.save({}, machine_key, startup_s)
    with tempfile.TemporaryDirectory(prefix="samplegan-plan-") as folder:
        for request in requests:
            progress(f"timing {describe_config(request.config)}")
            timing = CalibrationRun(request, Path(folder)).run()
            cache.save({request.key: asdict(timing)}, machine_key, startup_s)


def describe_config(config: Mapping[str, Any]) -> str:
    keys = ("generator", "prefilter", "n", "sample_rate", "output_head", "seed_source")
    return ", ".join(f"{key}={config[key]}" for key in keys if key in config)


def run_calibration(requests: Sequence[CalibrationRequest], environment: Mapping[str, str],
                    cache: TimingCache, machine_key: str) -> None:
    """Time `requests` in a fresh process with `environment` set; the timings go to `cache`.

    One process, with no other worker of ours running: the sharing between workers is
    modelled (`slowdown`). Measured side by side, two calibration processes on this 2-core
    machine ran each call 2-3 times slower than two study workers then ran their trials.

    Raises:
        SampleGanError: the calibration process died (e.g. killed for lack of memory),
            naming the configuration it was timing: a trial of it would die the same way.
    """
    saved = {key: os.environ.get(key) for key in environment}
    os.environ.update(environment)
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=die_with_parent, initargs=(os.getpid(),)) as pool:
            try:
                pool.submit(calibrate_in_this_process, list(requests), cache.path, machine_key,
                            os.getpid()).result()
            except (KeyboardInterrupt, Terminated):
                # Stopped (`study run` turns SIGTERM into Terminated): leaving the `with`
                # would wait for the whole calibration. The pool has no public kill.
                for process in list(getattr(pool, "_processes", {}).values()):
                    process.kill()
                raise
    except BrokenProcessPool:
        measured = TimingCache(cache.path)
        lost = [r for r in requests if measured.point(r.key) is None]
        raise SampleGanError(
            f"timing {describe_config(lost[0].config) if lost else 'a configuration'} ended abruptly "
            "(its process was killed, most likely for lack of memory); a trial of it would end "
            "the same way: lower batch_size, grad_positions, train_gen_length or lstm_units"
        ) from None
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def timing_identity(environment: Mapping[str, str]) -> dict[str, str]:
    """What timings are valid for: this machine's processor and cores, the GPU a worker
    sees, the code a step runs (`code_digest`) and TensorFlow."""
    import platform

    from harness.common.host import processor_name
    from harness.runs.train import provenance

    code = provenance()
    return {"processor": processor_name(), "cpus": str(os.cpu_count()),
            "platform": platform.platform(),
            "cuda_visible_devices": environment.get("CUDA_VISIBLE_DEVICES",
                                                    os.environ.get("CUDA_VISIBLE_DEVICES", "")),
            "code": code_digest(),
            "tensorflow": code["version.tensorflow"], "keras": code["version.keras"]}


# Source that never runs inside a timed call: editing it keeps the timings (docs, specs and
# tests are not source either). The calibration itself (this module) is not among them.
_UNTIMED_SOURCE = ("cli/", "report/", "ui/", "evaluation/diagnose_files.py", "training/speed.py",
                   "study/")
_TIMED_STUDY_SOURCE = ("study/calibration.py",)


def code_digest(root: Path | None = None) -> str:
    """SHA-256 of the Python source a trial's timed calls run: `models/` and `harness/` under
    `root` (default: this checkout) less `_UNTIMED_SOURCE`, this module kept. A commit that
    changes only docs, specs, tests or the report keeps the cached timings; any change to
    what a step runs discards them."""
    root = root or Path(__file__).resolve().parents[2]
    digest = hashlib.sha256()
    for path in sorted([*root.glob("models/**/*.py"), *root.glob("harness/**/*.py")]):
        relative = path.relative_to(root).as_posix()
        inside = relative.removeprefix("harness/")
        if (relative.startswith("harness/") and inside.startswith(_UNTIMED_SOURCE)
                and inside not in _TIMED_STUDY_SOURCE):
            continue
        digest.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


class TimingCache:
    """Measured timings under the store folder, keyed by `cost_key` (and start-up by machine)."""

    def __init__(self, path: Path | None = None):
        self.path = path or store_dir() / CACHE_FILE
        self.data: dict[str, Any] = {"points": {}, "startup": {}}
        if self.path.exists():
            self.data = json.loads(self.path.read_text())

    def point(self, key: str) -> PointTiming | None:
        found = self.data["points"].get(key)
        return PointTiming.from_dict(found) if found else None

    def startup(self, machine_key: str) -> float | None:
        return self.data["startup"].get(machine_key)

    def save(self, points: Mapping[str, dict[str, Any]], machine_key: str, startup_s: float) -> None:
        with file_lock(self.path.with_name(self.path.name + ".lock")):
            if self.path.exists():
                self.data = json.loads(self.path.read_text())
            self.data["points"].update(points)
            self.data["startup"][machine_key] = startup_s
            partial = self.path.with_name(f".{self.path.name}.{os.getpid()}")
            partial.write_text(json.dumps(self.data, indent=1, sort_keys=True))
            partial.replace(self.path)


def linear_at(x: float, x1: float, y1: float, x2: float, y2: float) -> float:
    """The line through (x1, y1) and (x2, y2) at x; y1 when x1 == x2. Never below y1 or 0.

    Used to extrapolate a step's seconds from two generated lengths to the real one.
    """
    if x2 == x1:
        return y1
    slope = max(0.0, (y2 - y1) / (x2 - x1))
    return max(0.0, y1 + slope * (x - x1))
