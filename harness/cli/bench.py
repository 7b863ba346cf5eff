"""`samplegan bench generation|train`: speed benchmarks."""

from __future__ import annotations

import click

from harness.cli.options import emit_json, json_option
from models.parts import names


@click.group()
def bench() -> None:
    """Speed benchmarks."""


@bench.command("generation")
@json_option()
@click.option("--quick", is_flag=True, help="Small sizes, for a smoke check of the benchmark itself.")
def bench_generation(as_json: bool, quick: bool) -> None:
    """Samples per second: the paper's predict-per-sample loop, then every generator family at
    batch 1 and 64 (paper sizes, untrained weights; progress on stderr)."""
    from harness.training.speed import format_generation_bench, run_generation_bench

    result = run_generation_bench(quick=quick)
    if as_json:
        emit_json(result)
    else:
        click.echo(format_generation_bench(result))


@bench.command("train")
@json_option()
@click.option("--quick", is_flag=True, help="Small sizes, for a smoke check of the benchmark itself.")
@click.option("--generator", "generators", multiple=True, type=click.Choice(names("generator")),
              help="Time only this generator family (repeatable); default: every one.")
def bench_train(as_json: bool, quick: bool, generators: tuple[str, ...]) -> None:
    """Seconds per generator and discriminator step, trained samples per second, and peak
    memory, of every generator family (batch 16, n = 500; each family in its own process;
    progress on stderr)."""
    from harness.training.speed import format_train_bench, run_train_bench

    result = run_train_bench(quick=quick, generators=generators)
    if as_json:
        emit_json(result)
    else:
        click.echo(format_train_bench(result))
