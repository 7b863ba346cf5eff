"""`samplegan study plan`: what a study will cost on this machine, from real steps of its models.

For every distinct configuration the study's remaining cells train (grid points, and the
lowest and highest values of searched ranges), a calibration process builds the trial's
real `Trainer` and times the functions `Trainer.run` calls: the step of each phase it will
run (`phase_totals`), one evaluation with its generation, and what the tracked run writes
(the evaluation's clips and figure, the final model and curves). A phase's first call is
timed on its own: it pays for tracing and XLA compilation, which every trial pays again.

Extrapolation (pure functions below, tested against hand-worked values):

* a trial alone = set-up (model build, first calls' extra, final save) + steps x seconds
  per step + evaluations x seconds per evaluation, with the GAN phase cut at
  `budget.minutes_per_trial` as the trainer cuts it (the step in flight and a final
  evaluation still run);
* workers on one machine share its cores: a step that keeps `u` cores busy alone takes
  max(1, W u / C) times longer when W workers run at once on C cores (processor sharing;
  memory bandwidth and caches are not modelled). Workers on their own GPUs (`--gpus`) do
  not slow each other;
* the study = the trials in queue order on W workers, each taking the next trial when it
  is free, after the worker's start-up (importing TensorFlow, measured).

Calibration. Configurations that differ only in `COST_NEUTRAL_KEYS` (step counts,
learning rates, noise levels) are timed once, one after the other in one process with no
worker of ours running. Generation dominates the cost of slow points and is linear in
the generated length, so a point whose full-length GAN step or evaluation would not fit
its share of the calibration budget (60 s) is timed at two shorter lengths (same model,
n, batch and clips) and extrapolated linearly to the real ones. The minimum -- each configuration's build and
its first (tracing) call of every timed function -- is always paid, so small studies
spend more than 5 % of their time calibrating the first time. Timings are cached under
the store folder by (configuration, machine, code commit), so planning again, and `study
run` after `study plan`, costs nothing.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.common.errors import SampleGanError
from harness.study.spec import Cell, StudySpec
from harness.tracking.store import file_lock, store_dir
from models.config import SampleGANConfig

CALIBRATION_CAP_S = 60.0  # seconds of calibration beyond the minimum, shared by the configurations
TIMED_CALLS = 2  # calls of each timed function after its first (tracing) call; the fastest counts
MIN_PROBE_SAMPLES = 8  # the shorter probe length of a slow point never goes below this
DECISION_PROBE_SAMPLES = 32  # samples generated once to tell a slow point from a fast one
DECISION_PROBE_S = 0.25  # ... and again at a length taking about this long, if it was quicker
# Keys that change how many steps run, or only the values computed: never the cost of a step.
COST_NEUTRAL_KEYS = frozenset({
    "ae_steps", "gan_steps", "pretrain_epochs", "eval_every", "lr_autoencoder", "lr_generator",
    "lr_discriminator", "adam_beta1", "adam_beta2", "feedback_noise", "seed_noise_std",
    "mulaw_temperature", "gp_weight",
})
CACHE_FILE = "plan_timings.json"
PLAN_ATTR = "plan"  # the study's user attribute holding the launcher's plan (for status)


def progress(message: str) -> None:
    """One line on stderr: calibrating a large study takes minutes."""
    print(f"plan: {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------ timings
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

    @staticmethod
    def from_dict(values: Mapping[str, Any]) -> PointTiming:
        return PointTiming(build_s=values["build_s"], render_s=values["render_s"],
                           finish_s=values["finish_s"], cores_busy=values["cores_busy"],
                           phases={k: PhaseTiming(**v) for k, v in values["phases"].items()})


# ------------------------------------------------------------------- extrapolation
def slowdown(cores_busy: float, concurrent_workers: int, cores: int, own_devices: bool) -> float:
    """How much longer a step takes when `concurrent_workers` run it at once.

    Args:
        cores_busy: cores one worker keeps busy alone (CPU seconds per wall second).
        concurrent_workers: workers running at the same time.
        cores: CPU cores of the machine.
        own_devices: each worker has its own GPU (no sharing modelled).

    Returns:
        a factor >= 1 (processor sharing: demand W u over C cores).
    """
    if own_devices:
        return 1.0
    return max(1.0, concurrent_workers * cores_busy / cores)


def trial_seconds(timing: PointTiming, totals: Mapping[str, int], evaluations: int,
                  factor: float, cap_s: float | None) -> float:
    """Wall seconds of one trial.

    Args:
        timing: the configuration's timings as measured.
        totals: steps per phase (`phase_totals`); phases with 0 steps do not run.
        evaluations: evaluations of the run (`evaluation_count`).
        factor: `slowdown` of every timed call while the trial runs beside the other workers.
        cap_s: `budget.minutes_per_trial` in seconds, or None. The trainer checks it
            before every step (not during the model build); when it is reached the step
            in flight ends and one more evaluation runs.

    Returns:
        seconds from the trial's start to its end.
    """
    training = 0.0
    for phase, steps in totals.items():
        if steps:
            cost = timing.phases[phase]
            training += cost.first_s + (steps - 1) * cost.step_s
    evaluation = timing.phases["evaluation"]
    if evaluations:
        training += (evaluation.first_s + (evaluations - 1) * evaluation.step_s
                     + evaluations * timing.render_s)
    training *= factor
    if cap_s is not None and training > cap_s:
        last_phase = next(phase for phase in reversed(list(totals)) if totals[phase])
        training = cap_s + factor * (timing.phases[last_phase].step_s + evaluation.step_s
                                     + timing.render_s)
    return factor * (timing.build_s + timing.finish_s) + training


def schedule_seconds(durations: Sequence[float], workers: int, startup_s: float) -> float:
    """Wall seconds until the last trial ends: each worker, once started (`startup_s`), takes
    the next trial of the queue (`durations`, in queue order) when it is free."""
    if not durations:
        return 0.0
    free_at = [startup_s] * workers
    for duration in durations:
        first_free = free_at.index(min(free_at))
        free_at[first_free] += duration
    return max(free_at)


def linear_at(x: float, x1: float, y1: float, x2: float, y2: float) -> float:
    """The line through (x1, y1) and (x2, y2) at x; y1 when x1 == x2. Never below y1 or 0.

    Used to extrapolate a step's seconds from two generated lengths to the real one.
    """
    if x2 == x1:
        return y1
    slope = max(0.0, (y2 - y1) / (x2 - x1))
    return max(0.0, y1 + slope * (x - x1))


# -------------------------------------------------------------------- calibration
@dataclass(frozen=True)
class CalibrationRequest:
    """One configuration to time: its config values, dataset and the phases it runs."""

    key: str  # its `cost_key` in the timing cache
    config: dict[str, Any]
    dataset: str
    phases: tuple[str, ...]
    allowance_s: float  # calibration seconds this configuration may take beyond the minimum


def _time_function(run: Callable[[], object], calls: int) -> tuple[PhaseTiming, float, float]:
    """(timing, wall seconds, CPU seconds) of the calls after the first.

    The fastest later call is the step's cost: on a shared machine other jobs can only
    make a call slower, and one hiccup must not stand for thousands of steps.
    """
    from harness.training.bench import timed_calls

    timings = timed_calls(run, 1 + calls)
    later = timings[1:]
    step_s = min(t.wall_s for t in later)
    return (PhaseTiming(first_s=timings[0].wall_s, step_s=step_s),
            sum(t.wall_s for t in later), sum(t.cpu_s for t in later))


def _materialise(metrics: Mapping[str, Any]) -> None:
    for value in metrics.values():
        float(value)  # waits for the step: TensorFlow runs ops asynchronously


class _Calibration:
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
        from harness.training.trainer import RunOptions, Trainer

        folder = Path(tempfile.mkdtemp(dir=self.work_dir))
        started = time.perf_counter()
        trainer = Trainer(config, self.dataset, folder, options=RunOptions(progress=False))
        return trainer, time.perf_counter() - started

    def time(self, run: Callable[[], object], calls: int) -> PhaseTiming:
        timing, wall_s, cpu_s = _time_function(run, calls)
        self.wall_s += wall_s
        self.cpu_s += cpu_s
        return timing

    def step(self, trainer, phase: str) -> Callable[[], None]:
        step_fn = trainer.phase_step(phase)
        counter = iter(range(1_000_000))
        return lambda: _materialise(step_fn(next(counter)))

    def run(self) -> PointTiming:
        from harness.tracking.plots import plot_training_curves
        from harness.tracking.tracked_training import render_evaluation

        config = self.config
        trainer, build_s = self.trainer(config)
        phases: dict[str, PhaseTiming] = {}
        for phase in self.request.phases:
            if phase != "gan":
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
        return PointTiming(build_s=build_s, phases=phases, render_s=render_s, finish_s=finish_s,
                           cores_busy=self.cpu_s / self.wall_s if self.wall_s else 1.0)

    def generation_phases(self, trainer) -> dict[str, PhaseTiming]:
        """The GAN step and the evaluation: each at its real length if that fits half the
        allowance, else at two shorter lengths (sized to fit), extrapolated linearly."""
        import numpy as np

        config = self.config
        # Seconds per generated sample at the evaluation's batch: a short generation bounds
        # it; when the bound says a phase would not fit and the call was so quick that its
        # overhead could dominate, a longer generation gives the slope.
        window = trainer.model.seed_windows(trainer.seed_bank()[: config.eval_clips], [0, 1])

        def generation_s(samples: int) -> float:
            return self.time(lambda: trainer.model.generator.generate(
                window, samples, np.array([0, 2]))[0].numpy(), 1).step_s

        real = {"gan": config.gen_length, "evaluation": config.eval_length}
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
        timed = {}
        if fits["gan"]:
            timed["gan"] = self.time(self.step(trainer, "gan"), TIMED_CALLS)
        if fits["evaluation"]:
            timed["evaluation"] = self.time(trainer.evaluate, TIMED_CALLS)
            self.last_evaluation = trainer.evaluations[-1]
        if all(fits.values()):
            return timed
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
        for phase in real:
            if not fits[phase]:
                (length1, first), (length2, second) = (
                    (lengths[0][phase], probes[0][phase]), (lengths[1][phase], probes[1][phase]))
                step_s = linear_at(real[phase], length1, first.step_s, length2, second.step_s)
                # The first call's extra (tracing) hardly depends on the length.
                timed[phase] = PhaseTiming(first_s=second.first_s - second.step_s + step_s,
                                           step_s=step_s)
        return timed


def _calibrate(requests: Sequence[CalibrationRequest], cache_path: Path, machine_key: str) -> None:
    """Time every request in this (fresh) process, saving each to the cache as it is measured
    (with how long this process took to import what a worker imports)."""
    started = time.perf_counter()
    from harness.common.quiet_tf import import_tensorflow_quietly

    import_tensorflow_quietly()
    import harness.tracking.tracked_training  # noqa: F401 - what a worker imports before its first trial
    import harness.training.trainer  # noqa: F401

    startup_s = time.perf_counter() - started
    cache = TimingCache(cache_path)
    cache.save({}, machine_key, startup_s)
    with tempfile.TemporaryDirectory(prefix="samplegan-plan-") as folder:
        for request in requests:
            progress(f"timing {_describe(request.config)}")
            timing = _Calibration(request, Path(folder)).run()
            cache.save({request.key: asdict(timing)}, machine_key, startup_s)


def _describe(config: Mapping[str, Any]) -> str:
    keys = ("lstm_mode", "prefilter", "n", "sample_rate", "output_head", "seed_source")
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
        with ProcessPoolExecutor(max_workers=1,
                                 mp_context=multiprocessing.get_context("spawn")) as pool:
            pool.submit(_calibrate, list(requests), cache.path, machine_key).result()
    except BrokenProcessPool:
        measured = TimingCache(cache.path)
        lost = [r for r in requests if measured.point(r.key) is None]
        raise SampleGanError(
            f"timing {_describe(lost[0].config) if lost else 'a configuration'} ended abruptly "
            "(its process was killed, most likely for lack of memory); a trial of it would end "
            "the same way: lower batch_size, grad_positions, train_gen_length or lstm_units"
        ) from None
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# ----------------------------------------------------------------------- the plan
@dataclass(frozen=True)
class PointPlan:
    """One grid point's share of the plan."""

    point: str  # the grid point as `study status` names it ("search" without a grid)
    trials: int  # cells still to do at this point
    phase_seconds: dict[str, float]  # seconds per step of each phase, per evaluation, set-up
    trial_seconds: float  # one trial, as it will run (cut at budget.minutes_per_trial)
    uncut_trial_seconds: float  # one trial if nothing cut it
    gan_steps: int


