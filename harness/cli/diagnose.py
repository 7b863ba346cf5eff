"""`samplegan diagnose`: collapse diagnostics for audio files."""

from __future__ import annotations

from pathlib import Path

import click

from harness.cli.options import emit_json, json_option
from models.errors import SampleGanError


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--n", "n", required=True, type=click.IntRange(min=1),
              help="The generator's window in samples (onset/n is reported against it).")
@json_option()
def diagnose(files: tuple[Path, ...], n: int, as_json: bool) -> None:
    """Collapse diagnostics (label, onset, levels, spectra) for audio FILES."""
    from harness.evaluation.diagnose_files import diagnose_files, format_table

    result = diagnose_files(list(files), n=n)
    if as_json:
        emit_json(result)
    else:
        click.echo(format_table(result))
    if all(entry.get("error") for entry in result["files"]):
        raise SampleGanError("no file could be read")
