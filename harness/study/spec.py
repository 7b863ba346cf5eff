"""Study specifications: the plain-TOML ablation designs in `studies/`, validated up front.

A spec names a dataset, a base variant, overrides for every trial, a design (a full
factorial grid over config axes and/or a search over distributions, times replicate
seeds), an objective, a budget and a pruner. Every grid point x replicate is a
*cell* and runs exactly once. Anything wrong (unknown key, axis or value, empty
grid, wrong type, a combination the config rejects) fails before anything starts,
with the offending key named.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.evaluation import catalogue
from models.config import SampleGANConfig, canonical_key, coerce_value, field_names, field_type
from models.errors import SampleGanError
from models.registry import VARIANTS, get_variant

# What a study may optimise: the catalogue's entries flagged `objective`.
OBJECTIVE_METRICS = tuple(entry.key for entry in catalogue.objective_metrics())
PRUNER_KINDS = ("collapse", "median", "collapse+median", "none")


class SpecError(SampleGanError):
    """A bad study spec; the message names the key."""


@dataclass(frozen=True)
class DatasetSpec:
    builtin: bool = False  # the built-in corpus, synthesised per (sample rate, n)
    path: str | None = None  # a prepared dataset folder (fixed rate and n)
    audio: tuple[str, ...] = ()  # audio files/folders/globs, imported per (sample rate, n)
    seconds: float = 60.0  # built-in corpus length
    pieces: int = 8  # built-in corpus pieces (the held-out split is by piece)
    holdout_fraction: float = 0.25
    stride: int | None = None  # imports only; default n
    drop_silence_db: float | None = None  # imports only


@dataclass(frozen=True)
class SearchParam:
    name: str
    kind: str  # "float" | "int" | "categorical"
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()


PENALISED_SHARE = catalogue.COLLAPSED_SHARE.key  # the share the collapse penalty multiplies


def objective_name(metric: str, direction: str, collapse_penalty: float) -> str:
    """What a trial's value is, e.g. ``quality/mr_lsd_db + 50 × eval/collapsed_share``.

    The worker adds (minimize) or subtracts (maximize) the penalty times the collapsed
    share, so a value of 140 dB may be 90 dB of distance and 50 of penalty; the bare metric
    key would name only the first part.
    """
    if not collapse_penalty:
        return metric
    sign = "-" if direction == "maximize" else "+"
    return f"{metric} {sign} {collapse_penalty:g} × {PENALISED_SHARE}"


@dataclass(frozen=True)
class Objective:
    metric: str = catalogue.FRECHET.key
    direction: str = "minimize"
    collapse_penalty: float = 100.0  # added (minimize) or subtracted (maximize) x collapsed share

    @property
    def name(self) -> str:
        """What the trials' values are (`objective_name`): the Optuna dashboard shows it."""
        return objective_name(self.metric, self.direction, self.collapse_penalty)


@dataclass(frozen=True)
class Budget:
    trials: int | None = None  # search-only designs: number of trials
    gan_steps: int | None = None  # per trial; overrides config gan_steps
    minutes_per_trial: float | None = None  # per-trial wall-clock budget
    timeout_minutes: float | None = None  # workers take no new trial after this
    max_hours: float | None = None  # `study run` refuses a study predicted to take longer
    max_retries: int = 1  # re-runs of a cell whose trial raised


@dataclass(frozen=True)
class Pruner:
    kind: str = "collapse"
    patience: int = 2  # consecutive collapsed evaluations before pruning
    collapsed_share: float = 0.75  # share of collapsed clips that counts as collapsed
    warmup_evaluations: int = 1  # evaluations before any pruning


@dataclass(frozen=True)
class StorageSettings:
    heartbeat_interval_s: int = 30  # RDB storages: trial heartbeat
    grace_period_s: int = 120  # RDB storages: a trial without heartbeat this long is stale


@dataclass(frozen=True)
class Cell:
    """One grid point x replicate: the unit that runs exactly once."""

    point: tuple[tuple[str, Any], ...]  # sorted (axis, value) pairs; () without a grid
    replicate: int

    @property
    def key(self) -> str:
        axes = ",".join(f"{axis}={json.dumps(value)}" for axis, value in self.point)
        return f"{axes or 'search'}|rep={self.replicate}"

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.point)


