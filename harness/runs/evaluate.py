"""`samplegan evaluate`: how much a finished run's quality and music figures move with the evaluation's draw.

A run is judged on one evaluation: `eval_clips` clips generated from held-out seed segments
its seed picks, with sampling its seed fixes. Draw 0 repeats exactly that evaluation from
the exported model (its figures equal the run's logged ones on the same machine); draws
1..N seed the same number of clips from other held-out segments of the same pool and
sample with other seeds. Their spread separates the noise of one evaluation from the
differences between trained models. Music metrics are repeated and redrawn too when the
run's clips are long enough (`harness.training.schedule.music_plan`, as the run decided).
Read-only: nothing is logged to the run.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np

from harness.common.quiet_tf import import_tensorflow_quietly
from harness.common.signals import install_stop_handlers, raise_if_stop_requested
from harness.evaluation import catalogue
from harness.evaluation.catalogue import MR_LSD, NOTES_SUMMARY, SHARE_HEALTHY, floor_wording
from models.config import check_sampling_keys
from models.errors import SampleGanError
from models.registry import parse_overrides

REDRAW_SAMPLING_SEED = 1000  # draw k >= 1 samples with seed REDRAW_SAMPLING_SEED + k


def redraw_rows(run_seed: int, draw: int, pool: int, clips: int) -> np.ndarray:
    """The rows of the evaluation segments draw `draw` seeds from: the run's own first
    `clips` for draw 0, else `clips` distinct rows drawn by (run seed, draw)."""
    if draw == 0:
        return np.arange(min(clips, pool))
    return np.random.default_rng([run_seed, 99, draw]).choice(pool, min(clips, pool), replace=False)


def _dataset_of(run, data_dir: Path | None):
    """The dataset the run trained on, checked by its manifest's hash."""
    from harness.data.dataset import MANIFEST_NAME
    from harness.data.loader import load_dataset, manifest_sha256

    params = run.data.params
    if data_dir is not None:
        path = data_dir
        if not (path / MANIFEST_NAME).is_file():
            raise SampleGanError(f"--data {path} is not a samplegan dataset (no {MANIFEST_NAME})")
    elif "dataset.path" in params:
        path = Path(params["dataset.path"])
        if not (path / MANIFEST_NAME).is_file():
            raise SampleGanError(f"dataset {path} of run {run.info.run_id} not found; pass --data "
                                 "with the dataset folder it trained on")
    else:
        raise SampleGanError(f"run {run.info.run_id} records no dataset; pass --data")
    recorded = params.get("dataset.manifest_sha256")
    if recorded and manifest_sha256(path) != recorded:
        raise SampleGanError(f"dataset {path} is not the one run {run.info.run_id} trained on "
                             f"(manifest hash differs from {recorded[:12]}...)")
    return load_dataset(path)


def _summary(values: list[float]) -> dict[str, float]:
    return {"mean": statistics.fmean(values),
            "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
            "min": min(values), "max": max(values)}


def _draw_figures(clips: np.ndarray, config, reference, music, seed: int) -> tuple[dict, dict]:
    """The figures of one draw's clips, and the music floors' notes (why no verdict)."""
    from harness.evaluation.diagnostics import diagnose_batch
    from harness.evaluation.quality import quality_metrics, within_floor

    quality = quality_metrics(list(clips), reference, config.sample_rate, seed=seed)
    diagnosis = diagnose_batch(list(clips), config.sample_rate, config.n)
    distance, floor = quality["mr_lsd_db"], quality["mr_lsd_db_real_vs_real"]
    music_values, floor_notes = music.measure(clips)
    notes = music_values.get(NOTES_SUMMARY.name)
    notes_p95 = music_values.get(NOTES_SUMMARY.name + catalogue.FLOOR_PARTS["p95"])
    return {
        "mr_lsd_db": distance, "mr_lsd_db_real_vs_real": floor,
        "mr_lsd_db_real_vs_real_p95": quality["mr_lsd_db_real_vs_real_p95"],
        "ratio": distance / floor if floor else None,
        "within_floor": within_floor(distance, quality["mr_lsd_db_real_vs_real_p95"]),
        "share_healthy": diagnosis.metrics["share_healthy"],
        "collapsed_share": diagnosis.metrics["collapsed_share"],
        "labels": [clip.label for clip in diagnosis.clips],
        "rms": float(np.sqrt(np.mean(np.square(clips, dtype=np.float64)))),
        "notes_summary": notes, "notes_summary_real_vs_real_p95": notes_p95,
        "notes_within_floor": within_floor(notes, notes_p95),
        "music": catalogue.keyed(catalogue.MUSIC.name, music_values) if music.enabled else None,
    }, floor_notes