@dataclass(frozen=True)
class StudyPlan:
    """The predicted cost of the cells of a study still to do."""

    spec: str
    workers: int
    hardware: dict[str, Any]
    points: list[PointPlan]
    total_seconds: float
    calibration_seconds: float

    def to_json(self) -> dict[str, Any]:
        """The `--json` object (keys fixed by the command-line contract)."""
        return {
            "spec": self.spec, "workers": self.workers, "hardware": self.hardware,
            "points": [{"point": p.point, "trials": p.trials,
                        "phase_seconds": {k: round(v, 4) for k, v in p.phase_seconds.items()},
                        "trial_minutes": round(p.trial_seconds / 60.0, 3)} for p in self.points],
            "total_minutes": round(self.total_seconds / 60.0, 3),
            "calibration_seconds": round(self.calibration_seconds, 1),
        }

    def summary(self) -> dict[str, Any]:
        """What `study status` needs to predict the time left: trial seconds per point."""
        return {"workers": self.workers, "total_seconds": round(self.total_seconds, 1),
                "trial_seconds": {p.point: round(p.trial_seconds, 1) for p in self.points}}

    def dominant(self, count: int = 2) -> list[tuple[PointPlan, float]]:
        """The points with the largest share of all trial time, with that share."""
        work = {p.point: p.trials * p.trial_seconds for p in self.points}
        total = sum(work.values()) or 1.0
        ranked = sorted(self.points, key=lambda p: work[p.point], reverse=True)[:count]
        return [(p, work[p.point] / total) for p in ranked]


