"""The report's media sections: collapse histories and the listening table of chosen runs' clips."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from harness.data.audio import decode_audio, write_wav
from harness.evaluation.diagnostics import COLLAPSED_LABELS, LABELS
from harness.report.ablation_figures import (
    plot_label_shares,
    plot_onset_histogram,
)
from harness.report.analysis import Analysis
from harness.report.answers import num
from harness.report.document import Document
from harness.report.media import (
    LISTEN_CLIPS,
    RunFinal,
    fetch_final,
    listening_length,
    real_clip,
)
from harness.report.reading import StudyData, progress
from harness.report.sections import run_reference
from harness.report.stats import (
    COLLAPSE,
    FINISHED_STATES,
    OBJECTIVE,
    label_shares,
)
from harness.tracking.run_figures import plot_clips
from harness.tracking.run_page import PITCH_PNG
from models.registry import resolve


@dataclass
class Media:
    """Final evaluations of the study's runs, fetched from MLflow into a scratch folder."""

    finals: dict[str, RunFinal]  # run id -> its final evaluation
    clip_onsets: dict[str, list[float]]  # variant -> onset / n of its collapsed clips

    @classmethod
    def fetch(cls, data: StudyData, scratch: Path, group: str) -> Media:
        finals: dict[str, RunFinal] = {}
        onsets: dict[str, list[float]] = {}
        if data.tracking is None:
            return cls(finals, onsets)
        client = data.tracking.client()
        for _, row in progress(list(data.frame.iterrows()), "report: final clips"):
            run_id = row["mlflow_run_id"]
            if not isinstance(run_id, str) or run_id not in data.artifact_uris:
                continue
            final = fetch_final(client, run_id, scratch, with_audio=False)
            finals[run_id] = final
            onsets.setdefault(row[group], []).extend(
                value for value in final.onsets_over_n if value is not None)
        return cls(finals, onsets)


def collapse_section(document: Document, data: StudyData, analysis: Analysis,
                      media: Media, folder: Path) -> None:
    document.heading("Collapse")
    shares = label_shares(data.frame, analysis.group)
    if shares.empty:
        document.paragraph("No run has a final evaluation in MLflow yet.")
        return
    plot_label_shares(shares, folder / "label_shares.png")
    document.image("label_shares.png", "clip label shares per variant")
    document.paragraph("Mean share of clips with each label at the final evaluation (a pruned "
                       "run's last evaluation), over the runs of each variant.")
    onsets = {name: values for name, values in media.clip_onsets.items() if values}
    if onsets:
        plot_onset_histogram(onsets, folder / "onset_histogram.png")
        document.image("onset_histogram.png", "collapse onset / n of every collapsed clip")
        document.paragraph(
            "Collapse onset / n of every clip that settles to a constant, at the final "
            "evaluation: near 1 is the paper's failure (the seed has just left the window).")
    else:
        document.paragraph("No clip of any final evaluation settles to a constant: there is "
                           "no collapse onset to show.")
    variants = analysis.variants
    collapsing = variants[variants["collapse_rate"] > 0].sort_values("collapse_rate",
                                                                     ascending=False)
    document.paragraph(
        f"Which variants collapse and when ({len(collapsing)} of {len(variants)} variants have "
        "collapsed clips). A run collapses at the first evaluation with at least "
        f"{data.collapsed_threshold:.0%} of its clips collapsed (the study pruner's threshold); "
        "a trial pruned as collapsed is wholly "
        "collapsed.")
    rows = []
    for variant, row in collapsing.iterrows():
        members = analysis.frame[analysis.frame[analysis.group] == variant]
        runs_collapsed = int((members[COLLAPSE] >= data.collapsed_threshold).sum())
        rows.append([str(variant), num(row["collapse_rate"], 2),
                     f"{runs_collapsed} of {int(row['finished'])}",
                     num(row["first_collapsed_step"]), num(row["median_onset_over_n"], 3),
                     *(f"{row[f'share_{label}']:.2f}" for label in LABELS)])
    document.table(["variant", "collapse rate", "runs collapsed", "first collapsed step "
                    "(median)", "median onset / n", *LABELS], rows or [["none"] + ["–"] * (4 + len(LABELS))],
                   sortable=True)


