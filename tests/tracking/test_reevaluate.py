"""`samplegan evaluate`: a finished run's evaluation repeated from its model, then redrawn."""

from __future__ import annotations

import json
import sqlite3

import mlflow
import numpy as np
import pytest

from harness.tracking.reevaluate import redraw_rows


def test_draw_zero_is_the_runs_own_rows_and_the_others_are_distinct_and_repeatable():
    np.testing.assert_array_equal(redraw_rows(3, 0, 256, 4), [0, 1, 2, 3])
    drawn = [tuple(redraw_rows(3, draw, 256, 4)) for draw in range(1, 9)]
    assert all(len(set(rows)) == 4 and max(rows) < 256 for rows in drawn)
    assert len(set(drawn)) == 8  # every draw seeds from other segments
    assert drawn == [tuple(redraw_rows(3, draw, 256, 4)) for draw in range(1, 9)]
    assert tuple(redraw_rows(4, 1, 256, 4)) != drawn[0]  # another run seed, other rows
    assert len(redraw_rows(3, 2, 3, 4)) == 3  # a pool smaller than the clips: all of it


def _metric_rows(store) -> int:
    with sqlite3.connect(store / "mlflow.db") as connection:
        return connection.execute("SELECT COUNT(*) FROM metrics").fetchone()[0]


@pytest.mark.slow
def test_a_real_run_is_repeated_exactly_then_redrawn_without_writing_anything(
        cli, store, tiny_corpus, tiny_set_args, tmp_path):
    result = cli("train", "--variant", "embedded-fix", "--data", str(tiny_corpus), *tiny_set_args,
                 "--set", "pretrain_steps=2", "--set", "eval_samples=600", check=True)
    run_id = result.stdout.strip().splitlines()[-1]
    client = mlflow.MlflowClient(f"sqlite:///{store / 'mlflow.db'}")
    logged = client.get_run(run_id).data.metrics
    metrics_before = _metric_rows(store)

    report = json.loads(cli("evaluate", "--run", run_id, "--draws", "2", "--json",
                            check=True).stdout)
    assert report["run_id"] == run_id and report["clips"] == 2 and len(report["draws"]) == 3
    own, *others = report["draws"]
    # Draw 0 is the run's final evaluation, from its exported model: the logged figures.
    assert own["mr_lsd_db"] == pytest.approx(logged["quality/mr_lsd_db"], rel=1e-6)
    assert own["mr_lsd_db_real_vs_real"] == pytest.approx(
        logged["quality/mr_lsd_db_real_vs_real"], rel=1e-6)
    assert own["share_healthy"] == pytest.approx(logged["eval/share_healthy"])
    assert own["rows"] == [0, 1] and own["sampling_seed"] == 0
    # 600-sample clips are under the music minimum: no music figures (docs/music.md).
    assert report["music"].startswith("skipped: clips of 0.0375 s")
    assert all(draw["music"] is None and draw["notes_summary"] is None for draw in report["draws"])
    for draw in report["draws"]:
        assert draw["ratio"] == pytest.approx(draw["mr_lsd_db"] / draw["mr_lsd_db_real_vs_real"])
        assert len(draw["labels"]) == 2 and 0.0 <= draw["rms"] <= 1.0
    assert {tuple(draw["rows"]) for draw in others} != {(0, 1)}
    assert len({draw["mr_lsd_db"] for draw in report["draws"]}) == 3  # other clips, other figures
    values = [draw["mr_lsd_db"] for draw in report["draws"]]
    assert report["summary"]["mr_lsd_db"]["mean"] == pytest.approx(np.mean(values))
    assert report["summary"]["mr_lsd_db"]["sd"] == pytest.approx(np.std(values, ddof=1))
    assert _metric_rows(store) == metrics_before  # read-only: nothing logged to the run

    text = cli("evaluate", "--run", run_id, "--draws", "0", check=True).stdout
    assert f"MR-LSD {own['mr_lsd_db']:.3f} dB (logged {logged['quality/mr_lsd_db']:.3f})" in text

    # Bad input: one line, exit 2, nothing written.
    unknown = cli("evaluate", "--run", "0" * 32)
    assert unknown.returncode == 2
    assert unknown.stderr.strip().splitlines()[-1].startswith("error: no MLflow run")
    not_a_dataset = cli("evaluate", "--run", run_id, "--data", str(tmp_path))
    assert not_a_dataset.returncode == 2
    assert not_a_dataset.stderr.strip().splitlines()[-1] == (
        f"error: --data {tmp_path} is not a samplegan dataset (no manifest.json)")
    other = tmp_path / "other"
    cli("data", "synth", "--out", str(other), "--seconds", "6", "--sample-rate", "16000", "--n",
        "32", "--pieces", "3", "--seed", "1", check=True)
    wrong = cli("evaluate", "--run", run_id, "--data", str(other))
    assert wrong.returncode == 2 and "is not the one run" in wrong.stderr.strip().splitlines()[-1]
    assert _metric_rows(store) == metrics_before
