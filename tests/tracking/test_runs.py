"""The trial-run lifecycle against a real MLflow store (sqlite in a temp folder)."""

from __future__ import annotations

import pytest

from ganbench.tracking.runs import COUNTED, OUTCOME_TAG, REASON_TAG, Outcome, TrialRuns
from ganbench.tracking.store import Tracker

META = {"study": "s", "value": "hinge", "stage": "search"}


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Tracker:
    """One sqlite store for the module (creating one takes seconds); each test gets its own experiment."""
    folder = tmp_path_factory.mktemp("mlflow")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GANBENCH_HOME", str(folder))
        yield Tracker(f"sqlite:///{folder / 'mlflow.db'}", "unused")


@pytest.fixture
def runs(store, request) -> TrialRuns:
    tracker = Tracker(store.uri, f"ganbench/{request.node.name}")
    tracker.ensure_experiment()
    return TrialRuns(tracker, "unit", tracker.parent_run("unit", {}))


def test_a_trial_has_one_run_however_often_it_is_opened(runs):
    first, last_step = runs.open("t1", META, seed=3)
    assert last_step == -1
    runs.tracker.log_metrics(first, {"step": 20, "reverse_kl": 0.5}, step=20)
    again, last_step = runs.open("t1", META, seed=3)  # a restored trial
    assert again == first and last_step == 20
    run = runs.tracker.client.get_run(first)
    assert run.data.tags["mlflow.parentRunId"] == runs.parent_run_id
    assert run.data.tags[OUTCOME_TAG] == "running" and run.data.tags["seed"] == "3"
    assert run.info.run_name == "s-hinge-search-t1"


@pytest.mark.parametrize(("outcome", "status"), [(Outcome.COMPLETED, "FINISHED"), (Outcome.STOPPED_EARLY, "FINISHED"),
                                                 (Outcome.DIVERGED, "FINISHED"), (Outcome.FAILED, "FAILED")])
def test_closing_records_the_outcome_and_the_matching_status(runs, outcome, status):
    run_id, _ = runs.open("t1", META)
    runs.close(run_id, outcome, reason="ValueError: boom" if outcome is Outcome.FAILED else "")
    run = runs.tracker.client.get_run(run_id)
    assert run.info.status == status and run.data.tags[OUTCOME_TAG] == outcome.value
    assert (REASON_TAG in run.data.tags) == (outcome is Outcome.FAILED)
    assert runs.closed(run_id) and runs.outcome(run_id) is outcome


def test_a_closed_run_stays_closed_when_its_trial_is_replayed(runs):
    run_id, _ = runs.open("t1", META)
    runs.close(run_id, Outcome.COMPLETED)
    again, _ = runs.open("t1", META)
    assert again == run_id and runs.closed(run_id)
    assert runs.tracker.client.get_run(run_id).info.status == "FINISHED"


def test_outcomes_that_deliver_a_number():
    assert {o for o in COUNTED if o.delivered} == {Outcome.COMPLETED, Outcome.STOPPED_EARLY}
    assert Outcome.of("completed") is Outcome.COMPLETED and Outcome.of("something else") is None


def test_runs_left_open_when_their_stage_ends_are_closed_as_lost(runs):
    finished, _ = runs.open("done", META)
    runs.close(finished, Outcome.COMPLETED)
    left_open, _ = runs.open("gone", META)  # its driver died; Tune's restored state never knew the trial
    other_stage, _ = runs.open("final-1", {**META, "stage": "final"})
    assert runs.close_left_open("s", "search", reason="lost: replaced") == ["gone"]
    run = runs.tracker.client.get_run(left_open)
    assert run.info.status == "KILLED" and run.data.tags[OUTCOME_TAG] == "lost"
    assert run.data.tags[REASON_TAG] == "lost: replaced"
    assert runs.outcome(finished) is Outcome.COMPLETED and not runs.closed(other_stage)


def test_a_paused_sweep_closes_its_running_runs_as_interrupted_and_a_resume_reopens_them(runs):
    running, _ = runs.open("t1", META)
    done, _ = runs.open("t2", META)
    runs.close(done, Outcome.COMPLETED)
    assert runs.pause_open() == [running]
    run = runs.tracker.client.get_run(running)
    assert (run.info.status, run.data.tags[OUTCOME_TAG]) == ("KILLED", "interrupted")
    assert not runs.closed(running) and not Outcome.INTERRUPTED.delivered  # paused: neither ended nor counted
    assert runs.tracker.client.get_run(done).data.tags[OUTCOME_TAG] == "completed"  # left as it was
    again, _ = runs.open("t1", META)  # the resumed trial
    run = runs.tracker.client.get_run(again)
    assert again == running and (run.info.status, run.data.tags[OUTCOME_TAG]) == ("RUNNING", "running")


def test_interrupted_runs_no_resumed_trial_reopened_are_closed_as_lost_when_the_stage_ends(runs):
    run_id, _ = runs.open("t1", META)
    runs.pause_open()
    assert runs.close_left_open("s", "search", reason="lost: test") == ["t1"]
    assert runs.outcome(run_id) is Outcome.LOST


def test_a_run_an_older_ganbench_wrote_reads_back_from_the_store(runs):
    """Tags written as literals and the protocol as ``str(dict)``, as ganbench did before the record's codec."""
    from ganbench.tracking.record import read

    protocol = {"modes2d": {"n_fake": 2500, "split": "test"}}
    old = runs.tracker.client.create_run(runs.tracker.experiment_id, tags={
        "ganbench.trial_id": "old1", "ganbench.kind": "trial", "mlflow.parentRunId": runs.parent_run_id,
        "sweep": "unit", "study": "s", "value": "hinge", "stage": "final", "seed": "1001", "outcome": "completed",
        "protocol": str(protocol)[:5000]}).info.run_id
    [found] = runs.of_stage("s", "final", Outcome.COMPLETED)
    trial = read(found)
    assert (trial.run_id, trial.trial_id, trial.value, trial.seed, trial.outcome, trial.protocol) == (
        old, "old1", "hinge", 1001, Outcome.COMPLETED, protocol)
    assert runs.find("old1") == old and runs.closed(old)
