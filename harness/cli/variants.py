"""`samplegan variants`: the registry's variants and what each overrides of `paper`."""

from __future__ import annotations

import click

from harness.cli.options import emit_json, json_option


@click.command()
@json_option()
def variants(as_json: bool) -> None:
    """List the registry's variants and what each overrides of `paper`."""
    from models.registry import describe_all

    described = describe_all()
    if as_json:
        emit_json({"variants": described})
        return
    width = max(len(v["name"]) for v in described)
    for variant in described:
        overrides = ", ".join(f"{k}={v}" for k, v in variant["overrides"].items()) or "(paper defaults)"
        click.echo(f"{variant['name']:<{width}}  {overrides}")
        click.echo(f"{'':<{width}}  {variant['description']}")
