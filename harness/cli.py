"""The `samplegan` command line: one click group per stage, thin wrappers over `harness`.

Heavy imports (TensorFlow, MLflow, Optuna) happen inside the commands so that
`samplegan --help` and the data commands start fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from harness.errors import SampleGanError
from harness.quiet_tf import quiet_library_logging
from harness.stopping import install_stop_handlers
from harness.tracking import store_dir
from harness.ui import DASHBOARD_PORT, MLFLOW_PORT

SAMPLE_RATE_CHOICE = click.Choice(["16000", "44100"])
STOPPABLE_COMMANDS = ("train", "generate")  # they stop between steps on Ctrl-C / SIGTERM


def _tracking_uri_option(what: str = "MLflow tracking URI"):
    """--tracking-uri, one definition for every command; the help names the actual default."""
    return click.option(
        "--tracking-uri", default=None, envvar="MLFLOW_TRACKING_URI",
        help=f"{what} [default: $MLFLOW_TRACKING_URI, else the SQLite store "
             f"{store_dir() / 'mlflow.db'} ($SAMPLEGAN_STORE_DIR or ./mlruns)].")


def _storage_option():
    """--storage, one definition for every command; the help names the actual default."""
    return click.option(
        "--storage", default=None, envvar="SAMPLEGAN_STORAGE",
        help="Optuna storage URL, e.g. postgresql://host/db [default: $SAMPLEGAN_STORAGE, else "
             f"the journal file {store_dir() / 'optuna.journal'}].")


def _worker_options(command):
    """--workers and --gpus, as `study run` and `study plan` both take them."""
    command = click.option(
        "--gpus", default=None, metavar="LIST",
        help="Comma-separated GPU ids, or 'all': one worker per GPU (CUDA_VISIBLE_DEVICES).")(command)
    return click.option(
        "--workers", type=click.IntRange(min=1), default=None,
        help="Worker processes on this machine [default: 1, or one per GPU with --gpus].")(command)


def _emit_json(payload: object) -> None:
    click.echo(json.dumps(payload, indent=None, sort_keys=False, default=str))


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="samplegan-lab")
def cli() -> None:
    """Sample-GAN Lab: reproduce and ablate Sample-GAN, a raw-waveform music GAN.

    Typical session: `samplegan study run studies/smoke.toml`, then
    `samplegan report smoke`, then `samplegan ui` to browse the runs.
    """


# --------------------------------------------------------------------------- data
@cli.group()
def data() -> None:
    """Build datasets: import audio files or synthesise the built-in corpus."""


@data.command("import")
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Dataset folder to create.")
@click.option("--sample-rate", "sample_rate", required=True, type=SAMPLE_RATE_CHOICE,
              help="Target rate in Hz; inputs are resampled with an anti-aliased polyphase filter.")
@click.option("--n", "n", required=True, type=click.IntRange(min=8), help="Segment length in samples.")
@click.option("--stride", type=click.IntRange(min=1), default=None,
              help="Hop between segments in samples [default: n, as the paper].")
@click.option("--drop-silence-db", type=float, default=None,
              help="Drop segments whose RMS is below this level in dBFS (e.g. -50). Off by default.")
@click.option("--holdout-fraction", type=click.FloatRange(0.0, 0.9), default=0.2, show_default=True,
              help="Share of source files (never segments) held out for evaluation.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the held-out split.")
@click.option("--force", is_flag=True, help="Replace an existing output folder.")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as one JSON object.")
def data_import(sources: tuple[Path, ...], out: Path, sample_rate: str, n: int, stride: int | None,
                drop_silence_db: float | None, holdout_fraction: float, seed: int, force: bool,
                as_json: bool) -> None:
    """Decode mp3/wav/ogg/flac SOURCES (files or folders) into a segmented dataset."""
    from harness.dataset import import_audio, summarize_manifest

    manifest = import_audio(
        list(sources), out, sample_rate_hz=int(sample_rate), n=n, stride=stride,
        drop_silence_db=drop_silence_db, holdout_fraction=holdout_fraction, seed=seed, force=force,
    )
    if as_json:
        _emit_json(manifest)
    else:
        click.echo(summarize_manifest(manifest, out))


@data.command("synth")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Dataset folder to create.")
@click.option("--seconds", type=click.FloatRange(min=0.1), default=60.0, show_default=True,
              help="Total seconds of music across all pieces.")
@click.option("--sample-rate", "sample_rate", type=SAMPLE_RATE_CHOICE, default="16000", show_default=True)
@click.option("--n", "n", type=click.IntRange(min=8), default=500, show_default=True,
              help="Segment length in samples.")
@click.option("--pieces", type=click.IntRange(min=1), default=8, show_default=True,
              help="Number of separate pieces (the held-out split is by piece).")
@click.option("--holdout-fraction", type=click.FloatRange(0.0, 0.9), default=0.25, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the corpus and split.")
@click.option("--force", is_flag=True, help="Replace an existing output folder.")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as one JSON object.")
def data_synth(out: Path, seconds: float, sample_rate: str, n: int, pieces: int,
               holdout_fraction: float, seed: int, force: bool, as_json: bool) -> None:
    """Write the built-in corpus (plucked-string melodies and chords) as a dataset."""
    from harness.corpus import synthesize_dataset
    from harness.dataset import summarize_manifest

    manifest = synthesize_dataset(
        out, seconds=seconds, sample_rate_hz=int(sample_rate), n=n, pieces=pieces,
        holdout_fraction=holdout_fraction, seed=seed, force=force,
    )
    if as_json:
        _emit_json(manifest)
    else:
        click.echo(summarize_manifest(manifest, out))


# ----------------------------------------------------------------------- variants
@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def variants(as_json: bool) -> None:
    """List the registry's variants and what each overrides of `paper`."""
    from models.registry import describe_all

    described = describe_all()
    if as_json:
        _emit_json({"variants": described})
        return
    width = max(len(v["name"]) for v in described)
    for variant in described:
        overrides = ", ".join(f"{k}={v}" for k, v in variant["overrides"].items()) or "(paper defaults)"
        click.echo(f"{variant['name']:<{width}}  {overrides}")
        click.echo(f"{'':<{width}}  {variant['description']}")


