"""The report's Answer: one plain sentence per finding, with the numbers that carry it."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from harness.evaluation import catalogue
from harness.evaluation.quality import within_floor
from harness.report.analysis import Analysis
from harness.report.document import level_text
from harness.report.music_section import music_answer, skip_reason
from harness.report.reading import StudyData
from harness.report.stats import (
    COLLAPSE,
    FINISHED_STATES,
    OBJECTIVE,
    WELCH,
    param_correlations,
)
from models.errors import SampleGanError

# Config keys whose study values, when below the `paper` variant's, make a result a toy one.
SIZE_KEYS = ("sample_rate", "n", "lstm_units", "ae_levels", "ae_filters", "ae_steps", "batch_size",
             "gan_steps")


def num(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float) and math.isinf(value):
        return "∞"
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return str(value)
    return f"{float(value):.{digits}g}"


def num_at_scale(value: float, scale: float) -> str:
    """`value` with two significant digits of `scale`, so a difference shows in its two ends."""
    if not math.isfinite(scale) or scale <= 0:
        return num(value)
    return f"{value:.{max(0, 1 - math.floor(math.log10(scale)))}f}"


def _noise_phrase(row: Mapping[str, Any]) -> str:
    noise = row["noise_sd"]
    if math.isnan(noise):
        return "seed noise unknown: no grid point has two finished replicates"
    if noise == 0:
        return "replicates of every grid point agreed exactly (seed noise 0)"
    verdict = ("larger than seed noise" if row["verdict"] == "exceeds seed noise"
               else "within seed noise, so not a finding yet")
    kind = (f" paired by replicate seed (unpaired {num(row['unpaired_noise_sd'])})"
            if row["noise_kind"] == "paired" else "")
    return (f"seed noise SD {num(noise)}{kind}, so {num(row['effect_over_noise'], 2)}× noise "
            f"or {num(row['effect_over_se'], 2)} standard errors: {verdict}")


def _effect_sentence(title: str, ranking: pd.DataFrame, lower_is_better: bool) -> str:
    top = ranking.iloc[0]
    best, worst = ("low", "high") if lower_is_better else ("high", "low")
    axis = top["axis"]
    effect = top["effect"]
    claim = "matters most" if top["verdict"] == "exceeds seed noise" else "has the largest effect"
    sentence = (f"**{title}:** `{axis}` {claim}: {num_at_scale(top[f'{best}_mean'], effect)}"
                f" at {axis}={level_text(top[f'{best}_level'])} vs "
                f"{num_at_scale(top[f'{worst}_mean'], effect)} at "
                f"{axis}={level_text(top[f'{worst}_level'])} (difference {num(top['effect'])}; "
                f"{_noise_phrase(top)}).")
    if len(ranking) > 1 and not math.isnan(ranking.iloc[1]["effect"]):
        runner_up = ranking.iloc[1]
        sentence += (f" Next: `{runner_up['axis']}` (difference {num(runner_up['effect'])}, "
                     f"{num(runner_up['effect_over_noise'], 2)}× noise).")
    return sentence


def untested_note(untested: Mapping[str, Sequence[Any]]) -> str:
    """`` Untested so far: `axis`=level, level; ...`` for levels no finished trial reached; "" if none."""
    if not untested:
        return ""
    listed = "; ".join(f"`{axis}`=" + ", ".join(level_text(level) for level in levels)
                       for axis, levels in untested.items())
    return f" Untested so far (no finished trial): {listed}."


def _all_untested(ranking: pd.DataFrame) -> bool:
    return bool(len(ranking)) and bool((ranking["verdict"] == "untested").all())


def collapse_answer(frame: pd.DataFrame, ranking: pd.DataFrame,
                    untested: Mapping[str, Sequence[Any]] | None = None) -> str:
    """One sentence: which axis matters most for collapse, or that none does.

    Args:
        frame: One row per cell.
        ranking: `rank_axes` of the collapsed outcome.
        untested: Grid levels without a finished trial (`untested_levels`): no claim is made
            about them.
    """
    untested = untested or {}
    values = frame[COLLAPSE].dropna()
    if values.empty:
        return "**Collapse:** no finished trial has a collapse measurement yet."
    pruned = int((frame.loc[values.index, "state"] == "PRUNED").sum())
    note = untested_note(untested)
    if (values == 1.0).all():
        pruned_note = f", {pruned} of them pruned for it" if pruned else ""
        if untested:
            return (f"**Collapse:** every finished trial collapsed ({len(values)} of "
                    f"{len(values)}{pruned_note}); whether the untested settings prevent it is "
                    f"unknown.{note}")
        return (f"**Collapse:** every finished trial collapsed ({len(values)} of {len(values)}"
                f"{pruned_note}), whatever its settings: nothing in this design prevents the "
                "collapse at these sizes.")
    if (values == 0.0).all():
        return f"**Collapse:** no finished trial collapsed ({len(values)} trials).{note}"
    if ranking.empty:
        return (f"**Collapse:** mean collapsed outcome {num(values.mean())} over {len(values)} "
                "finished trials; no grid axis to compare.")
    if _all_untested(ranking):
        return (f"**Collapse:** untested: no axis has finished trials at two of its levels yet "
                f"(mean collapsed outcome {num(values.mean())} over {len(values)} trials).{note}")
    if not ranking.iloc[0]["effect"] > 0:
        return (f"**Collapse:** no tested axis changes the collapsed outcome (mean "
                f"{num(values.mean())} over {len(values)} trials at every tested level).{note}")
    return _effect_sentence("Collapse (collapsed outcome, lower is better)", ranking, True) + note


def objective_answer(frame: pd.DataFrame, ranking: pd.DataFrame, direction: str,
                     objective_name: str,
                     untested: Mapping[str, Sequence[Any]] | None = None) -> str:
    """One sentence: which axis matters most for the objective, or that none does.

    Args:
        frame: One row per cell.
        ranking: `rank_axes` of the objective.
        direction: "minimize" or "maximize".
        objective_name: How the objective is named.
        untested: Grid levels without a finished trial (`untested_levels`).
    """
    note = untested_note(untested or {})
    values = frame[OBJECTIVE].dropna()
    title = f"Objective ({objective_name}, {direction})"
    if values.empty:
        return f"**{title}:** no finished trial has an objective value yet."
    if ranking.empty:
        best = values.min() if direction == "minimize" else values.max()
        return (f"**{title}:** best {num(best, 4)} over {len(values)} trials; no grid axis to "
                "compare.")
    if _all_untested(ranking):
        return (f"**{title}:** untested: no axis has finished trials at two of its levels yet "
                f"(mean {num(values.mean(), 6)} over {len(values)} trials).{note}")
    if not ranking.iloc[0]["effect"] > 0:
        return (f"**{title}:** no tested axis changes it (mean {num(values.mean(), 6)} at every "
                f"tested level).{note}")
    return _effect_sentence(title, ranking, direction == "minimize") + note


def correlation_answer(title: str, correlations: pd.DataFrame) -> str:
    """One sentence naming the searched parameter most rank-correlated with a value."""
    usable = correlations.dropna(subset=["spearman"])
    if usable.empty:
        return f"**{title}:** too few finished trials to correlate the searched parameters."
    top = usable.iloc[0]
    return (f"**{title}:** `{top['param']}` correlates most (Spearman ρ = "
            f"{num(top['spearman'], 2)} over {top['trials']} trials; no replicates, so no "
            "noise reference).")


def toy_sizes(spec: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Size settings where the study is smaller than the `paper` variant: {key: (study, paper)}.

    Grid axes vary per cell and are left out; an unresolvable spec gives {}.
    """
    from models.registry import get_variant

    overrides = dict(spec.get("overrides", {}))
    if spec.get("budget", {}).get("gan_steps") is not None:
        overrides["gan_steps"] = spec["budget"]["gan_steps"]
    grid = spec.get("design", {}).get("grid", {})
    try:
        study = get_variant(spec.get("base_variant", "paper")).config(
            {key: value for key, value in overrides.items() if key not in grid})
    except SampleGanError:
        return {}
    paper = get_variant("paper").config()
    # Real priming leaves the autoencoder unused (and untrained): its steps are no size then.
    unused = {"ae_steps"} if study.seed_source == "real" and "seed_source" not in grid else set()
    return {key: (getattr(study, key), getattr(paper, key)) for key in SIZE_KEYS
            if key not in grid and key not in unused and getattr(study, key) < getattr(paper, key)}


