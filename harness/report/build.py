"""`samplegan report`: the ablation report of one study, answering which choice matters.

The Optuna study holds the design and how every trial ended; MLflow holds each run's
parameters (provenance, dataset), final diagnosis and quality metrics, and its final
clips. `harness.report.reading` joins them into one row per cell; `analysis` computes
what every section draws on; `answers` words the findings; `sections` and `listening`
write the rest; the statistics live in `stats`, the figures in `ablation_figures`, the clips and
collapse histories in `media` and the Markdown/HTML rendering in `document`.
`write_report` writes Markdown with PNG plots and .wav clips beside it, a
self-contained `index.html` (images and clips as data URIs, so it can be mailed and
also renders inside the MLflow UI) and a CSV, built in a temporary folder and renamed
into place, and logs the folder to the study's parent MLflow run as `report/`.

Two conventions shape every number: a trial pruned as collapsed counts as fully
collapsed (`collapsed_outcome` = 1), and a pruned trial enters the objective analysis
with the last value it reported (from an earlier step than the completed trials).
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.common.files import file_lock, publish
from harness.report.analysis import Analysis
from harness.report.answers import answer_lines
from harness.report.document import Document
from harness.report.listening import Media, collapse_section, listening_section
from harness.report.music_section import music_figures, music_section, skip_reason
from harness.report.reading import StudyData, read_study
from harness.report.sections import (
    HOW_TO_READ,
    effects_section,
    missing_lines,
    mlflow_section,
    search_section,
    study_section,
    trials_section,
    variants_section,
)
from harness.report.stats import (
    FINISHED_STATES,
)
from harness.tracking.store import TrackedRun
from models.errors import SampleGanError

logger = logging.getLogger(__name__)

REPORT_MARKER = "report.json"  # names the study a report folder belongs to; only those are replaced


def _summary(data: StudyData, analysis: Analysis, answers: list[str], finished: int) -> dict[str, Any]:
    """What report.json holds: the answer, the variants, the trials and the tests, for programs."""
    frame = analysis.frame
    return {
        "study": data.name,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cells": len(frame),
        "cells_finished": finished,
        "trial_states": data.trial_states,
        "missing": missing_lines(data),
        "answers": answers,
        "variants": _json_ready(analysis.variants.reset_index(names="variant")),
        "music": music_figures(analysis.variants, skip_reason(frame, data.run_params)),
        "trials": _json_ready(frame),
        "collapse_ranking": _json_ready(analysis.collapse_ranking),
        "objective_ranking": _json_ready(analysis.objective_ranking),
        "objective_tests": _json_ready(analysis.objective_tests),
        "collapse_tests": _json_ready(analysis.collapse_tests),
        "param_importances": data.importances,
        "mlflow_parent_run_id": data.parent_run_id,
    }


def _build_report(data: StudyData, folder: Path) -> dict[str, Any]:
    """Write index.html, report.md, the PNGs and clips, trials.csv and report.json into `folder`.

    Returns:
        The summary written to report.json.
    """
    group = "point" if data.axes else "cell"
    with tempfile.TemporaryDirectory(prefix="samplegan-report-") as temp:
        scratch = Path(temp)
        media = Media.fetch(data, scratch, group)
        analysis = Analysis.of(data, media.clip_onsets)
        frame = analysis.frame
        frame.to_csv(folder / "trials.csv", index=False)
        finished = int(frame["state"].isin(FINISHED_STATES).sum())
        sources = (
            f"Generated {datetime.now(UTC).isoformat(timespec='seconds')} from Optuna storage "
            f"`{data.storage_display}` and MLflow `{data.tracking_display}`; {finished} of "
            f"{len(frame)} cells with a trial finished"
            + (f" ({data.design_cells} in the design)." if data.design_cells else "."))
        # As a paper: the answer and what to listen to first, the methods (provenance) after.
        document = Document(f"Ablation report: study `{data.name}`")
        document.heading("Answer")
        answers = answer_lines(data, analysis)
        document.bullets(answers)
        document.paragraph(HOW_TO_READ)
        listening_section(document, data, analysis, media, folder, scratch)
        variants_section(document, data, analysis)
        music_section(document, analysis.variants, skip_reason(frame, data.run_params))
        study_section(document, data, sources)
        if analysis.factors:
            effects_section(document, data, analysis, folder)
        if data.searched:
            search_section(document, data, analysis, folder)
        collapse_section(document, data, analysis, media, folder)
        trials_section(document, data, analysis, folder)
        mlflow_section(document, data)
    document.paragraph("Files: `index.html` (self-contained: images and clips embedded), "
                       "`report.md` with the PNG plots and .wav clips beside it, `trials.csv` "
                       "(one row per cell, the numbers above), `report.json` (this summary for "
                       "programs).")

    (folder / "report.md").write_text(document.markdown())
    (folder / "index.html").write_text(document.html(folder))
    summary = _summary(data, analysis, answers, finished)
    (folder / REPORT_MARKER).write_text(json.dumps(summary, indent=2, default=_json_default))
    return summary


def _json_default(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else str(value)


def _json_ready(table: pd.DataFrame) -> list[dict[str, Any]]:
    return [{key: (None if isinstance(value, float) and not math.isfinite(value) else value)
             for key, value in row.items()} for row in table.to_dict(orient="records")]


def _check_replaceable(folder: Path, study_name: str) -> None:
    """Refuse to replace anything but an empty folder or an earlier report of this study."""
    if not folder.exists():
        return
    if not folder.is_dir():
        raise SampleGanError(f"{folder} exists and is not a folder; choose another --out")
    if not any(folder.iterdir()):
        return
    try:
        owner = json.loads((folder / REPORT_MARKER).read_text()).get("study")
    except (OSError, ValueError, AttributeError):
        owner = None
    if owner != study_name:
        raise SampleGanError(f"{folder} exists and is not a report of study {study_name!r}; "
                             "choose another --out or remove that folder")


def write_report(study_name: str, out: Path | None = None, storage: str | None = None,
                 tracking_uri: str | None = None) -> Path:
    """Write the ablation report of a study and log it to the study's parent MLflow run.

    The folder is built under a hidden temporary name beside `out` and renamed into place,
    so an interrupted report never looks complete; an existing `out` is replaced only if it
    is empty or an earlier report of the same study.

    Args:
        study_name: The study's name.
        out: Report folder [default: ``reports/<study>`` in the current directory].
        storage: Optuna storage URL (see `trials_frame`).
        tracking_uri: MLflow tracking URI (see `trials_frame`).

    Returns:
        The absolute path of ``index.html`` (self-contained: opens anywhere). Beside it:
        ``report.md``, ``trials.csv``, ``report.json`` (summary) and the PNG plots.

    Raises:
        SampleGanError: unknown study or storage, a study without trials, or `out` holds
            something else.
    """
    data = read_study(study_name, storage, tracking_uri)
    if data.frame.empty:
        raise SampleGanError(f"study {study_name!r} has no trials yet ({data.storage_display}): "
                             "start it with `samplegan study run SPEC`, then report")
    folder = (Path(out) if out is not None else Path("reports") / study_name).absolute()
    _check_replaceable(folder, study_name)
    folder.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{folder.name}.partial-", dir=folder.parent))
    try:
        _build_report(data, building)
        building.chmod(0o755)  # mkdtemp's 0700 would hide the report from other users
        with file_lock(folder.parent / f".{folder.name}.lock"):
            _check_replaceable(folder, study_name)
            publish(building, folder)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    if data.tracking and data.parent_run_id:
        from mlflow.exceptions import MlflowException

        try:
            TrackedRun(data.tracking, data.parent_run_id).log_artifacts(folder, "report")
        except (MlflowException, OSError) as error:
            logger.warning("report written to %s but not logged to MLflow run %s: %s", folder,
                           data.parent_run_id, str(error).splitlines()[0] if str(error) else error)
    return folder / "index.html"
