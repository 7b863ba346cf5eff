"""What every section of the report draws on, computed once from the study's frame."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from harness.report.reading import StudyData, numeric_searched, spec_objective_name, study_factors
from harness.report.stats import (
    COLLAPSE,
    FINISHED_STATES,
    OBJECTIVE,
    rank_axes,
    significance_table,
    untested_levels,
    variant_table,
)


@dataclass
class Analysis:
    """What every section of the report draws on, computed once."""

    frame: pd.DataFrame
    factors: list[str]  # grid axes and searched parameters with choices
    numeric_searched: list[str]
    objective_name: str
    objective_ranking: pd.DataFrame
    collapse_ranking: pd.DataFrame
    objective_tests: pd.DataFrame  # `significance_table` of the objective over `factors`
    collapse_tests: pd.DataFrame
    group: str  # the column naming a variant: "point", or "cell" without a grid
    variants: pd.DataFrame  # `variant_table`
    untested: dict[str, list]  # grid axis -> its levels without a finished trial

    @classmethod
    def of(cls, data: StudyData,
           clip_onsets: Mapping[str, Sequence[float]] | None = None) -> Analysis:
        factors = study_factors(data)
        # Without a grid every trial is its own point: no replicates, so no noise estimate.
        group = "point" if data.axes else "cell"
        return cls(frame=data.frame, factors=factors, numeric_searched=numeric_searched(data),
                   group=group, variants=variant_table(data.frame, group, clip_onsets),
                   untested=untested_levels(data.frame,
                                            data.spec.get("design", {}).get("grid", {})),
                   objective_name=spec_objective_name(data.spec),
                   objective_ranking=rank_axes(data.frame, factors, OBJECTIVE, group),
                   collapse_ranking=rank_axes(data.frame, factors, COLLAPSE, group),
                   objective_tests=significance_table(finished_rows(data.frame), factors, OBJECTIVE),
                   collapse_tests=significance_table(finished_rows(data.frame), factors, COLLAPSE))


def finished_rows(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["state"].isin(FINISHED_STATES)]
