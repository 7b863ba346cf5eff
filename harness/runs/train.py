"""One tracked training run: a `TrainRequest` in, a complete MLflow run out.

Used by `samplegan train` and by every study trial. Bad input (unknown variant or
key, unusable dataset) fails before a run is created, so nothing half-made appears
in the store.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from harness.common.files import store_dir
from harness.common.host import host_info
from harness.common.quiet_tf import import_tensorflow_quietly
from harness.common.signals import Terminated, install_stop_handlers, raise_if_stop_requested
from harness.data.evaluation_audio import evaluation_segments, evaluation_split, reference_clips
from harness.data.loader import Dataset, load_dataset, manifest_sha256
from harness.evaluation import catalogue
from harness.tracking.run_page import PitchSection, evaluation_row, pitch_section, render_evaluation
from harness.tracking.store import OUTCOME_TAG, TrackedRun, TrackingStore, get_run, param_text
from harness.training.events import (
    Evaluation,
    RunOptions,
    StopTraining,
    TrainingObserver,
    TrainingResult,
)
from harness.training.schedule import check_dataset
from models.config import SampleGANConfig
from models.errors import SampleGanError
from models.registry import resolve

REPO_ROOT = Path(__file__).resolve().parents[2]
INTERRUPTED_AT_TAG = "samplegan.interrupted_at"  # e.g. "gan step 44", where a resume continues
QUALITY_REFERENCE_TAG = "samplegan.quality_reference"  # "holdout", or "train" without a held-out split
MUSIC_TAG = "samplegan.music"  # "computed: ..." or "skipped: <why>" (`MusicPlan.status`)
MUSIC_FLOOR_NOTES_TAG = "samplegan.music_floor_notes"  # JSON {metric: why its floor gives no verdict}
MODEL_ID_TAG = "samplegan.model_id"  # the run's MLflow logged model: `models:/<id>`
STOPPED_EARLY = "stopped_early"  # the outcome of a run its time budget ended; `--resume` continues it
QUALITY_ON_TRAIN_AUDIO = ("quality is measured against the TRAINING audio: the dataset holds "
                          "nothing out")


def provenance() -> dict[str, str]:
    """Git commit and dirtiness of the harness source, and the versions that matter."""
    info: dict[str, str] = {}
    try:
        commit = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"],
                                capture_output=True, text=True, check=True, timeout=10)
        status = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, check=True, timeout=10)
        info["git_commit"] = commit.stdout.strip()
        info["git_dirty"] = str(bool(status.stdout.strip())).lower()
    except (OSError, subprocess.SubprocessError):
        info["git_commit"] = "unknown"
        info["git_dirty"] = "unknown"
    for package in ("tensorflow", "keras", "mlflow", "optuna", "samplegan-lab"):
        try:
            info[f"version.{package}"] = metadata.version(package)
        except metadata.PackageNotFoundError:
            info[f"version.{package}"] = "not installed"
    info.update(host_info())
    return info


def training_params(variant: str, overrides: Mapping[str, Any], config: SampleGANConfig,
                    dataset: Dataset, seed: int, source: Mapping[str, str]) -> dict[str, Any]:
    """Everything needed to reproduce the run, as flat MLflow params; `source` is
    `provenance()`."""
    params: dict[str, Any] = {
        "variant": variant,
        "overrides": json.dumps(dict(overrides), sort_keys=True),
        "seed": seed,
        "dataset.path": str(Path(dataset.path).resolve()),
        "dataset.manifest_sha256": manifest_sha256(dataset.path),
        "dataset.train_segments": len(dataset.train),
        "dataset.holdout_segments": len(dataset.holdout),
    }
    params.update({f"config.{key}": value for key, value in config.to_dict().items()})
    params.update(source)
    return params


METRICS_EVERY_STEPS = 10  # per-step metrics reach MLflow as means over this many steps


class MlflowObserver(TrainingObserver):
    """Sends training metrics and evaluations to a `TrackedRun`; forwards to `extra`.

    Per-step metrics are logged as the mean of each window of `metrics_every` steps, at
    the window's last step (partial windows at every checkpoint), like Lightning's
    `log_every_n_steps`: a point per step costs a database row per metric and makes the
    curves no clearer. The in-memory history (dynamics, training curves) keeps every step.
    Keeps the files of the latest evaluation so the run's `final/` page reuses them
    instead of drawing the same figure again.
    """

    def __init__(self, run: TrackedRun, extra: TrainingObserver | None = None,
                 metrics_every: int = METRICS_EVERY_STEPS):
        self.run = run
        self.extra = extra or TrainingObserver()
        self.metrics_every = metrics_every
        self.evaluation_rows: list[dict[str, Any]] = []
        self.latest: tuple[int, tempfile.TemporaryDirectory] | None = None
        self._window: dict[str, list[float]] = {}
        self._window_step = 0
        self._music_floor_notes: dict[str, str] | None = None

    def on_metrics(self, phase: str, step: int, metrics: dict[str, float]) -> None:
        for key, value in metrics.items():
            self._window.setdefault(key, []).append(value)
        self._window_step = step
        if (step + 1) % self.metrics_every == 0:
            self._log_window()
        self.extra.on_metrics(phase, step, metrics)

    def _log_window(self) -> None:
        if self._window:
            means = {key: sum(values) / len(values) for key, values in self._window.items()}
            self.run.log_metrics(means, self._window_step)
            self._window = {}

    def on_checkpoint(self, phase: str, step: int) -> None:
        self._log_window()
        self.run.flush()
        self.extra.on_checkpoint(phase, step)

    def on_evaluation(self, evaluation: Evaluation) -> None:
        self.run.log_metrics(evaluation.metrics(), evaluation.step)
        if evaluation.music and evaluation.music_floor_notes != self._music_floor_notes:
            # The same for every evaluation of a run (fixed count, length and seed): one tag.
            self._music_floor_notes = evaluation.music_floor_notes
            self.run.set_tags({MUSIC_FLOOR_NOTES_TAG: json.dumps(evaluation.music_floor_notes)})
        self.run.flush()
        self.evaluation_rows.append(evaluation_row(evaluation))
        self.run.in_background(self._render_and_log, evaluation)  # training goes on meanwhile
        self.extra.on_evaluation(evaluation)

    def _render_and_log(self, evaluation: Evaluation) -> None:
        rendered = tempfile.TemporaryDirectory(prefix="samplegan-eval-")
        render_evaluation(evaluation, Path(rendered.name))
        self.run.log_artifacts(Path(rendered.name), f"eval/step_{evaluation.step:06d}")
        self._drop_latest()
        self.latest = (evaluation.step, rendered)

    def rendered(self, step: int) -> Path | None:
        """The folder of the evaluation at `step`, if it is the latest one."""
        if self.latest is not None and self.latest[0] == step:
            return Path(self.latest[1].name)
        return None

    def close(self) -> None:
        """Log the last partial window of step metrics; drop the kept evaluation files."""
        self._log_window()
        with contextlib.suppress(Exception):  # a write error is raised when the run ends
            self.run.sync()  # the writer thread may still be rendering into `latest`
        self._drop_latest()

    def _drop_latest(self) -> None:
        if self.latest is not None:
            self.latest[1].cleanup()
            self.latest = None


def _check_resumable(store: TrackingStore, run_id: str, params: Mapping[str, Any],
                     soft: frozenset[str]) -> None:
    """Refuse, before the run is touched, to resume it with other settings than it had
    (`soft` keys, the provenance, may differ)."""
    logged = get_run(store, run_id).data.params
    for key, value in params.items():
        text = param_text(value)
        if key in logged and key not in soft and logged[key] != text:
            raise SampleGanError(
                f"run {run_id} has {key}={logged[key]!r}, not {text!r}; resume with the same "
                "variant, --set values, data and seed"
            )


@dataclass(frozen=True)
class TrainRequest:
    """One tracked training run: what it trains, where it is recorded, how it runs.

    Attributes:
        experiment: the MLflow experiment the run belongs to.
        variant: the registry variant (`samplegan variants`).
        overrides: config values changed from the variant's.
        dataset: the dataset folder, loaded and checked against the variant before any run
            exists; or the dataset already loaded and checked (`samplegan train` checks it
            before it opens a store).
        seed: the run's random seed.
        max_minutes: wall-clock budget of the whole run in minutes; None = no limit.
        resume_run_id: continue this run from its checkpoint instead of creating one.
        parent_run_id: nest the new run under this one (a study's parent run).
        tags: more MLflow tags of the run.
        run_name: the MLflow run name; None names it after the variant.
        progress: tqdm bars on stderr.
    """

    experiment: str
    variant: str
    overrides: Mapping[str, Any]
    dataset: Path | Dataset
    seed: int = 0
    max_minutes: float | None = None
    resume_run_id: str | None = None
    parent_run_id: str | None = None
    tags: Mapping[str, str] | None = None
    run_name: str | None = None
    progress: bool = True


@dataclass
class TrainingOutcome:
    run_id: str
    result: TrainingResult | None
    pruned_reason: str | None = None


def _checked_inputs(store: TrackingStore, request: TrainRequest,
                    ) -> tuple[SampleGANConfig, Dataset, dict[str, Any], frozenset[str], str]:
    """The config, dataset, run parameters, their soft (provenance) keys and the quality
    reference split of a run, checked before any run exists; warns when quality can only
    be measured on training audio."""
    config = resolve(request.variant, request.overrides)
    dataset = request.dataset
    if not isinstance(dataset, Dataset):
        dataset = load_dataset(dataset)
        check_dataset(config, dataset)  # the one check: `Trainer` trusts its dataset
    source = provenance()  # runs git: once per run
    soft_keys = frozenset(source)
    params = training_params(request.variant, request.overrides, config, dataset, request.seed,
                             source)
    if request.resume_run_id:
        _check_resumable(store, request.resume_run_id, params, soft_keys)
    reference_split = evaluation_split(dataset)
    if reference_split == "train":
        print(f"warning: {dataset.path}: {QUALITY_ON_TRAIN_AUDIO}, so quality/* flatters the "
              "model; import with --holdout-fraction > 0 and two or more recordings",
              file=sys.stderr)
    return config, dataset, params, soft_keys, reference_split


def _note_resume(run: TrackedRun, trainer) -> None:
    """Tag and say so when the trainer continues from a checkpoint."""
    if trainer.resumed_from:
        run.set_tags({"samplegan.resumed_from_checkpoint": trainer.resumed_from})
        print(f"resuming MLflow run {run.run_id} from its checkpoint at {trainer.position()}",
              file=sys.stderr)


def tracked_training(store: TrackingStore, request: TrainRequest, *,
                     extra_observer: TrainingObserver | None = None,
                     on_run_started: Callable[[str], None] | None = None) -> TrainingOutcome:
    """Train the request's variant + overrides on its dataset inside one MLflow run of `store`
    with a truthful status.

    `extra_observer` sees every training event after the run's own; `on_run_started` gets the
    run id as soon as the run exists.

    Raises:
        SampleGanError: bad variant, override or dataset (before any run exists).
        StopTraining: the extra observer stopped the run (it is still FINISHED, tagged pruned).
    """
    variant, overrides = request.variant, request.overrides
    config, dataset, params, soft_keys, reference_split = _checked_inputs(store, request)
    import_tensorflow_quietly()  # only once the inputs are known to be good
    params.update(host_info())  # now TensorFlow can say which GPUs there are
    from harness.training.trainer import Trainer

    install_stop_handlers()
    raise_if_stop_requested()  # Ctrl-C during start-up: leave no run behind
    run = TrackedRun.start(store, request.experiment, run_name=request.run_name or variant,
                           tags={"samplegan.variant": variant, **(request.tags or {})},
                           parent_run_id=request.parent_run_id,
                           resume_run_id=request.resume_run_id)
    if on_run_started:
        on_run_started(run.run_id)
    pruned: StopTraining | None = None
    result: TrainingResult | None = None
    with run:
        run.log_params(params, soft_keys=soft_keys)
        _log_dataset(run, dataset, params)
        run.set_tags({"mlflow.source.git.commit": params["git_commit"], OUTCOME_TAG: "running",
                      QUALITY_REFERENCE_TAG: reference_split})
        run.log_text(config.to_json(), "config.json")
        observer = MlflowObserver(run, extra_observer)
        trainer = Trainer(config, dataset, store_dir() / "work" / run.run_id, observer,
                          RunOptions(seed=request.seed, max_minutes=request.max_minutes,
                                     progress=request.progress))
        _note_resume(run, trainer)
        run.set_tags({MUSIC_TAG: trainer.music.status})
        try:
            try:
                result = trainer.run()
            except (KeyboardInterrupt, Terminated):
                with contextlib.suppress(Exception):  # the run must still end KILLED
                    run.set_tags({INTERRUPTED_AT_TAG: trainer.position()})
                raise
            except StopTraining as stop:
                pruned = stop
                run.set_tags({OUTCOME_TAG: "pruned", "samplegan.prune_reason": stop.reason})
            _log_final(run, trainer, observer, run.name or request.run_name or variant, variant,
                       overrides, pruned, result)
        finally:
            observer.close()
    if pruned is not None:
        raise pruned
    return TrainingOutcome(run.run_id, result)


def _log_dataset(run: TrackedRun, dataset: Dataset, params: Mapping[str, Any]) -> None:
    """The dataset as the run's MLflow input, named by its folder, its digest the manifest's."""
    folder = Path(dataset.path).resolve()
    run.log_dataset(folder.name, params["dataset.manifest_sha256"], folder.as_uri(), {
        "sample_rate_hz": dataset.sample_rate, "n": dataset.n,
        "train_segments": len(dataset.train), "holdout_segments": len(dataset.holdout),
        "manifest_sha256": params["dataset.manifest_sha256"]})


def _log_model(run: TrackedRun, model_dir: Path, step: int, variant: str,
               overrides: Mapping[str, Any]) -> None:
    """The exported model as the run's MLflow model (listed on its page; `models:/ID` loads
    it), its id as tag `samplegan.model_id`."""
    from harness.tracking.pyfunc_model import log_generator_model
    from harness.tracking.store import retrying

    experiment_id = retrying(run.client.get_run, run.run_id).info.experiment_id
    model_id = log_generator_model(run.client, experiment_id, run.run_id, model_dir, step, {
        "variant": variant, "overrides": json.dumps(dict(overrides), sort_keys=True)})
    run.set_tags({MODEL_ID_TAG: model_id})


def _log_final(run: TrackedRun, trainer, observer: MlflowObserver, run_name: str, variant: str,
               overrides: Mapping[str, Any], pruned: StopTraining | None,
               result: TrainingResult | None) -> None:
    """The final model, training curves, dynamics and the run's HTML page.

    The page is titled with the run's name (a study trial's names its grid point) and lists
    the variant's overrides, so it says which model it shows.
    """
    from harness.evaluation.dynamics import diagnose_training, gan_history
    from harness.tracking.run_figures import plot_training_curves

    run.flush()
    run.sync()  # the last evaluation's files, which `final/` reuses, and its metrics
    # From the store, not from this process's evaluations: a resumed run has them all.
    likelihood = {**run.metric_histories(f"{catalogue.LIKELIHOOD.name}/"),
                  **run.metric_histories(catalogue.PRETRAIN_HELDOUT_LOSS.key)}

    with tempfile.TemporaryDirectory(prefix="samplegan-final-") as temp:
        folder = Path(temp)
        trainer.model.save(folder / "model", trainer.seed_bank())
        run.log_artifacts(folder / "model", "model")
        _log_model(run, folder / "model", int(trainer.steps["gan"].numpy()), variant, overrides)
        curves = plot_training_curves(trainer.history, folder / "training_curves.png",
                                      likelihood).path
        run.log_artifact(curves)
        run.log_json(diagnose_training(gan_history(trainer.history)), "dynamics.json")
        if trainer.evaluations:
            last = trainer.evaluations[-1]
            outcome = "pruned" if pruned else (STOPPED_EARLY if result and result.stopped_early
                                               else "completed")
            summary = {"run name": run_name, "variant": variant,
                       "overrides": ", ".join(f"{key}={value}" for key, value in overrides.items())
                       or "none",
                       "run id": run.run_id, "outcome": outcome,
                       "final label": last.diagnosis.label,
                       "collapsed share": last.diagnosis.metrics.get("collapsed_share"),
                       "steps": ", ".join(f"{phase} {int(steps.numpy())}"
                                          for phase, steps in trainer.steps.items()),
                       "quality measured on": ("held-out audio"
                                               if evaluation_split(trainer.dataset) == "holdout"
                                               else QUALITY_ON_TRAIN_AUDIO),
                       "music metrics": trainer.music.status}
            if last.music_floor_notes:
                summary["music floors withheld"] = "; ".join(
                    f"{name}: {why}" for name, why in last.music_floor_notes.items())
            render_evaluation(last, folder / "final", summary=summary,
                              history_rows=observer.evaluation_rows, curves_png=curves,
                              reuse=observer.rendered(last.step),
                              pitch=lambda final: _pitch_section(trainer, last, final))
            run.log_artifacts(folder / "final", "final")
            run.set_tags({
                OUTCOME_TAG: outcome,
                "samplegan.final_label": last.diagnosis.label,
                "samplegan.final_collapsed_share": last.diagnosis.metrics.get("collapsed_share"),
            })
            if result and result.stopped_early:
                run.set_tags({"samplegan.stopped_early": result.stopped_early})


def _pitch_section(trainer, last: Evaluation, folder: Path) -> PitchSection:
    """The final page's pitch track: generated clip 0 beside the first real clip of the same
    length that the quality metrics compare with (`reference_clips`)."""
    split = evaluation_split(trainer.dataset)
    real = reference_clips(trainer.dataset, last.clips.shape[1],
                           evaluation_segments(trainer.dataset, trainer.options.seed))
    return pitch_section(last, real[0] if len(real) else None, folder,
                         "held-out" if split == "holdout" else "training")


def train_command(*, variant: str, data_dir: Path, assignments: list[str], seed: int,
                  resume_run: str | None, max_minutes: float | None, tracking_uri: str | None,
                  experiment: str) -> str:
    """`samplegan train`: returns the run id (printed as the last line of stdout)."""
    from models.registry import parse_overrides

    overrides = parse_overrides(assignments)
    config = resolve(variant, overrides)  # fail on bad input before touching any store
    if not Path(data_dir).is_dir():
        raise SampleGanError(f"dataset folder {data_dir} does not exist; create it with "
                             "`samplegan data synth` or `samplegan data import`")
    dataset = load_dataset(data_dir)
    check_dataset(config, dataset)  # the one check, before any store is touched
    store = TrackingStore.open(tracking_uri)
    if resume_run:
        _check_unfinished(get_run(store, resume_run))
    started: list[str] = []
    try:
        outcome = tracked_training(store, TrainRequest(
            experiment=experiment, variant=variant, overrides=overrides, dataset=dataset,
            seed=seed, max_minutes=max_minutes, resume_run_id=resume_run),
            on_run_started=started.append)
    except SampleGanError as error:
        if not started:
            raise
        raise SampleGanError(f"{error} (MLflow run {started[0]} marked FAILED)") from None
    except (KeyboardInterrupt, Terminated):
        if started:
            where = get_run(store, started[0]).data.tags.get(INTERRUPTED_AT_TAG)
            saved = f"at {where}, checkpoint saved" if where else "before training started"
            print(f"interrupted {saved}: MLflow run {started[0]} marked KILLED; resume it with "
                  f"the same arguments and --resume {started[0]}", file=sys.stderr)
        raise
    result = outcome.result
    if result is not None and result.evaluations:
        print(final_summary(result.evaluations[-1], config.output_head, result.music_status),
              file=sys.stderr)
    if result is not None and result.stopped_early:
        print(f"{result.stopped_early}: MLflow run {outcome.run_id} is evaluated and FINISHED; "
              f"continue it with the same arguments and --resume {outcome.run_id}",
              file=sys.stderr)
    return outcome.run_id


def _check_unfinished(run) -> None:
    """Refuse to resume a run that trained to its end (a run its time budget stopped is
    FINISHED too, but has steps left)."""
    if run.info.status == "FINISHED" and run.data.tags.get(OUTCOME_TAG) != STOPPED_EARLY:
        raise SampleGanError(f"run {run.info.run_id} already FINISHED; there is nothing to resume")


def final_summary(evaluation: Evaluation, output_head: str, music_status: str = "") -> str:
    """One line of a run's last evaluation: its label and healthy share, MR-LSD beside its
    real-vs-real floor, the notes summary beside its floor (or why music was skipped), and
    the held-out gain over linear prediction (in nats per sample for the mu-law head, in MSE
    for the tanh head: `harness.evaluation.likelihood`)."""
    diagnosis = evaluation.diagnosis.metrics
    parts = [f"final evaluation {evaluation.moment}: {evaluation.diagnosis.label}, "
             f"{diagnosis.get('share_healthy', 0.0):.0%} of clips healthy"]
    mr_lsd, floor = (evaluation.quality.get(key) for key in ("mr_lsd_db", "mr_lsd_db_real_vs_real"))
    if mr_lsd is not None:
        parts.append(f"MR-LSD {mr_lsd:.2f} dB" + (
            f" (real-vs-real floor {floor:.2f} dB; lower is better)" if floor is not None else ""))
    notes = catalogue.NOTES_SUMMARY
    if evaluation.music.get(notes.name) is not None:
        p95 = evaluation.music.get(notes.name + catalogue.FLOOR_PARTS["p95"])
        parts.append(f"notes summary {notes.format(evaluation.music[notes.name])} "
                     f"(1 = as close as real audio; floor p95 "
                     f"{notes.format(p95) if p95 is not None else 'withheld'})")
    elif music_status.startswith("skipped"):
        parts.append(f"music metrics {music_status}")
    gain = evaluation.likelihood.get("gain_over_linear")
    if gain is not None:
        unit = "nats/sample" if output_head == "mulaw" else "MSE"
        parts.append(f"held-out gain over linear prediction {gain:+.3g} {unit} (> 0: beats it)")
    return "; ".join(parts)
