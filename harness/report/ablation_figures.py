"""The ablation report's figures: effects, label shares, collapse onsets, interactions, trials.

Each function draws one PNG from the report's trial frame (or a table derived from it) with
matplotlib's object API (no global pyplot state, safe in any thread) and returns its path.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from harness.evaluation.diagnostics import LABELS
from harness.report.document import level_text
from harness.report.stats import COLLAPSE, OBJECTIVE, main_effects
from harness.tracking.run_figures import save_figure

_DPI = 100
_LABEL_COLOURS = {"healthy": "#2e8b57", "noise": "#8c6bb1", "silent": "#9e9e9e",
                  "flat_collapse": "#c62828", "loop": "#ad1457", "saturated": "#ef8a17"}
_STATE_MARKERS = {"COMPLETE": "o", "PRUNED": "x"}


def plot_effects(frame: pd.DataFrame, factors: Sequence[str], objective_name: str, path: Path,
                 block_column: str | None = "replicate") -> Path:
    """Per factor, each trial's value (dots) and the level means with 95% CIs (black squares).

    Objective on the left, collapsed outcome on the right. Grey lines join trials that differ
    only in this factor (same levels of the other factors, same replicate seed), so a
    consistent slope is visible even when the seed moves every grid point alike.

    Args:
        frame: One row per trial, with `OBJECTIVE` and `COLLAPSE` columns.
        factors: Columns to plot, one row of panels each.
        objective_name: Axis label of the objective.
        path: PNG file to write.
        block_column: Column of the replicate seed that pairs trials, or None for no lines.
    """
    figure = Figure(figsize=(10, 0.6 + 2.6 * len(factors)), layout="constrained")
    grid = figure.subplots(len(factors), 2, squeeze=False)
    for row, factor in enumerate(factors):
        levels = list(main_effects(frame, factor, OBJECTIVE).index)  # a trial may lack the factor
        positions = {level_text(level): index for index, level in enumerate(levels)}
        pairing = ([other for other in factors if other != factor] + [block_column]
                   if block_column else [])
        for column, (value, name) in enumerate(((OBJECTIVE, objective_name),
                                                (COLLAPSE, "collapsed outcome"))):
            axes = grid[row][column]
            points = frame[[factor, value, *pairing]].dropna(subset=[factor, value])
            x = pd.Series([float(positions[level_text(level)]) for level in points[factor]],
                          index=points.index)
            if pairing:
                for _, pair in points.assign(_x=x).groupby(pairing, sort=False, dropna=False):
                    if len(pair) > 1:
                        ordered = pair.sort_values("_x")
                        axes.plot(ordered["_x"], ordered[value], color="grey", alpha=0.4,
                                  linewidth=1)
            axes.scatter(x, points[value], s=20, alpha=0.7, color="#4c72b0", zorder=3,
                         label="trials (lines: same seed and other levels)")
            effects = main_effects(frame, factor, value)
            spread = np.vstack([(effects["mean"] - effects["ci_low"]).fillna(0.0),
                                (effects["ci_high"] - effects["mean"]).fillna(0.0)])
            axes.errorbar(np.arange(len(levels)) + 0.12, effects["mean"], yerr=spread, fmt="s",
                          color="black", capsize=5, zorder=4, label="level mean, 95% CI")
            axes.set_xticks(range(len(levels)), [level_text(level) for level in levels])
            axes.set_xlim(-0.5, len(levels) - 0.5)
            axes.set_xlabel(factor)
            axes.set_title(f"{factor}: {name}", fontsize=10)
            if value == COLLAPSE:
                axes.set_ylim(-0.05, 1.05)
            axes.grid(alpha=0.3)
    figure.legend(*grid[0][0].get_legend_handles_labels(), loc="outside upper center", ncols=2,
                  fontsize=8)
    return save_figure(figure, path, _DPI)


def plot_label_shares(shares: pd.DataFrame, path: Path) -> Path:
    """Stacked horizontal bars: mean share of each clip label per grid point."""
    figure = Figure(figsize=(10, 1.4 + 0.45 * len(shares)), layout="constrained")
    axes = figure.subplots()
    left = np.zeros(len(shares))
    names = [str(name) for name in shares.index]
    for label in LABELS:
        values = shares[f"share_{label}"].fillna(0.0).to_numpy()
        axes.barh(names, values, left=left, color=_LABEL_COLOURS[label], label=label)
        left += values
    for index, runs in enumerate(shares["runs"]):
        axes.text(1.01, index, f"{runs} run(s)", va="center", fontsize=8)
    axes.set_xlim(0, 1.12)
    axes.invert_yaxis()
    axes.set_xlabel("share of clips at the final evaluation")
    axes.legend(ncols=len(LABELS), loc="lower center", bbox_to_anchor=(0.5, 1.0), fontsize=8)
    return save_figure(figure, path, _DPI)


def plot_objective_per_trial(frame: pd.DataFrame, direction: str, objective_name: str,
                             path: Path) -> Path:
    """Objective of each finished trial by trial number, coloured by grid point, best so far."""
    figure = Figure(figsize=(10, 4), layout="constrained")
    axes = figure.subplots()
    scored = frame[frame[OBJECTIVE].notna()].sort_values("trial_number")
    points = scored["point"].unique()
    # Beyond ten grid points colours repeat and the legend outgrows the plot: mark states only.
    by_point = 1 < len(points) <= 10
    for (point, state), group in scored.groupby(["point", "state"], sort=False):
        axes.scatter(group["trial_number"], group[OBJECTIVE],
                     color=f"C{list(points).index(point)}" if by_point else "C0",
                     marker=_STATE_MARKERS.get(state, "o"), s=40,
                     label=f"{point} ({state.lower()})" if by_point else state.lower())
    completed = scored[scored["state"] == "COMPLETE"]
    if not completed.empty:
        best = (completed[OBJECTIVE].cummin() if direction == "minimize"
                else completed[OBJECTIVE].cummax())
        axes.step(completed["trial_number"], best, where="post", color="black", alpha=0.6,
                  label="best completed so far")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("trial number")
    axes.set_ylabel(objective_name)
    axes.grid(alpha=0.3)
    handles, labels = axes.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    axes.legend(unique.values(), unique.keys(), fontsize=7, loc="center left",
                bbox_to_anchor=(1.01, 0.5))
    return save_figure(figure, path, _DPI)


def plot_param_scatter(frame: pd.DataFrame, params: Sequence[str], objective_name: str,
                       path: Path) -> Path:
    """Objective against each numeric searched parameter (log axis when it spans 2+ decades)."""
    figure = Figure(figsize=(4 * len(params), 3.6), layout="constrained")
    grid = figure.subplots(1, len(params), squeeze=False)[0]
    for axes, param in zip(grid, params, strict=True):
        for state, marker in _STATE_MARKERS.items():
            rows = frame[frame["state"] == state]
            axes.scatter(pd.to_numeric(rows[param], errors="coerce"), rows[OBJECTIVE],
                         marker=marker, s=30, label=state.lower())
        values = pd.to_numeric(frame[param], errors="coerce").dropna()
        if not values.empty and values.min() > 0 and values.max() / values.min() >= 100:
            axes.set_xscale("log")
        axes.set_xlabel(param)
        axes.set_ylabel(objective_name)
        axes.grid(alpha=0.3)
    grid[0].legend(fontsize=8)
    return save_figure(figure, path, _DPI)


def plot_onset_histogram(onsets: Mapping[str, Sequence[float]], path: Path) -> Path:
    """Histogram of per-clip collapse onset / n, stacked by variant (grid point).

    Args:
        onsets: Variant name -> onset/n of its collapsed clips (clips without onset left out).
        path: PNG file to write.
    """
    figure = Figure(figsize=(10, 3.6), layout="constrained")
    axes = figure.subplots()
    names = [name for name, values in onsets.items() if len(values)]
    values = [np.asarray(onsets[name], dtype=float) for name in names]
    top = max((float(v.max()) for v in values), default=1.0)
    bins = np.linspace(0.0, max(2.0, math.ceil(top * 4) / 4), 25)
    if values:
        axes.hist(values, bins=bins, stacked=True, label=names if len(names) <= 10 else None)
        if len(names) <= 10:
            axes.legend(fontsize=7, loc="upper right")
    axes.axvline(1.0, color="black", linestyle="--", linewidth=1)
    axes.text(1.0, 1.0, " seed leaves the window (onset = n)", transform=axes.get_xaxis_transform(),
              va="top", fontsize=8)
    axes.set_xlabel("collapse onset / n (per clip, final evaluation)")
    axes.set_ylabel("clips")
    axes.grid(alpha=0.3)
    return save_figure(figure, path, _DPI)


def color_limits(values: pd.Series, bounds: tuple[float, float] | None = None
                 ) -> tuple[float, float]:
    """The colour scale of a heatmap of `values`.

    Args:
        values: The plotted values; non-numeric and NaN ones are ignored.
        bounds: The range the quantity can take (a share: (0, 1)); then the scale is that
            range, so equal colours mean equal values in every report.

    Returns:
        (low, high) with low < high: `bounds`, else the values' range (widened by 1 when
        every value is the same, so there still is a scale).
    """
    if bounds is not None:
        return bounds
    finite = pd.to_numeric(values, errors="coerce").dropna()
    low, high = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    return low, (high if high > low else low + 1.0)


def plot_interactions(frame: pd.DataFrame, axes_names: Sequence[str], value: str, name: str,
                      path: Path, bounds: tuple[float, float] | None = None) -> Path:
    """One heatmap of mean `value` per pair of axes, each cell annotated with its mean.

    `bounds` is the range `value` can take, if it has one (see `color_limits`).
    """
    pairs = list(itertools.combinations(axes_names, 2))
    columns = min(3, len(pairs))
    rows = math.ceil(len(pairs) / columns)
    figure = Figure(figsize=(4.2 * columns, 3.4 * rows), layout="constrained")
    grid = figure.subplots(rows, columns, squeeze=False)
    low, high = color_limits(frame[value], bounds)
    image = None
    for panel, (row_axis, column_axis) in itertools.zip_longest(grid.flat, pairs):
        if row_axis is None:
            panel.set_axis_off()
            continue
        table = (frame.groupby([row_axis, column_axis], sort=False)[value].mean()
                 .unstack(column_axis)
                 .reindex(index=frame[row_axis].dropna().unique(),
                          columns=frame[column_axis].dropna().unique()))
        data = table.to_numpy(dtype=float)
        image = panel.imshow(data, cmap="viridis", vmin=low, vmax=high, aspect="auto")
        for (i, j), cell in np.ndenumerate(data):
            panel.text(j, i, "–" if math.isnan(cell) else f"{cell:.3g}", ha="center",
                       va="center", fontsize=8, color="white" if cell < (low + high) / 2 else "black")
        panel.set_xticks(range(len(table.columns)), [level_text(v) for v in table.columns])
        panel.set_yticks(range(len(table.index)), [level_text(v) for v in table.index])
        panel.set_xlabel(column_axis)
        panel.set_ylabel(row_axis)
    if image is not None:
        figure.colorbar(image, ax=grid, label=f"mean {name}", shrink=0.8)
    return save_figure(figure, path, _DPI)