def point_name(cell: Cell) -> str:
    """The grid point of a cell as `study status` prints it."""
    return cell.key.split("|", 1)[0]


def cells_to_do(spec: StudySpec, storage: str | None) -> list[Cell]:
    """The spec's cells without a finished (complete or pruned) trial in the storage, less
    those that failed more often than `budget.max_retries` (they are not run again).

    Read-only: a storage or study that does not exist yet means every cell.
    """
    import optuna

    from harness.study.queue import CELL_ATTR, DONE_STATES, cell_failures
    from harness.study.storage import open_storage

    try:
        opened = open_storage(storage, spec.storage, create=False)
    except SampleGanError as error:
        if "no study storage" in str(error):
            return spec.cells()
        raise
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if spec.name not in optuna.get_all_study_names(opened.optuna):
        return spec.cells()
    trials = optuna.load_study(study_name=spec.name, storage=opened.optuna).get_trials(
        deepcopy=False)
    done = {trial.user_attrs.get(CELL_ATTR) for trial in trials if trial.state in DONE_STATES}
    failures = cell_failures(trials)
    return [cell for cell in spec.cells()
            if cell.key not in done and failures[cell.key] <= spec.budget.max_retries]


def _searched_extremes(spec: StudySpec) -> list[dict[str, Any]]:
    """The searched values to time: all lowest and all highest (one {} without a search)."""
    if not spec.search:
        return [{}]
    lows, highs = {}, {}
    for param in spec.search:
        if param.kind == "categorical":
            ordered = (sorted(param.choices) if all(isinstance(c, int | float) for c in param.choices)
                       else list(param.choices))
            lows[param.name], highs[param.name] = ordered[0], ordered[-1]
        else:
            cast = int if param.kind == "int" else float
            lows[param.name], highs[param.name] = cast(param.low), cast(param.high)
    return [lows, highs]


