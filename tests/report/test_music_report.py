"""The report's music section and its Answer line: the rule on hand-built variants, then a
real tiny study whose runs log music metrics (clips of 1 s)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from harness.evaluation import catalogue
from harness.report.document import Document
from harness.report.music import (
    MUSIC_FLOORED,
    PITCH_METRICS,
    music_answer,
    music_figures,
    music_section,
    pitch_verdicts,
    skip_reason,
)

VOICED, CONFIDENCE = (entry.name for entry in PITCH_METRICS)


def _variants(rows: dict[str, tuple[float, float, float, float]]) -> pd.DataFrame:
    """variant -> (voiced gap, its floor mean, confidence gap, its floor mean) as `variant_table`
    columns (p95 = 3 x the floor mean; the other music distances missing)."""
    table = {}
    for variant, (voiced, voiced_floor, confidence, confidence_floor) in rows.items():
        row: dict[str, float] = {}
        for entry in MUSIC_FLOORED:
            row.update({entry.name: math.nan, f"{entry.name}_low": math.nan,
                        f"{entry.name}_high": math.nan, f"{entry.name}_floor": math.nan,
                        f"{entry.name}_floor_p95": math.nan})
        for name, value, floor in ((VOICED, voiced, voiced_floor), (CONFIDENCE, confidence, confidence_floor)):
            row.update({name: value, f"{name}_floor": floor, f"{name}_floor_p95": 3 * floor})
        table[variant] = row
    return pd.DataFrame.from_dict(table, orient="index")


def test_the_pitch_metrics_are_the_music_family_s_pyin_distances() -> None:
    assert all(entry.family == catalogue.MUSIC.name and entry.floor for entry in PITCH_METRICS)
    assert all("pYIN" in entry.description for entry in PITCH_METRICS)
    assert catalogue.NOTES_SUMMARY in MUSIC_FLOORED


def test_within_2x_means_at_most_twice_the_floor_mean_on_both_pitch_metrics() -> None:
    variants = _variants({
        "on the line": (0.2, 0.1, 0.4, 0.2),  # exactly 2x on both: within
        "one beyond": (0.1, 0.1, 0.41, 0.2),  # 2.05x on the confidence gap
        "both beyond": (0.9, 0.1, 4.0, 0.2),
        "no music": (math.nan, math.nan, math.nan, math.nan),
    })
    assert pitch_verdicts(variants) == {"on the line": True, "one beyond": False,
                                        "both beyond": False, "no music": None}
    line = music_answer(variants)
    assert line.startswith("**Pitch (voiced share gap and voicing confidence gap):** 1 of 3 variant(s) "
                           "with music metrics hold their clips within 2x the floor (within 2x the "
                           "floor: the variant's mean is at most 2 x the mean of the real-vs-real "
                           "floor, on both): `on the line` (voiced share gap 0.200 = 2x floor, ")
    assert "one beyond" not in line and "no music" not in line

    none = music_answer(variants.drop(index="on the line"))
    assert "none of the 2 variant(s) with music metrics is within 2x the floor" in none
    assert none.endswith("closest: `one beyond` (voiced share gap 0.100 = 1x floor, voicing "
                         "confidence gap 0.410 octaves = 2x floor).")  # 2.05x, shown to 2 digits


def test_without_music_metrics_the_line_and_the_section_say_why_in_one_line() -> None:
    variants = _variants({"short": (math.nan, math.nan, math.nan, math.nan)})
    frame = pd.DataFrame({"music_status": [
        "skipped: clips of 0.016 s, under the 1 s minimum (raise eval_samples)", None]})
    reason = skip_reason(frame, {})
    assert reason == "runs say: clips of 0.016 s, under the 1 s minimum (raise eval_samples)"
    assert music_answer(variants, reason) == (
        "**Pitch (voiced share gap and voicing confidence gap):** no variant logged music "
        f"metrics ({reason}).")
    # Runs from before the tag: the reason comes from their clips' length.
    params = {"run": {"config.sample_rate": "16000", "config.n": "32", "config.eval_samples": "0"}}
    assert skip_reason(pd.DataFrame({"cell": ["a"]}), params).startswith(
        "their clips last 0.008 s, shorter than the 1 s the music metrics need")
    document = Document("report")
    music_section(document, variants, reason)
    assert [kind for kind, _ in document.blocks] == ["h2", "p"]
    assert document.blocks[1][1] == f"No music metrics: no variant logged them ({reason})."
    figures = music_figures(variants, reason)
    assert figures["variants"] == [] and figures["note"] == f"no variant logged music metrics: {reason}"


# ------------------------------------------------------------------ a real tiny study
STUDY = "music-report"
# Clips of 1 s (the music minimum) and a held-out split long enough for their floors;
# one grid point with two replicates, so each figure has a 95% interval.
SPEC = f"""
name = "{STUDY}"
base_variant = "paper"
seed = 0

