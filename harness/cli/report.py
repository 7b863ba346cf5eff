"""`samplegan report`: the ablation report of a study."""

from __future__ import annotations

from pathlib import Path

import click

from harness.cli.options import storage_option, tracking_uri_option


@click.command()
@click.argument("study_name", metavar="STUDY")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Report folder [default: reports/STUDY].")
@storage_option()
@tracking_uri_option()
def report(study_name: str, out: Path | None, storage: str | None, tracking_uri: str | None) -> None:
    """Write the ablation report of STUDY (Markdown + HTML + plots) and print its path."""
    from harness.report.build import write_report

    path = write_report(study_name, out=out, storage=storage, tracking_uri=tracking_uri)
    click.echo(str(path))
