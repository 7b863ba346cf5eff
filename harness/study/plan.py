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
n, batch and clips) and extrapolated linearly to the real ones. A timed function is called
once more after its first call, and a third time only if that was quick (`QUICK_CALL_S`).
The minimum -- each configuration's build and its first (tracing) call of every timed
function -- is always paid, so small studies spend more than 5 % of their time calibrating
the first time. Timings are cached under the store folder by (configuration, machine, the
code a step runs: `code_digest`), so planning again, `study run` after `study plan`, and
planning after a commit that touched only docs, specs, tests or the report cost nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.study.calibration import (
    CALIBRATION_CAP_S,
    HELDOUT,
    CalibrationRequest,
    PointTiming,
    TimingCache,
    progress,
    run_calibration,
    timing_identity,
)
from harness.study.optuna_storage import StudyStorage
from harness.study.queue import read_cell_states
from harness.study.spec import Cell, StudySpec
from models.config import SampleGANConfig

# Keys that change how many steps run, or only the values computed: never the cost of a step.
COST_NEUTRAL_KEYS = frozenset({
    "ae_steps", "gan_steps", "pretrain_epochs", "pretrain_steps", "eval_every", "lr_autoencoder", "lr_generator",
    "lr_discriminator", "adam_beta1", "adam_beta2", "feedback_noise", "seed_noise_std",
    "mulaw_temperature", "gp_weight",
})
PLAN_ATTR = "plan"  # the study's user attribute holding the launcher's plan (for status)
# Cores other processes may keep busy while a configuration is timed before the plan warns:
# a calibration beside a test run mis-predicted a collapse_cpu point by 52 % (docs/studies.md).
BUSY_OTHERS_CORES = 0.25


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
                  factor: float, cap_s: float | None, heldout_evaluations: int = 0) -> float:
    """Wall seconds of one trial.

    Args:
        timing: the configuration's timings as measured.
        totals: steps per phase (`phase_totals`); phases with 0 steps do not run.
        evaluations: evaluations of the run (`evaluation_count`).
        factor: `slowdown` of every timed call while the trial runs beside the other workers.
        cap_s: `budget.minutes_per_trial` in seconds, or None. The trainer checks it
            before every step (not during the model build); when it is reached the step
            in flight ends and one more evaluation runs.
        heldout_evaluations: held-out likelihood measurements during teacher forcing
            (`heldout_count`), each costing `timing.phases[HELDOUT]`.

    Returns:
        seconds from the trial's start to its end.
    """
    training = 0.0
    for phase, steps in totals.items():
        if steps:
            cost = timing.phases[phase]
            training += cost.first_s + (steps - 1) * cost.step_s
    if heldout_evaluations and HELDOUT in timing.phases:
        cost = timing.phases[HELDOUT]
        training += cost.first_s + (heldout_evaluations - 1) * cost.step_s
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


@dataclass
class _Point:
    name: str
    cells: int
    # config, totals, (evaluations, held-out likelihood measurements), cost key
    configs: list[tuple[SampleGANConfig, dict[str, int], tuple[int, int], str]]


def plan_study(spec: StudySpec, spec_path: Path, worker_envs: Sequence[Mapping[str, str]],
               storage: StudyStorage | None,
               datasets: Mapping[tuple[int, int], Path]) -> StudyPlan:
    """Predict the cost of the study's cells still to do on `len(worker_envs)` workers.

    Args:
        spec: the validated spec.
        spec_path: its file, as given (reported).
        worker_envs: each worker's environment overrides (`launcher.plan_workers`); a
            worker with CUDA_VISIBLE_DEVICES set has a GPU of its own.
        storage: the opened study storage, whose cells done are not planned (None: none
            yet, every cell is).
        datasets: the study's datasets by (sample rate, n), as `prepare_datasets` made them.

    Returns:
        the plan; configurations not in the cache are timed first (progress on stderr).
    """
    workers = len(worker_envs)
    own_devices = bool(worker_envs[0].get("CUDA_VISIBLE_DEVICES"))
    identity = timing_identity(worker_envs[0])
    machine_key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
    cells = read_cell_states(spec, storage).to_do(spec)
    points = _points(spec, cells, identity, datasets)
    cache, calibration_s = _time_missing(datasets, points, bool(cells), worker_envs[0], machine_key)
    startup_s = cache.startup(machine_key)

    cores = len(os.sched_getaffinity(0))
    concurrent = max(1, min(workers, len(cells)))
    cap_s = None if spec.budget.minutes_per_trial is None else 60.0 * spec.budget.minutes_per_trial
    planned = [_point_plan(point, cache, concurrent, cores, own_devices, cap_s)
               for point in points.values()]
    _warn_if_timed_busy(points, cache, cores)
    by_name = {p.point: p for p in planned}
    durations = [by_name[point_name(cell)].trial_seconds for cell in cells]  # queue order
    total = schedule_seconds(durations, workers, startup_s or 0.0)
    hardware = {"cpus": cores, "processor": identity["processor"],
                "gpus": [env["CUDA_VISIBLE_DEVICES"] for env in worker_envs
                         if env.get("CUDA_VISIBLE_DEVICES")],
                "shared_cores": not own_devices}
    return StudyPlan(spec=str(spec_path), workers=workers, hardware=hardware, points=planned,
                     total_seconds=total, calibration_seconds=calibration_s)