# -------------------------------------------------------------------------- train
@cli.command()
@click.option("--variant", required=True, help="Registry variant (see `samplegan variants`).")
@click.option("--data", "data_dir", required=True, type=click.Path(path_type=Path),
              help="Dataset folder from `samplegan data import|synth`.")
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE",
              help="Override a config value, e.g. --set lstm_units=16 (repeatable).")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed of the run.")
@click.option("--resume", "resume_run", default=None, metavar="RUN_ID",
              help="Continue an interrupted run from its last checkpoint.")
@click.option("--max-minutes", type=click.FloatRange(min=0.0), default=None,
              help="Stop the adversarial phase after this many minutes (the run still finishes).")
@_tracking_uri_option()
@click.option("--experiment", default="samplegan", show_default=True, help="MLflow experiment name.")
def train(variant: str, data_dir: Path, assignments: tuple[str, ...], seed: int,
          resume_run: str | None, max_minutes: float | None, tracking_uri: str | None,
          experiment: str) -> None:
    """Train the autoencoder, then the GAN; print the MLflow run id as the last line."""
    from harness.tracked_training import train_command

    run_id = train_command(
        variant=variant, data_dir=data_dir, assignments=list(assignments), seed=seed,
        resume_run=resume_run, max_minutes=max_minutes, tracking_uri=tracking_uri,
        experiment=experiment,
    )
    click.echo(run_id)


