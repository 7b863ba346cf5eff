"""`samplegan bench generation|train`: speed benchmarks."""

from __future__ import annotations

import click

from harness.cli.options import emit_json, json_option


@click.group()
def bench() -> None:
    """Speed benchmarks."""


@bench.command("generation")
@json_option()
@click.option("--quick", is_flag=True, help="Small sizes, for a smoke check of the benchmark itself.")
def bench_generation(as_json: bool, quick: bool) -> None:
    """Samples per second: the paper's predict-per-sample loop, then both LSTM modes at
    batch 1 and 64 (paper sizes, untrained weights; progress on stderr)."""
    from harness.training.bench import format_generation_bench, run_generation_bench

    result = run_generation_bench(quick=quick)
    if as_json:
        emit_json(result)
    else:
        click.echo(format_generation_bench(result))


@bench.command("train")
@json_option()
@click.option("--quick", is_flag=True, help="Small sizes, for a smoke check of the benchmark itself.")
def bench_train(as_json: bool, quick: bool) -> None:
    """Seconds per generator and discriminator step, and peak memory, of both LSTM modes
    (batch 16, n = 500; each mode in its own process; progress on stderr)."""
    from harness.training.bench import format_train_bench, run_train_bench

    result = run_train_bench(quick=quick)
    if as_json:
        emit_json(result)
    else:
        click.echo(format_train_bench(result))