def caveat_line(replicates: int, noise_sds: Mapping[str, float], paired: bool,
                sizes: Mapping[str, tuple[Any, Any]], searched: bool, gridded: bool = True) -> str:
    """The caveat under the answer: replicates and seed noise, and how toy the sizes are.

    Args:
        replicates: Replicates per grid point in the design.
        noise_sds: Seed-noise SD per analysed quantity (NaN: unknown).
        paired: Whether the noise is the paired (replicate-seed blocked) estimate.
        sizes: `toy_sizes` of the study.
        searched: Whether the design searches hyperparameters.
        gridded: Whether the design has a grid (without one, no trial has a replicate).
    """
    noise = ", ".join(f"{name} {num(sd)}" for name, sd in noise_sds.items() if not math.isnan(sd))
    if not gridded:
        text = ("**Caveat:** no grid, so no trial repeats another's settings and seed noise is "
                "unknown: any correlation above may be seed luck. ")
    elif replicates < 2:
        text = ("**Caveat:** one replicate per grid point, so seed noise is unknown: any "
                "difference above may be seed luck. ")
    elif not noise:
        text = ("**Caveat:** no grid point has two finished replicates yet, so seed noise is "
                "unknown: any difference above may be seed luck. ")
    else:
        how = ("residual SD once the seed shared by a replicate across grid points is taken out"
               if paired else "pooled SD of the replicates of a grid point")
        text = (f"**Caveat:** {replicates} replicates per grid point; seed noise ({how}): "
                f"{noise}; a rough estimate from so few seeds. ")
    if searched and gridded and noise:
        text += ("Replicates of a grid point also differ in the searched parameters, so this "
                 "noise is an upper bound. ")
    if sizes:
        listed = ", ".join(f"{key}={study} (paper variant {paper})"
                           for key, (study, paper) in sizes.items())
        text += (f"Toy sizes: {listed}; this points where to look and is not the paper's "
                 "result until rerun at full size.")
    else:
        text += ("No size is below the `paper` variant's (the paper itself gives only n and "
                 "the rate).")
    return text