def paper_likeness(frame: pd.DataFrame, group: str, axes: Sequence[str]) -> dict[str, int]:
    """Variant -> how many of its grid levels are the `paper` variant's.

    A `gan_steps` level counts as the paper's when it trains a GAN at all (the paper's
    budget is ours to choose); the other axes compare the value itself.
    """
    paper = resolve("paper").to_dict()
    likeness = {}
    for variant, rows in frame.groupby(group, sort=False):
        first = rows.iloc[0]
        likeness[variant] = sum(
            (first[axis] > 0) if axis == "gan_steps" else (first[axis] == paper[axis])
            for axis in axes if axis in paper and axis in first.index)
    return likeness


def _pick_run(frame: pd.DataFrame, media: Media) -> pd.Series | None:
    """The variant's typical run: finished, with final clips, objective nearest the median."""
    candidates = frame[frame["state"].isin(FINISHED_STATES)
                       & frame["mlflow_run_id"].isin(list(media.finals))].copy()
    if candidates.empty:
        return None
    median = candidates[OBJECTIVE].median()
    candidates["_distance"] = (candidates[OBJECTIVE] - median).abs()
    return candidates.sort_values(["_distance", "trial_number"], na_position="last").iloc[0]


def listening_section(document: Document, data: StudyData, analysis: Analysis,
                      media: Media, folder: Path, scratch: Path) -> None:
    document.heading("Listening")
    ranked = analysis.variants.dropna(subset=[OBJECTIVE]).sort_values(
        OBJECTIVE, ascending=data.direction == "minimize")
    if ranked.empty or data.tracking is None:
        document.paragraph("No finished run with clips in MLflow yet: nothing to listen to.")
        return
    frame = analysis.frame
    finished = ranked  # pruned variants too: a paper corner pruned as collapsed is the contrast
    completed = set(frame.loc[frame["state"] == "COMPLETE", analysis.group])
    if completed:  # a variant with only pruned trials was stopped early: it is neither
        ranked = ranked[ranked.index.isin(completed)]
        roles = ("best", "worst")
    else:
        document.paragraph(
            "No trial completed (every finished trial was pruned), so no variant is best or "
            "worst: here are the variants with the lowest and the highest last reported "
            "objective, values from the GAN step where each trial was pruned.")
        ranked = ranked.sort_values(OBJECTIVE)
        roles = ("lowest", "highest")
    paper_like = paper_likeness(analysis.frame, analysis.group, data.axes)
    client = data.tracking.client()
    clip_length = rate = window_n = None
    for role, variant in _picks(ranked, roles, paper_like, finished.index):
        run = _pick_run(analysis.frame[analysis.frame[analysis.group] == variant], media)
        if role == "paper":
            document.subheading(f"The variant closest to the paper ({paper_like[variant]} of "
                                f"{len(data.axes)} grid levels the paper's): {variant}")
        else:
            document.subheading(f"The {role} variant: {variant}" if completed
                                else f"The variant with the {role} objective: {variant}")
        if run is None:
            document.paragraph("None of its runs has final clips in MLflow.")
            continue
        final = fetch_final(client, run["mlflow_run_id"], scratch / role, with_audio=True)
        window_n = int(data.run_params.get(run["mlflow_run_id"], {}).get("config.n", 0)) or None
        document.paragraph(
            f"Mean objective {num(analysis.variants.at[variant, OBJECTIVE])}; clips of its "
            f"replicate {num(run['replicate'])} (objective {num(run[OBJECTIVE])}, nearest the "
            f"variant's median), MLflow run {run_reference(data, run['mlflow_run_id'])}.")
        # The first pick's healthy clips first, the other's collapsed ones: the contrast.
        wanted = ("healthy",) if role == roles[0] else COLLAPSED_LABELS
        length, clip_rate = _listen(document, final, role, wanted, folder)
        if length is not None:  # else the previous pick's clips set the real clip's length
            clip_length, rate = length, clip_rate
    _real_audio(document, data, folder, clip_length, rate, window_n)