def cost_key(config: SampleGANConfig, identity: Mapping[str, Any]) -> str:
    """Cache key of a configuration's timings: what a step's cost depends on (the config
    without `COST_NEUTRAL_KEYS`), and where and with which code (`timing_identity`)."""
    defining = {"config": {k: v for k, v in config.to_dict().items() if k not in COST_NEUTRAL_KEYS},
                "identity": dict(identity)}
    return hashlib.sha256(json.dumps(defining, sort_keys=True).encode()).hexdigest()[:24]


def timing_identity(environment: Mapping[str, str]) -> dict[str, str]:
    """What timings are valid for: this machine's processor and cores, the GPU a worker
    sees, the code's commit (and whether it had uncommitted changes) and TensorFlow."""
    import platform

    from harness.common.host import processor_name
    from harness.tracking.tracked_training import provenance

    code = provenance()
    return {"processor": processor_name(), "cpus": str(os.cpu_count()),
            "platform": platform.platform(),
            "cuda_visible_devices": environment.get("CUDA_VISIBLE_DEVICES",
                                                    os.environ.get("CUDA_VISIBLE_DEVICES", "")),
            "git_commit": code["git_commit"], "git_dirty": code["git_dirty"],
            "tensorflow": code["version.tensorflow"], "keras": code["version.keras"]}


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