def cell_text(value: Any) -> str:
    """A cell's text; a missing value (None or NaN, as pandas stores it) is a dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return str(value)


def _comparison_text(row: Mapping[str, Any]) -> str:
    """`axis` a → b with its difference, deciding test, Holm p and effect size."""
    effect = (f"g {num(row['hedges_g'], 2)}" if row["test"] == WELCH
              else f"rank-biserial r {num(row['rank_biserial'], 2)}")
    return (f"`{row['axis']}` {level_text(row['level_a'])} → {level_text(row['level_b'])} "
            f"(difference {num(row['difference'])}, {row['test']} Holm p "
            f"{p_text(row['test_p_holm'])}, {effect}"
            + (", a perfect split" if row["perfect_split"] else "") + ")")


def _perfect_split_note(row: Mapping[str, Any]) -> str:
    """Why a perfect split that misses 5 % is still the strongest evidence there is."""
    floor = 2 / math.comb(int(row["n_a"]) + int(row["n_b"]), int(row["n_a"]))
    return (f": every trial of one level lies beyond every trial of the other, as clear as "
            f"{row['n_a']} + {row['n_b']} trials can show (exact p ≥ {p_text(floor)} before "
            "correction); more replicates are needed to pass 5 %")


def significance_answer(objective_tests: pd.DataFrame, collapse_tests: pd.DataFrame) -> str:
    """One line: which level comparisons are significant after Holm, else the strongest one.

    The strongest is the comparison with the smallest Holm-adjusted p of its deciding test
    (Welch's, or the exact Mann-Whitney test on a perfect split of constant levels).
    """
    parts = []
    for name, tests in (("objective", objective_tests), ("collapsed outcome", collapse_tests)):
        tested = tests.dropna(subset=["test_p_holm"])
        if tested.empty:
            parts.append(f"{name}: nothing testable (one trial per level, or no variation)")
            continue
        significant = tested[tested["significant"]]
        if not significant.empty:
            parts.append(f"{name}: " + "; ".join(
                _comparison_text(row) for _, row in significant.iterrows()))
        else:
            strongest = tested.sort_values(["test_p_holm", "test_p"], kind="stable").iloc[0]
            parts.append(f"{name}: none (strongest evidence: {_comparison_text(strongest)}"
                         + (_perfect_split_note(strongest) if strongest["perfect_split"] else "")
                         + ")")
    return ("**Significant at 5 % (Welch; exact Mann-Whitney where both levels are constant; "
            "Holm-corrected):** " + "; ".join(parts) + ".")


def likelihood_answer(variants: pd.DataFrame) -> str:
    """One line: how many variants predict held-out audio better than linear prediction."""
    measured = variants.dropna(subset=["gain_over_linear"])
    if measured.empty:
        return (f"**Likelihood:** not measured (no finished run logged `{catalogue.GAIN_OVER_LINEAR.key}`: "
                "runs older than the measurement, or no contiguous audio to measure it on).")
    beating = measured[measured["gain_over_linear"] > 0]
    sure = beating[beating["gain_over_linear_low"] > 0]

    def unit(variant: str) -> str:
        """The gain's unit where the variant names its head (the head's own loss)."""
        return (" nats" if "output_head=mulaw" in variant
                else " MSE" if "output_head=tanh" in variant else "")

    def in_bits(row: pd.Series) -> str:
        """The gain in bits per sample, logged for mu-law heads."""
        value = row.get(catalogue.GAIN_OVER_LINEAR_BITS.name, math.nan)
        return "" if value is None or math.isnan(value) else (
            f", {catalogue.GAIN_OVER_LINEAR_BITS.format(value)}")

    def listed(rows: pd.DataFrame) -> str:
        return ", ".join(f"`{variant}` ({num(row['gain_over_linear'], 3)}{unit(str(variant))}"
                         f"{in_bits(row)})" for variant, row in rows.iterrows())

    line = (f"**Likelihood:** {len(sure)} of {len(measured)} measured variant(s) predict "
            "held-out audio better than linear prediction, the 95% interval of the gain above 0 "
            "(gain in the head's own loss: nats per sample for mu-law heads, MSE for tanh; "
            "compare gains within a head)")
    if len(sure):
        line += f": {listed(sure)}"
    unsure = beating.drop(sure.index)
    if len(unsure):
        line += (f". Mean gain above 0 but within seed noise (interval reaching 0, or one "
                 f"replicate): {listed(unsure)}")
    rest = measured.drop(beating.index)
    if len(rest):
        line += f". Not better: {listed(rest)}"
    return line + "."


def answer_lines(data: StudyData, analysis: Analysis) -> list[str]:
    frame = analysis.frame
    if not analysis.factors and not analysis.numeric_searched:
        answers = ["**No grid and no search:** nothing to compare."]
    else:
        answers = [collapse_answer(frame, analysis.collapse_ranking, analysis.untested),
                   objective_answer(frame, analysis.objective_ranking, data.direction,
                                    analysis.objective_name, analysis.untested)]
    answers.append(likelihood_answer(analysis.variants))
    if analysis.factors:
        answers.append(significance_answer(analysis.objective_tests, analysis.collapse_tests))
    answers.append(floor_answer(analysis.variants))
    answers.append(music_answer(analysis.variants, skip_reason(frame, data.run_params)))
    on_training_audio = training_audio_answer(frame)
    if on_training_audio:
        answers.append(on_training_audio)
    if analysis.numeric_searched:
        answers.append(correlation_answer(
            "Searched parameters vs objective",
            param_correlations(frame, analysis.numeric_searched, OBJECTIVE)))
    rankings = {"objective": analysis.objective_ranking,
                "collapsed outcome": analysis.collapse_ranking}
    noise_sds = {name: ranking["noise_sd"].iloc[0] if analysis.factors else math.nan
                 for name, ranking in rankings.items()}
    paired = bool(analysis.factors) and analysis.objective_ranking["noise_kind"].iloc[0] == "paired"
    answers.append(caveat_line(int(data.spec.get("design", {}).get("replicates", 1)), noise_sds,
                               paired, toy_sizes(data.spec), bool(data.searched), bool(data.axes)))
    unfinished = int((~frame["state"].isin(FINISHED_STATES)).sum())
    if unfinished:
        answers.append(f"**Provisional:** {unfinished} cell(s) have not finished (failed, running "
                       "or waiting) and are left out of every number.")
    return answers


def p_text(value: float) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "–"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


FLOOR_WORDS = (
    "A distance's floor is the same distance for real held-out clip sets of the same count and "
    "length as the run's generated clips (mean over random draws, and its 95th percentile, p95); "
    "a variant is within the floor when its mean distance is at most the p95, i.e. as close to "
    "the held-out audio as real audio of that size gets (docs/quality.md).")


def _floor_verdict(row: Mapping[str, Any], name: str) -> str | None:
    """"within" or "beyond" the floor for distance `name` of a variant row; None: no floor."""
    verdict = within_floor(row[name], row[f"{name}_floor_p95"])
    return None if verdict is None else ("within" if verdict else "beyond")


def floor_text(row: Mapping[str, Any], name: str) -> str:
    verdict = _floor_verdict(row, name)
    if math.isnan(row[f"{name}_floor"]):
        return "–"
    text = f"{num(row[f'{name}_floor'])} ({num(row[f'{name}_floor_p95'])})"
    return f"{text}: {verdict}" if verdict else text


def floor_answer(variants: pd.DataFrame) -> str:
    """One sentence per distance: how many variants are within their like-for-like floor."""
    parts = []
    # The quality family's: the music distances have their own line (`music_answer`).
    for entry in sorted(catalogue.floor_metrics(catalogue.QUALITY.name), key=lambda e: e is catalogue.FRECHET):
        name, title = entry.name, entry.title
        verdicts = {variant: _floor_verdict(row, name) for variant, row in variants.iterrows()}
        judged = {variant: verdict for variant, verdict in verdicts.items() if verdict}
        if not judged:
            missing = ("clip sets of at most 64 log-mel frames" if entry is catalogue.FRECHET
                       else "none logged: withheld where a noise control lands within it, "
                       "clips too few or too short to tell noise from music")
            parts.append(f"{title}: no floor ({missing})")
            continue
        within = [variant for variant, verdict in judged.items() if verdict == "within"]
        parts.append(f"{title}: {len(within)} of {len(judged)} variants within the floor"
                     + (f" ({', '.join(f'`{v}`' for v in within[:4])}"
                        + (" ..." if len(within) > 4 else "") + ")" if within else ""))
    return ("**Against real audio:** " + "; ".join(parts) + ". The floor is the distance of "
            "real held-out clip sets as many and as long as the generated ones, so a variant "
            "within it is as close to the held-out audio as real audio of that size.")


def training_audio_answer(frame: pd.DataFrame) -> str | None:
    """A warning when some runs measured quality on their training audio; None when none did."""
    on_train = int((frame["quality_reference"] == "train").sum())
    if not on_train:
        return None
    return (f"**Quality on training audio:** {on_train} of {len(frame)} runs used a dataset with "
            "nothing held out, so their Fréchet and log-spectral distances compare the generator "
            "with the audio it trained on and flatter it.")
