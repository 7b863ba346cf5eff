"""`samplegan report`: the ablation report of a study."""

from __future__ import annotations

import json
from pathlib import Path

import click

from harness.cli.options import emit_json, json_option, storage_option, tracking_uri_option


@click.command()
@click.argument("study_name", metavar="STUDY")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Report folder [default: reports/STUDY].")
@storage_option()
@tracking_uri_option()
@json_option("the report's summary (report.json) and its path as one JSON object")
def report(study_name: str, out: Path | None, storage: str | None, tracking_uri: str | None,
           as_json: bool) -> None:
    """Write the ablation report of STUDY (Markdown + HTML + plots) and print its path."""
    from harness.report.build import REPORT_MARKER, write_report

    path = write_report(study_name, out=out, storage=storage, tracking_uri=tracking_uri)
    if as_json:
        summary = json.loads((path.parent / REPORT_MARKER).read_text())
        emit_json({**summary, "report": str(path), "folder": str(path.parent)})
    else:
        click.echo(str(path))
