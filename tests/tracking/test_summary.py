"""The leaderboard as summary runs, against a real MLflow store (sqlite in a temp folder): one finished run per
compared value under the parent, updated in place, and invisible to everything that lists or counts trials."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from ganbench.tracking import record
from ganbench.tracking.runs import Outcome, TrialRuns
from ganbench.tracking.store import Tracker
from ganbench.tracking.summary import SummaryRuns, ValueSummary
from tests.infra import assert_runs_match_plan, children


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Tracker:
    folder = tmp_path_factory.mktemp("mlflow")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GANBENCH_HOME", str(folder))
        yield Tracker(f"sqlite:///{folder / 'mlflow.db'}", "unused")


@pytest.fixture
def sweep(store, request) -> tuple[TrialRuns, SummaryRuns]:
    """A sweep with two finished trials (one per value) under its parent."""
    tracker = Tracker(store.uri, f"ganbench/{request.node.name}")
    tracker.ensure_experiment()
    parent = tracker.parent_run("unit", {})
    tracker.finish(parent)
    trials = TrialRuns(tracker, "unit", parent)
    for trial_id, value in (("t1", "hinge"), ("t2", "non_saturating")):
        run_id, _ = trials.open(trial_id, {"study": "s", "value": value, "stage": "final"}, seed=1000)
        trials.close(run_id, Outcome.COMPLETED)
    return trials, SummaryRuns(tracker, "unit", parent)


def rows(hinge_p: float) -> list[ValueSummary]:
    return [ValueSummary("hinge", {"loss.name": "hinge", "metric": "fid"},
                         {"rank": 1, "fid_mean": 7.4, "fid_ci_low": 6.9, "fid_ci_high": 7.9, "seeds": 3,
                          "holm_p": math.nan}),
            ValueSummary("non_saturating", {"loss.name": "non_saturating", "metric": "fid"},
                         {"rank": 2, "fid_mean": 8.0, "fid_ci_low": 7.5, "fid_ci_high": 8.5, "seeds": 3,
                          "holm_p": hinge_p})]


def test_one_finished_run_per_value_under_the_parent(sweep):
    trials, summaries = sweep
    ids = summaries.log("s", rows(0.02))
    runs = {r.info.run_id: r for r in summaries.runs()}
    assert sorted(runs) == sorted(ids) and len(ids) == 2
    first = runs[ids[0]]
    assert first.info.status == "FINISHED" and first.info.run_name == "s-hinge-leaderboard"
    assert first.data.tags["mlflow.parentRunId"] == trials.parent_run_id
    assert first.data.params == {"loss.name": "hinge", "metric": "fid"}
    assert first.data.metrics["fid_mean"] == pytest.approx(7.4) and first.data.metrics["seeds"] == 3
    assert math.isnan(first.data.metrics["holm_p"])
    assert runs[ids[1]].data.metrics["holm_p"] == pytest.approx(0.02)


def test_logging_again_updates_and_never_duplicates(sweep):
    _, summaries = sweep
    ids = summaries.log("s", rows(0.02))
    # The best row changes between two logs: the old p of the new best must not stay visible.
    changed = [ValueSummary(s.value, s.params, {**s.metrics, "holm_p": p}) for s, p in zip(rows(0.02), (0.3, math.nan),
                                                                                           strict=True)]
    assert summaries.log("s", changed) == ids
    assert summaries.log("s", changed) == ids  # unchanged: nothing logged again
    runs = {r.info.run_id: r for r in summaries.runs()}
    assert len(runs) == 2
    assert runs[ids[0]].data.metrics["holm_p"] == pytest.approx(0.3)
    assert math.isnan(runs[ids[1]].data.metrics["holm_p"])
    # Each update a step on (as every run's metric steps must strictly increase), none for an unchanged row.
    tracker = summaries.tracker
    assert [step for step, _ in tracker.history(ids[0], "holm_p")] == [0, 1]
    assert [step for step, _ in tracker.history(ids[0], "fid_mean")] == [0, 1]


def test_nothing_that_lists_or_counts_trials_sees_them(sweep):
    trials, summaries = sweep
    summaries.log("s", rows(0.02))
    everything = trials.tracker.runs()
    assert len(everything) == 1 + 2 + 2  # parent, trials, summaries
    assert len([r for r in everything if record.is_trial(r)]) == len(children(everything)) == 2
    assert len(trials.of_stage("s", "final")) == 2
    assert trials.close_left_open("s", "final", "test") == [] and trials.pause_open() == []
    assert trials.find("t1") is not None
    assert_runs_match_plan(everything, Counter({("final", "hinge"): 1, ("final", "non_saturating"): 1}))
    assert [r.info.run_id for r in everything if trials.tracker.is_parent(r, "unit")] == [trials.parent_run_id]