@dataclass
class _Point:
    name: str
    cells: int
    configs: list[tuple[SampleGANConfig, dict[str, int], int, str]]  # config, totals, evals, key


def plan_study(spec: StudySpec, spec_path: Path, worker_envs: Sequence[Mapping[str, str]],
               storage: str | None = None) -> StudyPlan:
    """Predict the cost of the study's cells still to do on `len(worker_envs)` workers.

    Args:
        spec: the validated spec.
        spec_path: its file, as given (reported).
        worker_envs: each worker's environment overrides (`launcher.plan_workers`); a
            worker with CUDA_VISIBLE_DEVICES set has a GPU of its own.
        storage: the study storage URL (default: the local journal).

    Returns:
        the plan; configurations not in the cache are timed first (progress on stderr).
    """
    from harness.data.loader import load_dataset
    from harness.study.datasets import dataset_dir, prepare_datasets
    from harness.training.events import PHASES, evaluation_count, phase_totals
    from models.registry import get_variant

    workers = len(worker_envs)
    own_devices = bool(worker_envs[0].get("CUDA_VISIBLE_DEVICES"))
    identity = timing_identity(worker_envs[0])
    machine_key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
    cells = cells_to_do(spec, storage)
    prepare_datasets(spec, log=progress)
    variant = get_variant(spec.base_variant)
    points: dict[str, _Point] = {}
    datasets: dict[Path, Any] = {}
    for cell in cells:
        name = point_name(cell)
        if name in points:
            points[name].cells += 1
            continue
        configs = []
        for searched in _searched_extremes(spec):
            config = variant.config(spec.trial_overrides(cell, searched))
            folder = dataset_dir(spec, config.sample_rate, config.n)
            if folder not in datasets:
                datasets[folder] = load_dataset(folder)
            totals = phase_totals(config, datasets[folder])
            configs.append((config, totals, evaluation_count(config), cost_key(config, identity)))
        points[name] = _Point(name, 1, configs)

    cache = TimingCache()
    # Configurations that differ only in cost-neutral keys are timed once, with every phase
    # any of them runs (e.g. with and without teacher forcing).
    needed: dict[str, tuple[SampleGANConfig, set[str]]] = {}
    for point in points.values():
        for config, totals, _, key in point.configs:
            phases = {phase for phase in PHASES if totals[phase]}
            known, union = needed.get(key, (config, set()))
            needed[key] = (config if phases - union else known, union | phases)
    missing: dict[str, tuple[SampleGANConfig, set[str]]] = {}
    for key, (config, phases) in needed.items():
        cached = cache.point(key)
        if cached is None or not phases <= set(cached.phases):
            missing[key] = (config, phases)
    calibration_s = 0.0
    if missing or (cache.startup(machine_key) is None and cells):
        allowance = CALIBRATION_CAP_S / max(1, len(missing))
        requests = [CalibrationRequest(
            key=key, config=config.to_dict(), phases=tuple(p for p in PHASES if p in phases),
            dataset=str(dataset_dir(spec, config.sample_rate, config.n)), allowance_s=allowance)
            for key, (config, phases) in missing.items()]
        progress(f"timing {len(requests)} configuration(s) not measured on this machine and "
                 f"commit yet ({cache.path})")
        started = time.perf_counter()
        run_calibration(requests, {**worker_envs[0], "TF_CPP_MIN_LOG_LEVEL": "3"}, cache,
                        machine_key)
        calibration_s = time.perf_counter() - started
        cache = TimingCache(cache.path)
    startup_s = cache.startup(machine_key)

    cores = len(os.sched_getaffinity(0))
    concurrent = max(1, min(workers, len(cells)))
    planned: list[PointPlan] = []
    for point in points.values():
        options = []
        for config, totals, evaluations, key in point.configs:
            timing = cache.point(key)
            factor = slowdown(timing.cores_busy, concurrent, cores, own_devices)
            cap_s = (None if spec.budget.minutes_per_trial is None
                     else 60.0 * spec.budget.minutes_per_trial)
            options.append((trial_seconds(timing, totals, evaluations, factor, cap_s),
                            trial_seconds(timing, totals, evaluations, factor, None),
                            timing, totals, evaluations, factor, config))
        seconds, uncut, timing, totals, evaluations, factor, config = max(
            options, key=lambda option: option[0])
        phase_seconds = {phase: factor * timing.phases[phase].step_s
                         for phase in PHASES if totals[phase]}
        phase_seconds["evaluation"] = factor * (timing.phases["evaluation"].step_s
                                                + timing.render_s)
        steps_s = sum(totals[p] * phase_seconds[p] for p in PHASES if totals[p])
        phase_seconds["setup"] = max(0.0, uncut - steps_s - evaluations * phase_seconds["evaluation"])
        planned.append(PointPlan(point.name, point.cells, phase_seconds, seconds, uncut,
                                 config.gan_steps))
    by_name = {p.point: p for p in planned}
    durations = [by_name[point_name(cell)].trial_seconds for cell in cells]  # queue order
    total = schedule_seconds(durations, workers, startup_s or 0.0)
    hardware = {"cpus": cores, "processor": identity["processor"],
                "gpus": [env["CUDA_VISIBLE_DEVICES"] for env in worker_envs
                         if env.get("CUDA_VISIBLE_DEVICES")],
                "shared_cores": not own_devices}
    return StudyPlan(spec=str(spec_path), workers=workers, hardware=hardware, points=planned,
                     total_seconds=total, calibration_seconds=calibration_s)