[dataset]
builtin = true
seconds = 24.0
pieces = 4
holdout_fraction = 0.34

[overrides]
sample_rate = 16000
n = 32
lstm_units = 4
ae_levels = 1
ae_filters = 4
ae_kernel = 3
ae_steps = 2
batch_size = 4
prefilter_filters = 2
prefilter_kernel = 3
prefilter_pool = 2
grad_positions = 4
eval_every = 2
eval_clips = 2
eval_samples = 16000

[design]
replicates = 2

[design.grid]
prefilter = [false]

[objective]
metric = "{catalogue.NOTES_SUMMARY.key}"

[budget]
gan_steps = 2

[pruner]
kind = "none"
"""


def _samplegan() -> list[str]:
    script = Path(sys.executable).with_name("samplegan")
    return [str(script)] if script.is_file() else [
        sys.executable, "-c", "from harness.cli.root import main; main()"]


def _env(folder: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if key not in ("SAMPLEGAN_STORAGE", "MLFLOW_TRACKING_URI")}
    return {**env, "SAMPLEGAN_STORE_DIR": str(folder / "mlruns"), "TF_CPP_MIN_LOG_LEVEL": "3"}


@pytest.fixture(scope="module")
def music_study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The study run, then reported with `samplegan report --json`: (folder, printed JSON)."""
    folder = tmp_path_factory.mktemp("music-study")
    (folder / "music.toml").write_text(SPEC)
    for command in (["study", "run", "music.toml", "--workers", "1"],
                    ["report", STUDY, "--out", "report", "--json"]):
        completed = subprocess.run([*_samplegan(), *command], cwd=folder, env=_env(folder),
                                   capture_output=True, text=True, timeout=600, check=False)
        assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return folder, json.loads(completed.stdout)


@pytest.mark.slow
def test_a_real_study_s_report_shows_each_music_distance_with_its_floor(music_study) -> None:
    folder, printed = music_study
    music = printed["music"]
    assert music["note"] is None and music["pitch_metrics"] == [entry.key for entry in PITCH_METRICS]
    [variant] = music["variants"]
    assert variant["variant"] == "prefilter=false"
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
def test_each_run_page_and_the_best_clip_show_the_pitch_track(music_study) -> None:
    from harness.tracking.run_page import PITCH_HEADING, PITCH_PNG

    folder, printed = music_study
    client = mlflow.MlflowClient(f"sqlite:///{folder / 'mlruns' / 'mlflow.db'}")
    for row in printed["trials"]:
        listed = {item.path for item in client.list_artifacts(row["mlflow_run_id"], "final")}
        assert f"final/{PITCH_PNG}" in listed
        page = Path(client.download_artifacts(row["mlflow_run_id"], "final/index.html",
                                               str(folder / row["mlflow_run_id"]))).read_text()
        assert (f"<h2>{PITCH_HEADING}</h2><p>pYIN&#x27;s f0 (cyan, where it calls a frame voiced) "
                "over the spectrogram of generated clip 0 at GAN step 2, beside a held-out clip "
                "of the same length (1 s).") in page
    assert (folder / "report" / "listen_best_pitch.png").is_file()
    assert "![pitch track of clip 0 beside a held-out clip, best variant" in (
        folder / "report" / "report.md").read_text()
