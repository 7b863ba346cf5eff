"""The metric catalogue: lookups, floor partners, formatting, and the spec's objective check."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from harness.evaluation import catalogue
from harness.evaluation.diagnostics import LABELS, diagnose_batch
from harness.evaluation.quality import quality_metrics
from harness.study.spec import OBJECTIVE_METRICS, SpecError, parse_spec

REPO = Path(__file__).resolve().parents[2]
# The names other tools read (docs DESIGN, "Command-line contracts"): they must not change.
FIXED_KEYS = ("eval/collapsed_share", "quality/mr_lsd_db", "quality/mr_lsd_db_real_vs_real",
              "quality/frechet_logmel", "likelihood/teacher_loss", "likelihood/baseline_marginal",
              "likelihood/baseline_linear", "likelihood/gain_over_linear",
              *(f"eval/share_{label}" for label in LABELS))


def test_the_fixed_names_are_catalogued():
    for key in FIXED_KEYS:
        assert key in catalogue.all_keys(), key
    assert catalogue.metric("quality/mr_lsd_db_real_vs_real_p95") is catalogue.MR_LSD
    assert catalogue.MR_LSD.partner_keys == ("quality/mr_lsd_db_real_vs_real",
                                             "quality/mr_lsd_db_real_vs_real_std",
                                             "quality/mr_lsd_db_real_vs_real_p95")
    assert catalogue.family("quality").metrics == (catalogue.FRECHET, catalogue.MR_LSD)


def test_share_entries_come_from_the_collapse_labels():
    shares = [entry.name for entry in catalogue.EVAL.metrics if entry.name.startswith("share_")]
    assert shares == [f"share_{label}" for label in LABELS]
    assert catalogue.share_key("healthy") == "eval/share_healthy"
    with pytest.raises(KeyError, match="not in the metric catalogue"):
        catalogue.share_key("wobbly")


def test_unknown_keys_and_families_are_refused_with_the_place_to_add_them():
    with pytest.raises(KeyError, match="catalogue.py"):
        catalogue.metric("quality/sharpness")
    with pytest.raises(KeyError, match="no metric family"):
        catalogue.family("vibes")
    with pytest.raises(ValueError, match="<family>/<name>"):
        catalogue.Metric("mr_lsd_db", "dB", "minimize", "no family")
    with pytest.raises(ValueError, match="direction"):
        catalogue.Metric("quality/x", "dB", "lower", "bad direction")
    with pytest.raises(KeyError, match="no real-vs-real floor"):
        catalogue.TEACHER_LOSS.floor_key()


@pytest.mark.parametrize("entry, value, text", [
    (catalogue.MR_LSD, 4.0712, "4.07 dB"),
    (catalogue.FRECHET, 20904.4, "20,904 dB²"),
    (catalogue.TEACHER_LOSS_BITS, 1.0764, "1.076 bits/sample"),
    (catalogue.GAIN_OVER_LINEAR_BITS, -0.0712, "-0.071 bits/sample"),
    (catalogue.COLLAPSED_SHARE, 0.25, "0.25"),
    (catalogue.MR_LSD, None, "–"),
    (catalogue.MR_LSD, math.nan, "–"),
])
def test_values_are_formatted_with_their_unit(entry, value, text):
    assert entry.format(value) == text


def test_a_loss_can_be_shown_in_the_heads_own_unit():
    assert catalogue.TEACHER_LOSS.format(0.0125, unit="MSE") == "0.0125 MSE"
    assert catalogue.FRECHET.heading == "Fréchet log-mel (dB²)"
    assert catalogue.floor_wording(catalogue.MR_LSD, 19.71) == (
        "floor: real clips of the same count and length, p95 19.71 dB")


def test_the_family_functions_return_exactly_the_catalogued_names():
    rng = np.random.default_rng(0)
    clips = list(rng.standard_normal((2, 8000)).astype(np.float32) * 0.1)
    reference = rng.standard_normal((8, 8000)).astype(np.float32) * 0.1
    quality = quality_metrics(clips, reference, 16000, seed=0)
    declared = {key for entry in catalogue.QUALITY.metrics for key in (entry.key, *entry.partner_keys)}
    assert set(catalogue.keyed("quality", quality)) == declared
    eval_names = set(catalogue.keyed("eval", diagnose_batch(clips, 16000, 500).metrics))
    assert eval_names == {entry.key for entry in catalogue.EVAL.metrics}


def _spec(metric: str, head: str = "mulaw", eval_samples: int = 44100) -> dict:
    return {"name": "objective-check", "base_variant": "paper", "dataset": {"builtin": True},
            "overrides": {"output_head": head, "eval_samples": eval_samples},
            "design": {"grid": {"lstm_mode": ["stateful"]}},
            "objective": {"metric": metric}}


@pytest.mark.parametrize("key", catalogue.all_keys())
def test_a_spec_accepts_exactly_the_objective_entries(key):
    entry = catalogue.metric(key)
    if key == entry.key and entry.objective:
        assert parse_spec(_spec(key)).objective.metric == key
    else:
        with pytest.raises(SpecError, match="not an objective"):
            parse_spec(_spec(key))


def test_a_bits_objective_needs_a_mulaw_head():
    assert set(OBJECTIVE_METRICS) >= {"likelihood/teacher_loss_bits", "quality/mr_lsd_db"}
    with pytest.raises(SpecError, match="only with a mu-law head.*likelihood/gain_over_linear"):
        parse_spec(_spec("likelihood/gain_over_linear_bits", head="tanh"))


def test_a_music_objective_needs_clips_of_the_music_minimum():
    key = catalogue.NOTES_SUMMARY.key
    assert key in OBJECTIVE_METRICS and catalogue.NOTES_SUMMARY.direction == "minimize"
    assert parse_spec(_spec(key, eval_samples=44100)).objective.metric == key  # 1 s at 44.1 kHz
    with pytest.raises(SpecError, match=r"at least 1 s, but grid point .* clips of 0\.998 s .*"
                                        r"eval_samples = 44100 or more"):
        parse_spec(_spec(key, eval_samples=44000))


def test_no_harness_module_spells_a_metric_key_but_the_catalogue():
    families = "|".join(family.name for family in catalogue.FAMILIES)
    pattern = re.compile(rf"\"({families})/[a-z_0-9]+\"")
    spelled = [f"{path.relative_to(REPO)}: {match.group(0)}"
               for path in sorted((REPO / "harness").rglob("*.py"))
               if path.name != "catalogue.py"
               for match in pattern.finditer(path.read_text())]
    assert not spelled, spelled
