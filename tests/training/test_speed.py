"""`samplegan bench`: each command prints one JSON object of the documented shape.

Only the shape is checked: speed is measured by running the benchmarks, never in tests.
"""

from __future__ import annotations

import datetime
import json

import pytest

from models.parts import names, part

pytestmark = pytest.mark.slow

MACHINE_KEYS = {"cpus", "processor"}
VERSION_KEYS = {"python", "tensorflow", "keras", "numpy"}


def one_json_object(completed) -> dict:
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.strip().splitlines()
    assert len(lines) == 1, completed.stdout
    return json.loads(lines[0])


def check_config(config: dict) -> None:
    assert config["quick"] is True
    assert set(config["machine"]) >= MACHINE_KEYS and set(config["versions"]) >= VERSION_KEYS
    assert datetime.datetime.fromisoformat(config["date"]).tzinfo is not None


def test_bench_generation_prints_every_path_and_batch(cli, tmp_path):
    completed = cli("bench", "generation", "--json", "--quick", cwd=tmp_path)
    result = one_json_object(completed)
    assert sorted(tmp_path.iterdir()) == []  # a benchmark creates no store
    assert set(result) == {"config", "results"}
    check_config(result["config"])
    assert set(result["config"]) >= {"n", "lstm_units", "sample_rate_hz"}
    rows = {(row["path"], row["batch"]): row for row in result["results"]}
    assert set(rows) == {("paper_predict_loop", 1)} | {
        (generator, batch) for generator in names("generator") for batch in (1, 64)}
    for row in rows.values():
        assert row["samples_per_s"] > 0 and isinstance(row["xla"], bool)
        assert row["ratio_to_paper_predict_loop"] == pytest.approx(
            row["samples_per_s"] / rows[("paper_predict_loop", 1)]["samples_per_s"], rel=0.01)
        assert row["meets_target"] is None  # quick sizes are not the targets' sizes
    assert completed.stderr.count("bench generation: ") == 1 + len(rows)  # a line per case


# Two families, not five (each is timed in a process of its own, which imports TensorFlow):
# the paper's, which re-reads the window for every prediction, and the newest. Every
# family's quick sizes resolve in tests/models/test_contract.py.
TIMED = ("dilated", "stateless")


def test_bench_train_prints_each_family_asked_for_with_peak_memory(cli, tmp_path):
    completed = cli("bench", "train", "--json", "--quick", *(f"--generator={g}" for g in TIMED),
                    cwd=tmp_path)
    result = one_json_object(completed)
    assert sorted(tmp_path.iterdir()) == []  # a benchmark creates no store
    assert set(result) == {"config", "results"}
    check_config(result["config"])
    # In the table's order, whatever the order asked.
    assert [row["generator"] for row in result["results"]] == [
        generator for generator in names("generator") if generator in TIMED]
    assert set(result["config"]["steps_timed"]) == set(TIMED)
    for row in result["results"]:
        assert (row["batch"], row["n"]) == (result["config"]["batch"], result["config"]["n"])
        assert row["generator_step_s"] == pytest.approx(
            row["generate_s"] + row["generator_update_s"], abs=2e-3)
        assert row["discriminator_step_s"] > 0 and row["gan_step_s"] > 0
        scored = 1 if part("generator", row["generator"]).reruns_window else row["n"]  # 2n crops
        step_s = row["teacher_step_s"]  # rounded to 1 ms
        assert (row["batch"] * scored / (step_s + 5e-4) - 1 <= row["trained_samples_per_s"]
                <= row["batch"] * scored / max(step_s - 5e-4, 1e-4) + 1)
        assert row["peak_rss_mib"] > 0


def test_bench_train_refuses_an_unknown_family_in_one_line(cli, tmp_path):
    completed = cli("bench", "train", "--quick", "--generator", "wavenet", cwd=tmp_path)
    assert completed.returncode == 2 and completed.stdout == ""
    [line] = completed.stderr.strip().splitlines()
    assert line.startswith("error:") and "'wavenet' is not one of" in line and "dilated" in line
