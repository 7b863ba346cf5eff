"""The catalogue's contract over a real tiny study: every entry such a run can log is logged,
shown on the run page and in the report, and a study optimises a catalogue objective."""

from __future__ import annotations

import csv
import html
import json
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from harness.evaluation import catalogue
from harness.report.music_section import MUSIC_FLOORED, PITCH_METRICS
from harness.report.reading import REPORTED_METRICS, report_column

# One grid point, two replicates (so the report's music figures have a 95% interval): a
# mu-law head (so the bits are logged), teacher forcing (the pretrain series), clips of 1 s
# (the music minimum; long enough for the Fréchet distance), a held-out piece of 8 s (8 such
# clips: enough for every floor of 3 clips), and the music family's notes summary as the
# objective. The report's music section is checked on the same study (the end of this file).
SPEC = """
name = "catalogue-contract"
base_variant = "embedded-input"
seed = 0

[dataset]
builtin = true
seconds = 32.0
pieces = 4
holdout_fraction = 0.25

[overrides]
sample_rate = 16000
n = 32
output_head = "mulaw"
lstm_units = 4
ae_levels = 1
ae_filters = 4
ae_kernel = 3
ae_steps = 2
pretrain_steps = 2
batch_size = 4
prefilter_filters = 2
prefilter_kernel = 3
prefilter_pool = 2
grad_positions = 4
eval_every = 2
generation_xla = false
eval_clips = 3
eval_samples = 16000

[design]
replicates = 2

[design.grid]
lstm_mode = ["stateful"]

[objective]
metric = "music/notes_summary"
direction = "minimize"

[budget]
gan_steps = 2

[pruner]
kind = "none"
"""
# Logged only when a clip is silent or flat-collapsed (`condition` says so).
MAY_BE_ABSENT = {catalogue.MEAN_ONSET.key}
# Logged only when the generated clips have onsets to time (`condition` says so): a decay
# needs an onset, an inter-onset interval two onsets in one clip.
NEED_AN_ONSET = {f"{catalogue.MUSIC.name}/{name}" for name in ("decay_distance", "decay_db")}
NEED_TWO_ONSETS = {f"{catalogue.MUSIC.name}/ioi_distance"}
CLIP_S = 1.0  # eval_samples / sample_rate


def _samplegan() -> list[str]:
    script = Path(sys.executable).with_name("samplegan")
    return [str(script)] if script.is_file() else [
        sys.executable, "-c", "from harness.cli.root import main; main()"]


def _run(folder: Path, *args: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items()
           if key not in ("SAMPLEGAN_STORAGE", "MLFLOW_TRACKING_URI")}
    env.update(SAMPLEGAN_STORE_DIR=str(folder / "mlruns"), TF_CPP_MIN_LOG_LEVEL="3")
    completed = subprocess.run([*_samplegan(), *args], cwd=folder, env=env, capture_output=True,
                               text=True, timeout=600, check=False)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return completed


