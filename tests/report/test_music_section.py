"""The report's music section and its Answer line, on hand-built variants (a real study's
report is checked in test_catalogue_contract.py, which runs one)."""

from __future__ import annotations

import math

import pandas as pd

from harness.evaluation import catalogue
from harness.report.document import Document
from harness.report.music_section import (
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
