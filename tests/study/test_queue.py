"""The one view of a study's cells (`CellStates`), read from real Optuna studies: done,
running or waiting, to do, to queue, failed for good; and the queue that follows it."""

from __future__ import annotations

import optuna
import pytest
from optuna.trial import TrialState
from study_support import spec_with

from harness.study.optuna_storage import open_storage
from harness.study.queue import (
    CELL_ATTR,
    CellStates,
    create_or_resume,
    queue_missing_cells,
    read_cell_states,
)
from harness.study.spec import parse_spec
from harness.study.status import status_of, study_status, trial_outcomes

# Ten search cells ("search|rep=0" ... "search|rep=9"); a cell may raise once and run again.
SPEC = parse_spec(spec_with(design={"search": {"lr_generator": {"low": 1e-5, "high": 1e-3}}},
                            budget={"trials": 10, "max_retries": 1}))
KEYS = [cell.key for cell in SPEC.cells()]


def _keys(cells) -> list[str]:
    return [cell.key for cell in cells]


def _enqueue(study: optuna.Study, index: int) -> None:
    study.enqueue_trial(params={}, user_attrs={CELL_ATTR: KEYS[index]}, skip_if_exists=False)


def _end(study: optuna.Study, storage: optuna.storages.BaseStorage, index: int,
         state: TrialState | None, attrs: dict[str, str] | None = None) -> None:
    """Take the cell's waiting trial (WAITING -> RUNNING, as a worker claims it), then end it
    in `state` (None: leave it running), after setting `attrs` as a worker would."""
    trial = next(t for t in study.get_trials(states=(TrialState.WAITING,))
                 if t.user_attrs[CELL_ATTR] == KEYS[index])
    assert storage.set_trial_state_values(trial._trial_id, TrialState.RUNNING)
    for key, value in (attrs or {}).items():
        storage.set_trial_user_attr(trial._trial_id, key, value)
    if state == TrialState.COMPLETE:
        study.tell(trial.number, 1.0)
    elif state is not None:
        study.tell(trial.number, state=state)


@pytest.fixture
def memory_study():
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.InMemoryStorage()
    return optuna.create_study(study_name=SPEC.name, storage=storage), storage


def test_each_cell_is_done_live_to_do_or_failed_for_good(memory_study):
    study, storage = memory_study
    for index in range(9):  # cell 9 has no trial yet
        _enqueue(study, index)
    _end(study, storage, 0, TrialState.COMPLETE)
    _end(study, storage, 1, TrialState.PRUNED)
    _end(study, storage, 2, None)  # running; cell 3 stays waiting
    _end(study, storage, 4, TrialState.FAIL, {"error": "ValueError: loss is nan"})
    _end(study, storage, 5, TrialState.FAIL, {"error": "ValueError: loss is nan"})
    _end(study, storage, 6, TrialState.FAIL, {"interrupted": "KeyboardInterrupt"})
    _end(study, storage, 7, TrialState.FAIL, {"error": "ValueError: loss is nan"})
    _end(study, storage, 8, TrialState.FAIL, {"stale": "worker process died"})

    first = CellStates.read(study)
    assert first.done == {KEYS[0], KEYS[1]} and first.live == {KEYS[2], KEYS[3]}
    assert dict(first.failures) == {KEYS[4]: 1, KEYS[5]: 1, KEYS[7]: 1}
    assert (first.done_trials, first.running_trials, first.waiting_trials) == (2, 1, 1)
    assert _keys(first.to_do(SPEC)) == KEYS[2:]  # one raised error each: retried
    assert _keys(first.to_queue(SPEC)) == KEYS[4:]  # cells 2 and 3 have a trial already
    assert first.failed_for_good(SPEC) == [] and first.left(SPEC) == 8

    assert queue_missing_cells(study, SPEC) == KEYS[4:]  # cells 4-9 wait again
    _end(study, storage, 4, None)
    _end(study, storage, 5, TrialState.FAIL, {"error": "ValueError: loss is nan"})  # a second
    _end(study, storage, 6, TrialState.FAIL, {"interrupted": "Terminated"})  # not counted
    _end(study, storage, 7, TrialState.COMPLETE)  # done on its retry

    second = CellStates.read(study)
    assert second.done == {KEYS[0], KEYS[1], KEYS[7]}
    assert _keys(second.failed_for_good(SPEC)) == [KEYS[5]]
    assert _keys(second.to_do(SPEC)) == [KEYS[i] for i in (2, 3, 4, 6, 8, 9)]
    assert _keys(second.to_queue(SPEC)) == [KEYS[6]]
    assert second.left(SPEC) == 7  # the failed-for-good cell is not done either
    assert (second.done_trials, second.running_trials, second.waiting_trials) == (3, 2, 3)
    assert second.live_trials == 5
    assert queue_missing_cells(study, SPEC) == [KEYS[6]]
    assert queue_missing_cells(study, SPEC) == []  # now waiting: not queued twice

    outcomes = trial_outcomes(study.get_trials())
    by_cell: dict[str, list[str]] = {}
    for trial in study.get_trials():
        by_cell.setdefault(trial.user_attrs[CELL_ATTR], []).append(outcomes[trial.number])
    assert by_cell[KEYS[7]] == ["RERUN", "COMPLETE"] and by_cell[KEYS[5]] == ["FAIL", "FAIL"]


def test_a_trial_without_a_cell_is_a_cell_of_its_own(memory_study):
    study, _ = memory_study
    study.optimize(lambda trial: 1.0, n_trials=2)  # not queued by a launcher: no cell
    states = CellStates.read(study)
    assert states.done == {"trial 0", "trial 1"} and states.left(SPEC) == 10


def test_a_journal_study_is_read_without_creating_it(tmp_path):
    storage = open_storage(str(tmp_path / "optuna.journal"), SPEC.storage)
    assert _keys(read_cell_states(SPEC, None).to_do(SPEC)) == KEYS  # no storage yet
    assert _keys(read_cell_states(SPEC, storage).to_do(SPEC)) == KEYS  # no study yet
    assert SPEC.name not in optuna.get_all_study_names(storage.optuna)

    study, created = create_or_resume(SPEC, storage)
    assert created and queue_missing_cells(study, SPEC) == KEYS
    _end(study, storage.optuna, 3, TrialState.PRUNED)
    reopened = open_storage(str(tmp_path / "optuna.journal"), SPEC.storage, create=False)
    states = read_cell_states(SPEC, reopened)
    assert states.done == {KEYS[3]} and states.waiting_trials == 9
    assert _keys(states.to_do(SPEC)) == KEYS[:3] + KEYS[4:] and states.to_queue(SPEC) == []

    # The launcher's status, from the storage it holds, is `study status`'s from the URL.
    status = status_of(study, storage)
    assert status["cells_done"] == 1 and status["trials"]["WAITING"] == 9
    assert status == study_status(SPEC.name, str(tmp_path / "optuna.journal"))
