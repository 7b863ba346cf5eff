"""`samplegan study run|plan|status`: launch, resume, plan and inspect Optuna studies."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from harness.cli.options import (
    emit_json,
    json_option,
    storage_option,
    tracking_uri_option,
    worker_options,
)


@click.group()
def study() -> None:
    """Launch, resume and inspect Optuna studies of Sample-GAN variants."""


@study.command("run")
@click.argument("spec", type=click.Path(path_type=Path))
@worker_options
@storage_option()
@tracking_uri_option()
@click.option("--yes", is_flag=True,
              help="Start even when the plan exceeds the spec's budget (minutes_per_trial, "
                   "timeout_minutes, max_hours).")
def study_run(spec: Path, workers: int | None, gpus: str | None, storage: str | None,
              tracking_uri: str | None, yes: bool) -> None:
    """Launch the study in SPEC (TOML), or resume it if it exists; prints the plan's total
    first and refuses a study predicted to exceed its budget unless --yes."""
    from harness.study.launcher import run_study

    code = run_study(spec, workers=workers, gpus=gpus, storage=storage, tracking_uri=tracking_uri,
                     yes=yes)
    sys.exit(code)


@study.command("plan")
@click.argument("spec", type=click.Path(path_type=Path))
@worker_options
@storage_option("Optuna storage URL; cells already done there are not planned "
                "[default: journal file in ./mlruns].")
@json_option()
def study_plan(spec: Path, workers: int | None, gpus: str | None, storage: str | None,
               as_json: bool) -> None:
    """Predicted time per grid point, per trial and in total, from real calibration steps
    of the study's models (progress on stderr; timings cached under ./mlruns)."""
    from harness.study.calibration import progress
    from harness.study.launcher import plan_workers
    from harness.study.optuna_storage import open_storage_to_read
    from harness.study.plan import format_plan, plan_study
    from harness.study.prepared_data import prepare_datasets
    from harness.study.spec import load_spec

    loaded = load_spec(spec)
    worker_envs = plan_workers(workers, gpus)
    opened = open_storage_to_read(storage, loaded.storage)
    plan = plan_study(loaded, spec, worker_envs, opened, prepare_datasets(loaded, log=progress))
    if as_json:
        emit_json(plan.to_json())
    else:
        click.echo(format_plan(plan))


@study.command("status")
@click.argument("name")
@storage_option()
@json_option()
def study_status(name: str, storage: str | None, as_json: bool) -> None:
    """Progress of study NAME: trials by state per grid point, best so far, time used and
    predicted time left."""
    from harness.study.status import format_status
    from harness.study.status import study_status as get_status

    status = get_status(name, storage=storage)
    if as_json:
        emit_json(status)
    else:
        click.echo(format_status(status))