@dataclass(frozen=True)
class StudySpec:
    name: str
    base_variant: str
    dataset: DatasetSpec
    overrides: Mapping[str, Any] = field(default_factory=dict)
    grid: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    search: tuple[SearchParam, ...] = ()
    replicates: int = 1
    seed: int = 0
    objective: Objective = Objective()
    budget: Budget = Budget()
    pruner: Pruner = Pruner()
    storage: StorageSettings = StorageSettings()
    description: str = ""
    source: dict[str, Any] = field(default_factory=dict)  # the TOML as read

    def cells(self) -> list[Cell]:
        """Every grid point x replicate (search-only: `budget.trials` cells)."""
        if not self.grid:
            return [Cell((), index) for index in range(self.budget.trials or 0)]
        axes = sorted(self.grid)
        points = itertools.product(*(self.grid[axis] for axis in axes))
        return [Cell(tuple(zip(axes, point, strict=True)), replicate)
                for point in points for replicate in range(self.replicates)]

    def trial_overrides(self, cell: Cell, searched: Mapping[str, Any]) -> dict[str, Any]:
        """Config overrides of one trial: spec overrides, budget, grid point, searched values."""
        overrides = dict(self.overrides)
        if self.budget.gan_steps is not None:
            overrides["gan_steps"] = self.budget.gan_steps
        overrides.update(cell.params)
        overrides.update(searched)
        return overrides

    def first_searched(self) -> dict[str, Any]:
        """Each searched parameter's low (a categorical one's first choice): the values the
        spec was checked with, and those of a cell's config before a trial samples its own."""
        return {param.name: (param.choices[0] if param.kind == "categorical" else
                             (int(param.low) if param.kind == "int" else float(param.low)))
                for param in self.search}

    def config(self, cell: Cell, searched: Mapping[str, Any] | None = None) -> SampleGANConfig:
        """The config a trial of `cell` trains: the base variant with `trial_overrides`, the
        searched values given (default: `first_searched`). The one way to get a cell's config.

        Raises:
            SampleGanError: a value the config refuses (`parse_spec` checks every grid point
                with the default searched values).
        """
        searched = self.first_searched() if searched is None else searched
        return get_variant(self.base_variant).config(self.trial_overrides(cell, searched))

    def trial_seed(self, cell: Cell) -> int:
        """Replicate r uses seed + r at every grid point, so comparisons are paired."""
        return self.seed + cell.replicate

    def fingerprint(self) -> str:
        """Hash of what defines the cells and their training; a changed spec is detected."""
        defining = {key: self.source.get(key) for key in
                    ("base_variant", "dataset", "overrides", "design", "budget", "seed")}
        return hashlib.sha256(json.dumps(defining, sort_keys=True, default=str).encode()).hexdigest()[:16]


# ----------------------------------------------------------------------------- parsing
_TOP_KEYS = {"name", "description", "base_variant", "seed", "dataset", "overrides", "design",
             "objective", "budget", "pruner", "storage"}