def budget_refusal(spec: StudySpec, plan: StudyPlan) -> str | None:
    """Why the plan does not fit the spec's budget (one line), or None when it fits."""
    budget = spec.budget
    problems = []
    if budget.max_hours is not None and plan.total_seconds > 3600.0 * budget.max_hours:
        problems.append(f"predicted {_minutes(plan.total_seconds)} exceeds budget.max_hours = "
                        f"{budget.max_hours:g}")
    if budget.timeout_minutes is not None and plan.total_seconds > 60.0 * budget.timeout_minutes:
        problems.append(f"predicted {_minutes(plan.total_seconds)} exceeds budget.timeout_minutes "
                        f"= {budget.timeout_minutes:g} (no trial starts after it: cells would be "
                        "left undone)")
    cut = [p for p in plan.points if p.trial_seconds < p.uncut_trial_seconds]
    if cut:
        worst = max(cut, key=lambda p: p.uncut_trial_seconds)
        problems.append(f"{len(cut)} grid point(s) would be cut at budget.minutes_per_trial = "
                        f"{budget.minutes_per_trial:g} before their {worst.gan_steps} GAN steps "
                        f"({worst.point} needs {_minutes(worst.uncut_trial_seconds)} per trial)")
    if not problems:
        return None
    dominant = ", ".join(f"{p.point} {share:.0%}" for p, share in plan.dominant())
    return f"{'; '.join(problems)}; most of the time goes to {dominant}"


