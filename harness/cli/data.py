"""`samplegan data import|synth`: build a dataset from audio files or the built-in corpus."""

from __future__ import annotations

from pathlib import Path

import click

from harness.cli.options import SAMPLE_RATE_CHOICE, emit_json, json_option


@click.group()
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
@json_option("the manifest as one JSON object")
def data_import(sources: tuple[Path, ...], out: Path, sample_rate: str, n: int, stride: int | None,
                drop_silence_db: float | None, holdout_fraction: float, seed: int, force: bool,
                as_json: bool) -> None:
    """Decode mp3/wav/ogg/flac SOURCES (files or folders) into a segmented dataset."""
    from harness.data.dataset import summarize_manifest
    from harness.data.importer import import_audio

    manifest = import_audio(
        list(sources), out, sample_rate_hz=int(sample_rate), n=n, stride=stride,
        drop_silence_db=drop_silence_db, holdout_fraction=holdout_fraction, seed=seed, force=force,
    )
    if as_json:
        emit_json(manifest)
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
@json_option("the manifest as one JSON object")
def data_synth(out: Path, seconds: float, sample_rate: str, n: int, pieces: int,
               holdout_fraction: float, seed: int, force: bool, as_json: bool) -> None:
    """Write the built-in corpus (plucked-string melodies and chords) as a dataset."""
    from harness.data.corpus import synthesize_dataset
    from harness.data.dataset import summarize_manifest

    manifest = synthesize_dataset(
        out, seconds=seconds, sample_rate_hz=int(sample_rate), n=n, pieces=pieces,
        holdout_fraction=holdout_fraction, seed=seed, force=force,
    )
    if as_json:
        emit_json(manifest)
    else:
        click.echo(summarize_manifest(manifest, out))
