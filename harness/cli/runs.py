"""`samplegan train`, `generate` and `evaluate`: one tracked training run, audio from it, and
how much its evaluation moves with the draw."""

from __future__ import annotations

from pathlib import Path

import click

from harness.cli.options import emit_json, json_option, tracking_uri_option


@click.command()
@click.option("--variant", required=True, help="Registry variant (see `samplegan variants`).")
@click.option("--data", "data_dir", required=True, type=click.Path(path_type=Path),
              help="Dataset folder from `samplegan data import|synth`.")
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE",
              help="Override a config value, e.g. --set lstm_units=16 (repeatable).")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed of the run.")
@click.option("--resume", "resume_run", default=None, metavar="RUN_ID",
              help="Continue an interrupted run, or one --max-minutes stopped, from its last "
                   "checkpoint.")
@click.option("--max-minutes", type=click.FloatRange(min=0.0), default=None,
              help="Wall-clock budget of the whole run (every phase) in minutes: when it runs "
                   "out, training stops after the step in flight, the run is evaluated, ends "
                   "FINISHED with outcome stopped_early and says how to --resume it.")
@tracking_uri_option()
@click.option("--experiment", default="samplegan", show_default=True, help="MLflow experiment name.")
def train(variant: str, data_dir: Path, assignments: tuple[str, ...], seed: int,
          resume_run: str | None, max_minutes: float | None, tracking_uri: str | None,
          experiment: str) -> None:
    """Train the autoencoder, then the GAN; print the MLflow run id as the last line.

    A one-line summary of the final evaluation goes to stderr, so stdout holds the run id
    alone."""
    from harness.runs.train import train_command

    run_id = train_command(
        variant=variant, data_dir=data_dir, assignments=list(assignments), seed=seed,
        resume_run=resume_run, max_minutes=max_minutes, tracking_uri=tracking_uri,
        experiment=experiment,
    )
    click.echo(run_id)


@click.command()
@click.option("--run", "run_id", required=True, help="MLflow run id of a finished training run.")
@click.option("--seconds", type=click.FloatRange(min=0.001), required=True, help="Length of audio.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="WAV file to write.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the seed segment and sampling.")
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE",
              help="Sample differently: mulaw_temperature or mulaw_top_p (repeatable).")
@tracking_uri_option()
def generate(run_id: str, seconds: float, out: Path, seed: int, assignments: tuple[str, ...],
             tracking_uri: str | None) -> None:
    """Write SECONDS of 16-bit audio from a trained run."""
    from harness.runs.generate import generate_command

    generate_command(run_id=run_id, seconds=seconds, out=out, seed=seed, tracking_uri=tracking_uri,
                     assignments=list(assignments))
    click.echo(str(out))


@click.command()
@click.option("--run", "run_id", required=True, help="MLflow run id of a finished training run.")
@click.option("--draws", type=click.IntRange(min=0, max=1000), default=8, show_default=True,
              help="Evaluations to draw besides the run's own (other held-out seed segments "
                   "and sampling seeds).")
@click.option("--data", "data_dir", default=None, type=click.Path(path_type=Path),
              help="The dataset folder the run trained on [default: the path the run recorded; "
                   "its manifest must match].")
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE",
              help="Score the same model sampled differently: mulaw_temperature or "
                   "mulaw_top_p (repeatable).")
@tracking_uri_option()
@json_option()
def evaluate(run_id: str, draws: int, data_dir: Path | None, assignments: tuple[str, ...],
             tracking_uri: str | None, as_json: bool) -> None:
    """Repeat a run's final evaluation from its model, then redraw it: is its MR-LSD that of
    the model, or of one draw? With --set, score the model at other sampling settings.
    Read-only."""
    from harness.runs.evaluate import evaluate_command, format_evaluation

    report = evaluate_command(run_id=run_id, draws=draws, data_dir=data_dir,
                              tracking_uri=tracking_uri, assignments=list(assignments))
    if as_json:
        emit_json(report)
    else:
        click.echo(format_evaluation(report))