def seconds_left(queued: Sequence[float], running: Sequence[tuple[float, float]],
                 workers: int) -> float:
    """Predicted wall seconds until a study's last trial ends.

    Args:
        queued: predicted seconds of each trial not started yet, in queue order.
        running: (predicted seconds, seconds so far) of each running trial.
        workers: workers taking trials.
    """
    remaining = [max(0.0, predicted - elapsed) for predicted, elapsed in running]
    return schedule_seconds([*remaining, *queued], max(workers, len(running), 1), 0.0)


def _minutes(seconds: float) -> str:
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.1f} min"


def format_plan(plan: StudyPlan) -> str:
    """A readable table of the plan."""
    hardware = plan.hardware
    where = (f"GPUs {','.join(hardware['gpus'])}" if hardware["gpus"]
             else f"{hardware['cpus']} CPUs shared ({hardware['processor']})")
    trials = sum(p.trials for p in plan.points)
    lines = [f"plan for {plan.spec}: {trials} trial(s) to do on {plan.workers} worker(s), "
             f"{where}; calibration {plan.calibration_seconds:.0f} s"]
    if not plan.points:
        lines.append("nothing left to do")
        return "\n".join(lines)
    columns = [c for c in ("autoencoder", "pretrain", "gan", "evaluation", "setup")
               if any(c in p.phase_seconds for p in plan.points)]
    width = max(len("grid point"), *(len(p.point) for p in plan.points))
    heads = {"autoencoder": "ae s/step", "pretrain": "pretrain s/step", "gan": "gan s/step",
             "evaluation": "s/eval", "setup": "setup s"}
    lines.append(f"{'grid point':<{width}}  {'trials':>6}  "
                 + "  ".join(f"{heads[c]:>{max(9, len(heads[c]))}}" for c in columns)
                 + "  min/trial")
    for point in plan.points:
        cells = "  ".join(
            f"{point.phase_seconds[c]:>{max(9, len(heads[c]))}.3g}" if c in point.phase_seconds
            else f"{'-':>{max(9, len(heads[c]))}}" for c in columns)
        cut = "  (cut at budget.minutes_per_trial)" if point.trial_seconds < point.uncut_trial_seconds else ""
        lines.append(f"{point.point:<{width}}  {point.trials:>6}  {cells}  "
                     f"{point.trial_seconds / 60:>9.2f}{cut}")
    lines.append(f"total: {_minutes(plan.total_seconds)} for {trials} trial(s) on "
                 f"{plan.workers} worker(s)")
    return "\n".join(lines)