def _picks(ranked: pd.DataFrame, roles: tuple[str, str], paper_like: dict[str, int],
           finished: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """(role, variant) to listen to: the first-ranked, then the one closest to the paper
    (worst first on ties) or, without one, the last-ranked.

    `finished` (ranked best first; default `ranked`) are the variants the paper pick may come
    from: also those whose every trial was pruned, which `ranked` leaves out when some
    variant completed, since the paper's own corner is often pruned as collapsed."""
    picks = [(roles[0], ranked.index[0])]
    pool = list(ranked.index if finished is None else finished)
    if len(pool) > 1:
        closest = [variant for variant in reversed(pool)
                   if variant != ranked.index[0] and paper_like.get(variant, 0) > 0]
        if closest:  # the grid point with the most of the paper's parts, worst first on ties
            top = max(paper_like[variant] for variant in closest)
            picks.append(("paper",
                          next(variant for variant in closest if paper_like[variant] == top)))
        elif len(ranked) > 1:
            picks.append((roles[1], ranked.index[-1]))
    return picks


def _listen(document: Document, final: RunFinal, role: str, wanted: Sequence[str],
            folder: Path) -> tuple[int | None, int | None]:
    """The run's clips its figure shows, `wanted` labels first, and the figure; returns
    the length and rate of the last clip written (None, None without clips)."""
    clip_length = rate = None
    labels = [final.clip_labels[index] if index < len(final.clip_labels) else "?"
              for index in range(len(final.wavs))]
    shown = range(min(len(final.wavs), LISTEN_CLIPS))  # the clips its figure shows
    for index in sorted(shown, key=lambda index: labels[index] not in wanted):
        decoded = decode_audio(final.wavs[index])
        audio, rate = decoded.audio, decoded.sample_rate_hz
        clip_length = listening_length(rate, len(audio))
        name = f"listen_{role}_{index:02d}.wav"
        write_wav(folder / name, audio[:clip_length], rate)
        document.audio(name, f"{role} · clip {index} · {labels[index]}")
    if final.clips_png is not None:
        shutil.copy2(final.clips_png, folder / f"listen_{role}.png")
        document.image(f"listen_{role}.png", f"waveforms and spectrograms, {role} variant")
    pitch_png = final.folder / PITCH_PNG if final.folder else None
    if role == "best" and pitch_png is not None and pitch_png.is_file():  # drawn by runs with long clips
        shutil.copy2(pitch_png, folder / f"listen_{role}_pitch.png")
        document.image(f"listen_{role}_pitch.png", f"pitch track of clip 0 beside a held-out clip, "
                       f"{role} variant: does it hold a pitch?")
    return clip_length, rate


def _real_audio(document: Document, data: StudyData, folder: Path, clip_length: int | None,
                rate: int | None, window_n: int | None) -> None:
    """Held-out audio of the generated clips' length, from the runs' dataset."""
    document.subheading("Real held-out audio")
    dataset_paths = {params.get("dataset.path") for params in data.run_params.values()}
    dataset_path = sorted(path for path in dataset_paths if path)[:1]
    if clip_length is None or rate is None:
        document.paragraph("No generated clip to match in length.")
        return
    clip, source = real_clip(dataset_path[0] if dataset_path else None, clip_length)
    if clip is None:
        document.paragraph(f"No real clip: {source}.")
        return
    write_wav(folder / "listen_real.wav", clip, rate)
    document.audio("listen_real.wav", f"real · {clip_length} samples from the {source}")
    plot_clips([clip], rate, window_n or clip_length, None, folder / "listen_real.png")
    document.image("listen_real.png", "waveform and spectrogram of the real clip")