def _load(run_id: str, data_dir: Path | None, tracking_uri: str | None,
          sampling: dict) -> tuple[Any, Any, Any]:
    """(the MLflow run, its dataset, its exported model sampled with `sampling`), checked to
    fit each other; TensorFlow is imported only once the inputs are known to be good."""
    from harness.tracking.store import TrackingStore, download_artifacts, get_run

    store = TrackingStore.open(tracking_uri, create=False)  # read-only: never make a store
    run = get_run(store, run_id)
    if "seed" not in run.data.params:
        raise SampleGanError(f"run {run_id} is not a training run (it records no seed)")
    dataset = _dataset_of(run, data_dir)
    model_dir = download_artifacts(store, run_id, "model")
    import_tensorflow_quietly()
    from models.sample_gan import SampleGAN

    model, _ = SampleGAN.load(model_dir, sampling)
    config = model.config
    if dataset.n != config.n or dataset.sample_rate != config.sample_rate:
        raise SampleGanError(f"dataset {dataset.path} is n={dataset.n} at {dataset.sample_rate} Hz; "
                             f"run {run_id} needs n={config.n} at {config.sample_rate} Hz")
    return run, dataset, model


def evaluate_command(*, run_id: str, draws: int, data_dir: Path | None,
                     tracking_uri: str | None, progress: bool = True,
                     assignments: list[str] | None = None) -> dict:
    """Repeat a finished run's final evaluation (draw 0) and redraw it `draws` times.

    `assignments` ("KEY=VALUE", the CLI's --set) sample differently (the sampling keys only,
    `models.config.SAMPLING_KEYS`): the same trained model, held-out segments and seeds,
    scored at, say, another mu-law temperature. Draw 0 then no longer repeats the logged
    figures.

    Returns:
        {"run_id", "seed", "clips", "samples", "draws": [per draw: draw, sampling_seed,
        rows, mr_lsd_db, mr_lsd_db_real_vs_real, mr_lsd_db_real_vs_real_p95, ratio,
        within_floor, share_healthy, collapsed_share, labels, rms, notes_summary,
        notes_summary_real_vs_real_p95, notes_within_floor, music: {music/<name>: value, floor
        partners included} or None], "sampling": the --set sampling keys ({} for the run's
        own), "music": the `samplegan.music` status line,
        "music_floor_notes": {metric: why no verdict}, "logged": {quality/mr_lsd_db,
        eval/share_healthy, music/notes_summary as the run logged them}, "summary": {mr_lsd_db,
        ratio, share_healthy, notes_summary: mean/sd/min/max over every draw}}.
    """
    from harness.data.evaluation_audio import evaluation_segments, reference_clips
    from harness.evaluation.quality import ReferenceSet
    from harness.training.schedule import music_plan

    install_stop_handlers()
    sampling = parse_overrides(assignments or [])
    check_sampling_keys(sampling)
    run, dataset, model = _load(run_id, data_dir, tracking_uri, sampling)
    from harness.training.generation import evaluation_clips

    config, seed = model.config, int(run.data.params["seed"])
    segments = evaluation_segments(dataset, seed)
    reference = ReferenceSet(reference_clips(dataset, config.eval_length, segments),
                             config.sample_rate)
    music = music_plan(config, dataset, seed)
    floor_notes: dict[str, str] = {}
    results = []
    for draw in range(draws + 1):
        raise_if_stop_requested()
        rows = redraw_rows(seed, draw, len(segments), config.eval_clips)
        sampling_seed = seed if draw == 0 else REDRAW_SAMPLING_SEED + draw
        clips = evaluation_clips(model, segments[rows], config.eval_length, sampling_seed)
        figures, floor_notes = _draw_figures(clips, config, reference, music, seed)
        results.append({"draw": draw, "sampling_seed": sampling_seed, "rows": rows.tolist(),
                        **figures})
        if progress:
            print(format_draw(results[-1]), file=sys.stderr, flush=True)
    summary = {name: _summary([r[name] for r in results if r[name] is not None])
               for name in ("mr_lsd_db", "ratio", "share_healthy", "notes_summary")
               if any(r[name] is not None for r in results)}
    metrics = run.data.metrics
    return {"run_id": run_id, "seed": seed, "clips": config.eval_clips,
            "samples": config.eval_length, "draws": results, "sampling": sampling,
            "music": music.status, "music_floor_notes": floor_notes,
            "logged": {key: metrics.get(key) for key in (MR_LSD.key, SHARE_HEALTHY.key,
                                                         NOTES_SUMMARY.key)},
            "summary": summary}