def _table(data: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise SpecError(f"{where}{key} must be a table")
    return value


def _no_unknown(table: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise SpecError(
            f"unknown key {where}{unknown[0]}; valid keys here: {', '.join(sorted(allowed))}"
        )


def _typed(table: Mapping[str, Any], key: str, kinds: tuple[type, ...], where: str,
           default: Any = None) -> Any:
    if key not in table:
        return default
    value = table[key]
    if bool not in kinds and isinstance(value, bool):
        raise SpecError(f"{where}{key} must be {' or '.join(k.__name__ for k in kinds)}, got {value!r}")
    if not isinstance(value, kinds):
        raise SpecError(f"{where}{key} must be {' or '.join(k.__name__ for k in kinds)}, got {value!r}")
    return value


def _positive(value: Any, key: str) -> Any:
    if value is not None and value <= 0:
        raise SpecError(f"{key} must be > 0, got {value!r}")
    return value


def _config_value(key: str, value: Any, where: str) -> Any:
    try:
        return coerce_value(key, value)
    except SampleGanError as exc:
        raise SpecError(f"{where}{key}: {exc}") from None


def _parse_dataset(data: Mapping[str, Any]) -> DatasetSpec:
    table = _table(data, "dataset", "")
    where = "dataset."
    _no_unknown(table, {"builtin", "path", "audio", "seconds", "pieces", "holdout_fraction",
                        "stride", "drop_silence_db"}, where)
    builtin = _typed(table, "builtin", (bool,), where, False)
    path = _typed(table, "path", (str,), where)
    audio = _typed(table, "audio", (list,), where, [])
    if sum([bool(builtin), path is not None, bool(audio)]) != 1:
        raise SpecError("dataset needs exactly one of builtin = true, path = \"...\" or audio = [...]")
    if not all(isinstance(item, str) for item in audio):
        raise SpecError("dataset.audio must be a list of paths or globs")
    holdout = _typed(table, "holdout_fraction", (float, int), where, 0.25)
    if not 0.0 <= holdout < 1.0:
        raise SpecError(f"dataset.holdout_fraction must be in [0, 1), got {holdout}")
    return DatasetSpec(
        builtin=builtin, path=path, audio=tuple(audio),
        seconds=float(_positive(_typed(table, "seconds", (float, int), where, 60.0), "dataset.seconds")),
        pieces=_positive(_typed(table, "pieces", (int,), where, 8), "dataset.pieces"),
        holdout_fraction=float(holdout),
        stride=_positive(_typed(table, "stride", (int,), where), "dataset.stride"),
        drop_silence_db=_typed(table, "drop_silence_db", (float, int), where),
    )


def _parse_search(table: Mapping[str, Any], grid: Mapping[str, Any]) -> tuple[SearchParam, ...]:
    params = []
    for given, raw in table.items():
        where, name = f"design.search.{given}", canonical_key(given)
        if name not in field_names():
            raise SpecError(f"unknown axis {where}; config keys: {', '.join(field_names())}")
        if name in grid:
            raise SpecError(f"{where} is also a grid axis; use one or the other")
        if not isinstance(raw, dict):
            raise SpecError(f"{where} must be a table like {{ low = 1e-5, high = 1e-3, log = true }}")
        _no_unknown(raw, {"low", "high", "log", "step", "choices"}, f"{where}.")
        if "choices" in raw:
            choices = raw["choices"]
            if not isinstance(choices, list) or not choices:
                raise SpecError(f"{where}.choices must be a non-empty list")
            params.append(SearchParam(name, "categorical", choices=tuple(
                _config_value(name, c, f"{where}.choices: ") for c in choices)))
            continue
        if "low" not in raw or "high" not in raw:
            raise SpecError(f"{where} needs low and high (or choices)")
        kind = field_type(name).__name__
        if kind not in ("int", "float"):
            raise SpecError(f"{where} is a {kind}: search it with choices = [...]")
        low = _config_value(name, raw["low"], f"{where}.low: ")
        high = _config_value(name, raw["high"], f"{where}.high: ")
        if high <= low:
            raise SpecError(f"{where}.high must be above low")
        log = _typed(raw, "log", (bool,), f"{where}.", False)
        if log and low <= 0:
            raise SpecError(f"{where}.low must be > 0 with log = true")
        params.append(SearchParam(name, kind, low=low, high=high, log=log,
                                  step=_typed(raw, "step", (int, float), f"{where}.")))
    return tuple(params)


def parse_spec(data: Mapping[str, Any], origin: str = "spec") -> StudySpec:
    """Validate a spec's TOML table; raises `SpecError` naming the offending key."""
    _no_unknown(data, _TOP_KEYS, "")
    name = _typed(data, "name", (str,), "")
    if not name or not all(ch.isalnum() or ch in "-_." for ch in name):
        raise SpecError(f"{origin}: name must be a non-empty string of letters, digits, - _ .")
    base = _typed(data, "base_variant", (str,), "", "paper")
    if base not in VARIANTS:
        raise SpecError(f"base_variant {base!r} is unknown; variants: {', '.join(VARIANTS)}")
    overrides = _parse_overrides(_table(data, "overrides", ""))
    design = _table(data, "design", "")
    _no_unknown(design, {"grid", "search", "replicates"}, "design.")
    grid = _parse_grid(_table(design, "grid", "design."))
    search = _parse_search(_table(design, "search", "design."), grid)
    replicates = _positive(_typed(design, "replicates", (int,), "design.", 1), "design.replicates")
    objective = _parse_objective(_table(data, "objective", ""))
    budget = _parse_budget(_table(data, "budget", ""), grid, search)
    pruner = _parse_pruner(_table(data, "pruner", ""))
    storage = _parse_storage(_table(data, "storage", ""))
    spec = StudySpec(
        name=name, base_variant=base, dataset=_parse_dataset(data), overrides=overrides,
        grid=grid, search=search, replicates=replicates,
        seed=_typed(data, "seed", (int,), "", 0), objective=objective, budget=budget,
        pruner=pruner, storage=storage,
        description=_typed(data, "description", (str,), "", ""), source=dict(data),
    )
    _check_cells_resolve(spec)
    return spec


def _parse_overrides(overrides_table: Mapping[str, Any]) -> dict[str, Any]:
    overrides = {}
    for given, value in overrides_table.items():
        key = canonical_key(given)
        if key not in field_names():
            raise SpecError(f"unknown key overrides.{given}; config keys: {', '.join(field_names())}")
        overrides[key] = _config_value(key, value, "overrides.")
    return overrides


def _parse_grid(grid_table: Mapping[str, Any]) -> dict[str, tuple[Any, ...]]:
    grid: dict[str, tuple[Any, ...]] = {}
    for given, values in grid_table.items():
        axis = canonical_key(given)  # a renamed key (`lstm_mode`) is its new name's axis
        if axis not in field_names():
            raise SpecError(f"unknown axis design.grid.{given}; config keys: {', '.join(field_names())}")
        if not isinstance(values, list):
            raise SpecError(f"design.grid.{given} must be a list of values")
        if not values:
            raise SpecError(f"design.grid.{given} is empty: the grid would have no points")
        checked = tuple(_config_value(axis, value, f"design.grid.{given}: ") for value in values)
        if len(set(map(json.dumps, checked))) != len(checked):
            raise SpecError(f"design.grid.{given} repeats a value")
        grid[axis] = checked
    return grid


def _parse_objective(objective_table: Mapping[str, Any]) -> Objective:
    _no_unknown(objective_table, {"metric", "direction", "collapse_penalty"}, "objective.")
    objective = Objective(
        metric=_typed(objective_table, "metric", (str,), "objective.", Objective.metric),
        direction=_typed(objective_table, "direction", (str,), "objective.", Objective.direction),
        collapse_penalty=float(_typed(objective_table, "collapse_penalty", (int, float),
                                      "objective.", Objective.collapse_penalty)),
    )
    if objective.metric not in OBJECTIVE_METRICS:
        known = objective.metric in catalogue.all_keys()
        raise SpecError(f"objective.metric {objective.metric!r} is "
                        f"{'logged but not an objective' if known else 'unknown'}; "
                        f"choose from {', '.join(OBJECTIVE_METRICS)}")
    if objective.direction not in ("minimize", "maximize"):
        raise SpecError("objective.direction must be minimize or maximize")
    return objective


def _parse_budget(budget_table: Mapping[str, Any], grid: Mapping[str, Any],
                  search: Mapping[str, Any]) -> Budget:
    _no_unknown(budget_table, {"trials", "gan_steps", "minutes_per_trial", "timeout_minutes",
                               "max_hours", "max_retries"}, "budget.")
    budget = Budget(
        trials=_positive(_typed(budget_table, "trials", (int,), "budget."), "budget.trials"),
        gan_steps=_typed(budget_table, "gan_steps", (int,), "budget."),
        minutes_per_trial=_positive(_typed(budget_table, "minutes_per_trial", (int, float),
                                           "budget."), "budget.minutes_per_trial"),
        timeout_minutes=_positive(_typed(budget_table, "timeout_minutes", (int, float), "budget."),
                                  "budget.timeout_minutes"),
        max_hours=_positive(_typed(budget_table, "max_hours", (int, float), "budget."),
                            "budget.max_hours"),
        max_retries=_typed(budget_table, "max_retries", (int,), "budget.", 1),
    )
    if budget.gan_steps is not None and budget.gan_steps < 0:
        raise SpecError("budget.gan_steps must be >= 0")
    if budget.max_retries < 0:
        raise SpecError("budget.max_retries must be >= 0")
    if grid and budget.trials is not None:
        raise SpecError("budget.trials is only for search-only designs: the grid fixes the trial "
                        "count (points x design.replicates)")
    if not grid and budget.trials is None:
        raise SpecError("design.grid is missing: give a grid, or a search with budget.trials")
    if not grid and not search:
        raise SpecError("design needs a grid, a search, or both")
    return budget


def _parse_pruner(pruner_table: Mapping[str, Any]) -> Pruner:
    _no_unknown(pruner_table, {"kind", "patience", "collapsed_share", "warmup_evaluations"}, "pruner.")
    pruner = Pruner(
        kind=_typed(pruner_table, "kind", (str,), "pruner.", Pruner.kind),
        patience=_positive(_typed(pruner_table, "patience", (int,), "pruner.", Pruner.patience),
                           "pruner.patience"),
        collapsed_share=float(_typed(pruner_table, "collapsed_share", (int, float), "pruner.",
                                     Pruner.collapsed_share)),
        warmup_evaluations=_typed(pruner_table, "warmup_evaluations", (int,), "pruner.",
                                  Pruner.warmup_evaluations),
    )
    if pruner.kind not in PRUNER_KINDS:
        raise SpecError(f"pruner.kind must be one of {', '.join(PRUNER_KINDS)}")
    if not 0.0 < pruner.collapsed_share <= 1.0:
        raise SpecError("pruner.collapsed_share must be in (0, 1]")
    return pruner


def _parse_storage(storage_table: Mapping[str, Any]) -> StorageSettings:
    _no_unknown(storage_table, {"heartbeat_interval_s", "grace_period_s"}, "storage.")
    storage = StorageSettings(
        heartbeat_interval_s=_positive(_typed(storage_table, "heartbeat_interval_s", (int,),
                                              "storage.", 30), "storage.heartbeat_interval_s"),
        grace_period_s=_positive(_typed(storage_table, "grace_period_s", (int,), "storage.", 120),
                                 "storage.grace_period_s"),
    )
    if storage.grace_period_s <= storage.heartbeat_interval_s:
        raise SpecError("storage.grace_period_s must exceed storage.heartbeat_interval_s")
    return storage


def _check_objective_computable(spec: StudySpec, config, where: str) -> None:
    """A Fréchet objective needs more log-mel frames than dimensions in every evaluation;
    a bits-per-sample objective needs a mu-law head (an MSE has no bits); a music objective
    needs clips of at least the music family's minimum length (docs/music.md)."""
    if spec.objective.metric in catalogue.BITS_OF and config.output_head != "mulaw":
        raise SpecError(
            f"objective.metric {spec.objective.metric} is logged only with a mu-law head, but "
            f"{where} has output_head={config.output_head}; use "
            f"{catalogue.BITS_OF[spec.objective.metric].key} or set output_head = \"mulaw\"")
    music = catalogue.MUSIC
    seconds = config.eval_length / config.sample_rate
    if catalogue.metric(spec.objective.metric).family == music.name and seconds < music.min_clip_seconds:
        raise SpecError(
            f"objective.metric {spec.objective.metric} is logged only for evaluation clips of at "
            f"least {music.min_clip_seconds:g} s, but {where} generates clips of {seconds:.3g} s "
            f"({config.eval_length} samples at {config.sample_rate} Hz); set overrides.eval_samples "
            f"= {math.ceil(music.min_clip_seconds * config.sample_rate)} or more")
    if spec.objective.metric != catalogue.FRECHET.key:
        return
    from harness.evaluation.quality import MEL_BANDS, logmel_frame_count

    frames = config.eval_clips * logmel_frame_count(config.eval_length, config.sample_rate)
    if frames <= MEL_BANDS:
        raise SpecError(
            f"objective.metric {spec.objective.metric} needs more audio per evaluation than "
            f"{where} generates ({config.eval_clips} clips x {config.eval_length} samples = "
            f"{frames} log-mel frames, need > {MEL_BANDS}); raise overrides.eval_samples or "
            f"eval_clips, or use {catalogue.MR_LSD.key}"
        )


def _check_cells_resolve(spec: StudySpec) -> None:
    """Every grid point (with search lows) must give a valid config; name the first that fails."""
    seen = set()
    for cell in spec.cells():
        if cell.point in seen:
            continue
        seen.add(cell.point)
        where = ", ".join(f"{axis}={value}" for axis, value in cell.point) or "the overrides"
        try:
            config = spec.config(cell)
        except SampleGanError as exc:
            raise SpecError(f"grid point {where}: {exc}") from None
        _check_objective_computable(spec, config, f"grid point {where}")


def load_spec(path: Path) -> StudySpec:
    """Read and validate a spec file."""
    try:
        data = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise SpecError(f"study spec {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"study spec {path} is not valid TOML: {exc}") from None
    return parse_spec(data, origin=str(path))