def _warn_if_timed_busy(points: Mapping[str, _Point], cache: TimingCache, cores: int) -> None:
    """Say so (stderr) when timings this plan uses were measured beside other busy processes."""
    busy = {key: cache.point(key).others_busy for point in points.values()
            for *_, key in point.configs if cache.point(key).others_busy > BUSY_OTHERS_CORES}
    if busy:
        progress(f"{len(busy)} configuration(s) were timed while other processes kept up to "
                 f"{max(busy.values()):.1f} of {cores} cores busy: their predictions may be off "
                 f"by tens of percent; to time them again on a quiet machine, delete {cache.path}")


def _points(spec: StudySpec, cells: Sequence[Cell], identity: Mapping[str, str],
            datasets: Mapping[tuple[int, int], Path]) -> dict[str, _Point]:
    """The grid points of `cells`, each with the configurations its trials train (one, or
    the extremes of the searched ranges), their phase totals and timing keys."""
    from harness.data.loader import load_dataset
    from harness.training.schedule import evaluation_count, heldout_count, phase_totals

    points: dict[str, _Point] = {}
    loaded: dict[Path, Any] = {}
    for cell in cells:
        name = point_name(cell)
        if name in points:
            points[name].cells += 1
            continue
        configs = []
        for searched in _searched_extremes(spec):
            config = spec.config(cell, searched)
            folder = datasets[(config.sample_rate, config.n)]
            if folder not in loaded:
                loaded[folder] = load_dataset(folder)
            totals = phase_totals(config, loaded[folder])
            configs.append((config, totals, (evaluation_count(config), heldout_count(config, totals)),
                            cost_key(config, identity)))
        points[name] = _Point(name, 1, configs)
    return points


def _time_missing(datasets: Mapping[tuple[int, int], Path], points: Mapping[str, _Point],
                  any_cells: bool, environment: Mapping[str, str],
                  machine_key: str) -> tuple[TimingCache, float]:
    """Calibrate the configurations the cache lacks (and the start-up, once per machine) on
    their `datasets`; returns the cache and the seconds calibration took."""
    from harness.training.events import PHASES
    from harness.training.schedule import heldout_count

    cache = TimingCache()
    # Configurations that differ only in cost-neutral keys are timed once, with every phase
    # any of them runs (e.g. with and without teacher forcing).
    needed: dict[str, tuple[SampleGANConfig, set[str]]] = {}
    for point in points.values():
        for config, totals, _, key in point.configs:
            phases = {phase for phase in PHASES if totals[phase]}
            if heldout_count(config, totals):
                phases.add(HELDOUT)
            known, union = needed.get(key, (config, set()))
            needed[key] = (config if phases - union else known, union | phases)
    missing: dict[str, tuple[SampleGANConfig, set[str]]] = {}
    for key, (config, phases) in needed.items():
        cached = cache.point(key)
        if cached is None or not phases <= set(cached.phases):
            missing[key] = (config, phases)
    if not missing and (cache.startup(machine_key) is not None or not any_cells):
        return cache, 0.0
    allowance = CALIBRATION_CAP_S / max(1, len(missing))
    requests = [CalibrationRequest(
        key=key, config=config.to_dict(),
        phases=tuple(p for p in (*PHASES, HELDOUT) if p in phases),
        dataset=str(datasets[(config.sample_rate, config.n)]), allowance_s=allowance)
        for key, (config, phases) in missing.items()]
    progress(f"timing {len(requests)} configuration(s) not measured on this machine with "
             f"this code yet ({cache.path})")
    started = time.perf_counter()
    run_calibration(requests, {**environment, "TF_CPP_MIN_LOG_LEVEL": "3"}, cache, machine_key)
    return TimingCache(cache.path), time.perf_counter() - started


def _point_plan(point: _Point, cache: TimingCache, concurrent: int, cores: int,
                own_devices: bool, cap_s: float | None) -> PointPlan:
    """A point's plan: its slowest configuration's trial, per phase and in total."""
    from harness.training.events import PHASES

    options = []
    for config, totals, evaluations, key in point.configs:
        timing = cache.point(key)
        factor = slowdown(timing.cores_busy, concurrent, cores, own_devices)
        evaluation_runs, heldout = evaluations
        options.append((trial_seconds(timing, totals, evaluation_runs, factor, cap_s, heldout),
                        trial_seconds(timing, totals, evaluation_runs, factor, None, heldout),
                        timing, totals, evaluations, factor, config))
    seconds, uncut, timing, totals, evaluations, factor, config = max(
        options, key=lambda option: option[0])
    phase_seconds = {phase: factor * timing.phases[phase].step_s
                     for phase in PHASES if totals[phase]}
    phase_seconds["evaluation"] = factor * (timing.phases["evaluation"].step_s
                                            + timing.render_s)
    steps_s = sum(totals[p] * phase_seconds[p] for p in PHASES if totals[p])
    evaluations, heldout = evaluations
    if heldout:
        phase_seconds[HELDOUT] = factor * timing.phases[HELDOUT].step_s
        steps_s += heldout * phase_seconds[HELDOUT]
    phase_seconds["setup"] = max(0.0, uncut - steps_s - evaluations * phase_seconds["evaluation"])
    return PointPlan(point.name, point.cells, phase_seconds, seconds, uncut, config.gan_steps)


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
