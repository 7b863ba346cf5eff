"""Options that several commands take, each defined once and reused as a decorator."""

from __future__ import annotations

import json

import click

from harness.common.files import store_dir

SAMPLE_RATE_CHOICE = click.Choice(["16000", "44100"])


def tracking_uri_option(what: str = "MLflow tracking URI"):
    """--tracking-uri; the help names the actual default."""
    return click.option(
        "--tracking-uri", default=None, envvar="MLFLOW_TRACKING_URI",
        help=f"{what} [default: $MLFLOW_TRACKING_URI, else the SQLite store "
             f"{store_dir() / 'mlflow.db'} ($SAMPLEGAN_STORE_DIR or ./mlruns)].")


def storage_option(help_text: str | None = None):
    """--storage; the help names the actual default unless a command says more."""
    return click.option(
        "--storage", default=None, envvar="SAMPLEGAN_STORAGE",
        help=help_text or (
            "Optuna storage URL, e.g. postgresql://host/db [default: $SAMPLEGAN_STORAGE, else "
            f"the journal file {store_dir() / 'optuna.journal'}]."))


def json_option(what: str = "one JSON object"):
    """--json: print `what` as one JSON object on stdout instead of text."""
    return click.option("--json", "as_json", is_flag=True, help=f"Print {what}.")


def worker_options(command):
    """--workers and --gpus, as `study run` and `study plan` both take them."""
    command = click.option(
        "--gpus", default=None, metavar="LIST",
        help="Comma-separated GPU ids, or 'all': one worker per GPU (CUDA_VISIBLE_DEVICES).")(command)
    return click.option(
        "--workers", type=click.IntRange(min=1), default=None,
        help="Worker processes on this machine [default: 1, or one per GPU with --gpus].")(command)


def emit_json(payload: object) -> None:
    """The one JSON object a `--json` command prints."""
    click.echo(json.dumps(payload, indent=None, sort_keys=False, default=str))
