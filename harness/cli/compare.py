"""`samplegan compare`: the catalogue's audio metrics of any clips against real audio."""

from __future__ import annotations

from pathlib import Path

import click

from harness.cli.options import emit_json, json_option


@click.command()
@click.argument("generated", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--reference", "reference", multiple=True, required=True,
              type=click.Path(path_type=Path),
              help="Real audio, a file or a folder (searched recursively); repeat for more. "
                   "It is cut into clips as long as the shortest generated clip, and needs "
                   "at least twice as many of them as there are generated clips.")
@click.option("--sample-rate", "sample_rate", type=click.IntRange(min=1000), default=None,
              help="Resample every file to this rate in Hz [default: the files' own rate; "
                   "they must then all share one].")
@json_option()
def compare(generated: tuple[Path, ...], reference: tuple[Path, ...], sample_rate: int | None,
            as_json: bool) -> None:
    """Every audio metric of GENERATED clips (files or folders) next to its like-for-like
    floor drawn from the --reference audio, with a verdict per metric and each clip's
    collapse label. Reads only."""
    from harness.evaluation.compare_files import compare as compare_sets
    from harness.evaluation.compare_files import format_comparison

    result = compare_sets(list(generated), list(reference), sample_rate)
    if as_json:
        emit_json(result)
    else:
        click.echo(format_comparison(result))