# ----------------------------------------------------------------------- generate
@cli.command()
@click.option("--run", "run_id", required=True, help="MLflow run id of a finished training run.")
@click.option("--seconds", type=click.FloatRange(min=0.001), required=True, help="Length of audio.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="WAV file to write.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the seed segment and sampling.")
@_tracking_uri_option()
def generate(run_id: str, seconds: float, out: Path, seed: int, tracking_uri: str | None) -> None:
    """Write SECONDS of 16-bit audio from a trained run."""
    from harness.generation import generate_command

    generate_command(run_id=run_id, seconds=seconds, out=out, seed=seed, tracking_uri=tracking_uri)
    click.echo(str(out))


# ----------------------------------------------------------------------- diagnose
@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--n", "n", required=True, type=click.IntRange(min=1),
              help="The generator's window in samples (onset/n is reported against it).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def diagnose(files: tuple[Path, ...], n: int, as_json: bool) -> None:
    """Collapse diagnostics (label, onset, levels, spectra) for audio FILES."""
    from harness.diagnose_command import diagnose_files, format_table

    result = diagnose_files(list(files), n=n)
    if as_json:
        _emit_json(result)
    else:
        click.echo(format_table(result))
    if all(entry.get("error") for entry in result["files"]):
        raise SampleGanError("no file could be read")


# -------------------------------------------------------------------------- study
@cli.group()
def study() -> None:
    """Launch, resume and inspect Optuna studies of Sample-GAN variants."""


@study.command("run")
@click.argument("spec", type=click.Path(path_type=Path))
@_worker_options
@_storage_option()
@_tracking_uri_option()
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
@_worker_options
@click.option("--storage", default=None, envvar="SAMPLEGAN_STORAGE",
              help="Optuna storage URL; cells already done there are not planned "
                   "[default: journal file in ./mlruns].")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def study_plan(spec: Path, workers: int | None, gpus: str | None, storage: str | None,
               as_json: bool) -> None:
    """Predicted time per grid point, per trial and in total, from real calibration steps
    of the study's models (progress on stderr; timings cached under ./mlruns)."""
    from harness.study.launcher import plan_workers
    from harness.study.plan import format_plan, plan_study
    from harness.study.spec import load_spec

    loaded = load_spec(spec)
    plan = plan_study(loaded, spec, plan_workers(workers, gpus), storage=storage)
    if as_json:
        _emit_json(plan.to_json())
    else:
        click.echo(format_plan(plan))


@study.command("status")
@click.argument("name")
@_storage_option()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def study_status(name: str, storage: str | None, as_json: bool) -> None:
    """Progress of study NAME: trials by state per grid point, best so far, time used and
    predicted time left."""
    from harness.study.status import format_status
    from harness.study.status import study_status as get_status

    status = get_status(name, storage=storage)
    if as_json:
        _emit_json(status)
    else:
        click.echo(format_status(status))


# ------------------------------------------------------------------------- report
@cli.command()
@click.argument("study_name", metavar="STUDY")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Report folder [default: reports/STUDY].")
@_storage_option()
@_tracking_uri_option()
def report(study_name: str, out: Path | None, storage: str | None, tracking_uri: str | None) -> None:
    """Write the ablation report of STUDY (Markdown + HTML + plots) and print its path."""
    from harness.report import write_report

    path = write_report(study_name, out=out, storage=storage, tracking_uri=tracking_uri)
    click.echo(str(path))


# ----------------------------------------------------------------------------- ui
@cli.command()
@click.option("--port", type=int, default=MLFLOW_PORT, show_default=True, help="MLflow UI port.")
@click.option("--dashboard-port", type=int, default=DASHBOARD_PORT, show_default=True,
              help="Optuna dashboard port (when optuna-dashboard is installed).")
@_tracking_uri_option("MLflow backend store to browse, or a server's URL")
@_storage_option()
def ui(port: int, dashboard_port: int, tracking_uri: str | None, storage: str | None) -> None:
    """Serve the MLflow UI (and the Optuna dashboard) on 127.0.0.1 until Ctrl-C."""
    from harness.ui import serve

    sys.exit(serve(port=port, dashboard_port=dashboard_port, tracking_uri=tracking_uri, storage=storage))


# -------------------------------------------------------------------------- bench
@cli.group()
def bench() -> None:
    """Speed benchmarks."""


@bench.command("generation")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--quick", is_flag=True, help="Small sizes, for a smoke check of the benchmark itself.")
def bench_generation(as_json: bool, quick: bool) -> None:
    """Samples per second: the paper's predict-per-sample loop, then both LSTM modes at
    batch 1 and 64 (paper sizes, untrained weights; progress on stderr)."""
    from harness.bench import format_generation_bench, run_generation_bench

    result = run_generation_bench(quick=quick)
    if as_json:
        _emit_json(result)
    else:
        click.echo(format_generation_bench(result))


@bench.command("train")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--quick", is_flag=True, help="Small sizes, for a smoke check of the benchmark itself.")
def bench_train(as_json: bool, quick: bool) -> None:
    """Seconds per generator and discriminator step, and peak memory, of both LSTM modes
    (batch 16, n = 500; each mode in its own process; progress on stderr)."""
    from harness.bench import format_train_bench, run_train_bench

    result = run_train_bench(quick=quick)
    if as_json:
        _emit_json(result)
    else:
        click.echo(format_train_bench(result))


def main() -> None:
    """Entry point: one-line errors and non-zero exits for bad input."""
    quiet_library_logging()
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command in STOPPABLE_COMMANDS:
        # From the first moment: a Ctrl-C during start-up must not be lost (see stopping.py).
        install_stop_handlers()
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:  # click's wrapper around Ctrl-C
        click.echo("error: interrupted", err=True)
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except SampleGanError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        sys.exit(130)
    except BaseException as exc:
        from harness.stopping import Terminated

        if isinstance(exc, Terminated):
            click.echo("error: terminated", err=True)
            sys.exit(143)
        raise