def format_draw(result: dict) -> str:
    """One line per draw."""
    ratio = "n/a" if result["ratio"] is None else f"{result['ratio']:.2f}x"
    floor = result["mr_lsd_db_real_vs_real"]
    floor_text = ("no floor" if floor is None else
                  f"{floor_wording(MR_LSD, result['mr_lsd_db_real_vs_real_p95'])}, mean "
                  f"{MR_LSD.format(floor)}")
    notes = ""
    if result["notes_summary"] is not None:
        p95 = result["notes_summary_real_vs_real_p95"]
        notes = (f", notes summary {NOTES_SUMMARY.format(result['notes_summary'])} (floor p95 "
                 f"{NOTES_SUMMARY.format(p95) if p95 is not None else 'withheld'})")
    return (f"draw {result['draw']:>2} (sampling seed {result['sampling_seed']}): MR-LSD "
            f"{MR_LSD.format(result['mr_lsd_db'])} ({floor_text}, {ratio}), healthy "
            f"{result['share_healthy']:.0%}, RMS {result['rms']:.3f}{notes}")


def format_evaluation(report: dict) -> str:
    """The summary a person reads after the per-draw lines."""
    lines = [f"run {report['run_id']} (seed {report['seed']}): {len(report['draws'])} evaluations "
             f"of {report['clips']} clips x {report['samples']} samples"]
    sampling = report.get("sampling") or {}
    if sampling:
        lines.append("sampled with " + ", ".join(f"{key}={value}" for key, value in sampling.items())
                     + ": draw 0 uses the run's own segments and seed, not its sampling")
    logged = report["logged"].get(MR_LSD.key)
    again = report["draws"][0]["mr_lsd_db"]
    if logged is not None and not sampling:
        lines.append(f"draw 0 repeats the run's own evaluation: MR-LSD {again:.3f} dB "
                     f"(logged {logged:.3f})")
    logged_notes = report["logged"].get(NOTES_SUMMARY.key)
    if logged_notes is not None and report["draws"][0]["notes_summary"] is not None and not sampling:
        lines.append(f"draw 0 repeats the run's notes summary: "
                     f"{report['draws'][0]['notes_summary']:.3f} (logged {logged_notes:.3f})")
    for name, label in (("mr_lsd_db", "MR-LSD dB"), ("ratio", "ratio to floor"),
                        ("share_healthy", "healthy share"), ("notes_summary", "notes summary")):
        if name in report["summary"]:
            s = report["summary"][name]
            lines.append(f"{label}: mean {s['mean']:.3f}, SD {s['sd']:.3f}, "
                         f"range {s['min']:.3f}-{s['max']:.3f}")
    lines.append(f"music metrics {report['music']}")
    lines += [f"  no verdict on music/{name}: {why}" for name, why in report["music_floor_notes"].items()]
    return "\n".join(lines)