@pytest.fixture(scope="module")
def contract_study(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("catalogue-contract")
    (folder / "spec.toml").write_text(SPEC)
    _run(folder, "study", "run", "spec.toml", "--workers", "1")
    printed = json.loads(_run(folder, "report", "catalogue-contract", "--out", "report",
                              "--json").stdout)
    client = mlflow.MlflowClient(f"sqlite:///{folder / 'mlruns' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("catalogue-contract")
    runs = [run for run in client.search_runs([experiment.experiment_id])
            if run.data.metrics]
    assert len(runs) == 2
    first = min(runs, key=lambda run: run.info.start_time)
    return {"folder": folder, "client": client, "run": first, "printed": printed}


@pytest.mark.slow
def test_every_entry_a_run_can_log_is_logged_and_every_logged_key_is_declared(contract_study):
    logged = contract_study["run"].data.metrics
    declared = set(catalogue.all_keys())
    assert set(logged) <= declared, sorted(set(logged) - declared)
    missing = declared - set(logged) - MAY_BE_ABSENT
    tags = contract_study["run"].data.tags
    assert tags["samplegan.music"].startswith("computed: 3 clips of 1 s against 8 clips of held-out"), tags
    withheld = json.loads(tags["samplegan.music_floor_notes"])  # a floor's p95 withheld, and why
    missing -= {catalogue.metric(f"{catalogue.MUSIC.name}/{name}").floor_key("p95") for name in withheld}
    onsets_per_clip = logged[f"{catalogue.MUSIC.name}/onset_rate"] * CLIP_S  # an untrained net has few
    missing -= (NEED_AN_ONSET if onsets_per_clip == 0 else set()) | (
        NEED_TWO_ONSETS if onsets_per_clip < 2 else set())
    assert not missing, sorted(missing)


@pytest.mark.slow
def test_the_run_page_shows_every_evaluation_metric_with_its_unit(contract_study):
    run = contract_study["run"]
    page_path = Path(run.info.artifact_uri.removeprefix("file://")) / "final" / "index.html"
    page = html.unescape(page_path.read_text())
    evaluation_families = {catalogue.EVAL.name, catalogue.QUALITY.name, catalogue.LIKELIHOOD.name,
                           catalogue.DYNAMICS.name, catalogue.SPEED.name, catalogue.MUSIC.name}
    for key in run.data.metrics:
        entry = catalogue.metric(key)
        if entry.family not in evaluation_families:
            continue  # per-step series: drawn in the training curves, not tabled
        last = contract_study["client"].get_metric_history(run.info.run_id, key)[-1].value
        assert f"<th>{key}</th><td>{entry.format(last)}</td>" in page, key
    assert "floor: real clips of the same count and length, p95" in page
    assert "bits/sample" in page and "dB²" in page
    assert f"<th>music metrics</th><td>{run.data.tags['samplegan.music']}</td>" in page


@pytest.mark.slow
def test_the_report_tables_every_reported_metric(contract_study):
    folder = contract_study["folder"] / "report"
    with (folder / "trials.csv").open() as handle:
        header = next(csv.reader(handle))
    run = contract_study["run"]
    for entry in REPORTED_METRICS:
        assert report_column(entry) in header, entry.key
    with (folder / "trials.csv").open() as handle:
        row = next(csv.DictReader(handle))
    assert float(row[report_column(catalogue.GAIN_OVER_LINEAR_BITS)]) == pytest.approx(
        run.data.metrics[catalogue.GAIN_OVER_LINEAR_BITS.key])
    report = (folder / "report.md").read_text()
    for entry in catalogue.floor_metrics(catalogue.QUALITY.name):  # the variant table's columns
        assert entry.heading in report, entry.key
    for entry in catalogue.floor_metrics():  # every floor metric, music's too, is named
        assert entry.title in report, entry.key
    variant_header = report.split("| variant |", 1)[1].split("\n", 1)[0]
    assert f"{catalogue.GAIN_OVER_LINEAR_BITS.unit})" in variant_header  # the gain's column
    assert "bits/sample" in report.split("**Likelihood:**", 1)[1].split("\n", 1)[0]
    assert catalogue.NOTES_SUMMARY.key in report  # the objective's name


@pytest.mark.slow
def test_samplegan_evaluate_repeats_the_music_family_of_the_run(contract_study):
    run = contract_study["run"]
    repeated = json.loads(_run(contract_study["folder"], "evaluate", "--run", run.info.run_id,
                               "--draws", "0", "--json").stdout)
    assert repeated["music"] == run.data.tags["samplegan.music"]
    music = repeated["draws"][0]["music"]
    for key, value in run.data.metrics.items():
        if key.startswith(f"{catalogue.MUSIC.name}/"):
            assert music[key] == pytest.approx(value, rel=1e-6), key


# ------------------------------------------------ the report's music section, from the same study
@pytest.mark.slow
def test_a_real_study_s_report_shows_each_music_distance_with_its_floor(contract_study) -> None:
    folder, printed = contract_study["folder"], contract_study["printed"]
    music = printed["music"]
    assert music["note"] is None and music["pitch_metrics"] == [entry.key for entry in PITCH_METRICS]
    [variant] = music["variants"]
    assert variant["variant"] == "generator=stateful"
    assert set(variant["metrics"]) == {entry.key for entry in MUSIC_FLOORED}
    trials = pd.read_csv(folder / "report" / "trials.csv")
    assert len(trials) == 2 and set(trials["music_status"].str.split(":").str[0]) == {"computed"}
    for entry in MUSIC_FLOORED:
        figures = variant["metrics"][entry.key]
        measured = trials[entry.name].dropna()
        if measured.empty:  # no onsets in the generated clips: a floor, no value, no verdict
            assert figures["mean"] is None and figures["verdict"] is None
            continue
        # The mean over the two replicates of what each run logged, and its floor.
        assert figures["mean"] == pytest.approx(measured.mean())
        assert figures["low"] < figures["mean"] < figures["high"] or len(set(measured)) == 1
        assert figures["floor"] == pytest.approx(trials[entry.name + catalogue.FLOOR_SUFFIX].mean())
        p95 = figures["floor_p95"]
        assert figures["verdict"] == (None if p95 is None else
                                      "within" if figures["mean"] <= p95 else "beyond")
        assert figures["within_2x"] == (figures["mean"] <= 2 * figures["floor"])
    markdown = (folder / "report" / "report.md").read_text()
    section = markdown.split("## Music structure", 1)[1].split("\n## ", 1)[0]
    header, _, row = [line for line in section.splitlines() if line.startswith("|")]
    assert header.split(" | ")[1:] == [entry.heading for entry in MUSIC_FLOORED][:-1] + [
        MUSIC_FLOORED[-1].heading + " |"]
    notes = variant["metrics"][catalogue.NOTES_SUMMARY.key]
    assert row.split(" | ")[1].startswith(f"{notes['mean']:{catalogue.NOTES_SUMMARY.fmt}} [")
    # The Answer's line is the one the section's numbers give.
    [line] = [answer for answer in printed["answers"] if answer.startswith("**Pitch (")]
    assert line == music["answer"]
    within = variant["within_2x_pitch"]
    assert within == all(variant["metrics"][entry.key]["within_2x"] for entry in PITCH_METRICS)
    assert ("1 of 1 variant(s)" if within else "none of the 1 variant(s)") in line
    # The quality line no longer speaks for the music distances.
    [floors] = [answer for answer in printed["answers"] if answer.startswith("**Against real audio")]
    assert catalogue.NOTES_SUMMARY.title not in floors


@pytest.mark.slow
def test_each_run_page_and_the_best_clip_show_the_pitch_track(contract_study) -> None:
    from harness.tracking.run_page import PITCH_HEADING, PITCH_PNG

    folder, printed = contract_study["folder"], contract_study["printed"]
    client = mlflow.MlflowClient(f"sqlite:///{folder / 'mlruns' / 'mlflow.db'}")
    for row in printed["trials"]:
        listed = {item.path for item in client.list_artifacts(row["mlflow_run_id"], "final")}
        assert f"final/{PITCH_PNG}" in listed
        page = Path(client.download_artifacts(row["mlflow_run_id"], "final/index.html",
                                               str(folder / row["mlflow_run_id"]))).read_text()
        assert (f"<h2>{PITCH_HEADING}</h2><p>pYIN&#39;s f0 (cyan, where it calls a frame voiced) "
                "over the spectrogram of generated clip 0 at GAN step 2, beside a held-out clip "
                "of the same length (1 s).") in page
    assert (folder / "report" / "listen_best_pitch.png").is_file()
    assert "![pitch track of clip 0 beside a held-out clip, best variant" in (
        folder / "report" / "report.md").read_text()
