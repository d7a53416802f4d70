"""The judge: one study's rule for how a trial ended, what it is worth and which way is better."""

from __future__ import annotations

import math

import pytest

from ganbench.metrics.keys import Direction
from ganbench.sweep.judge import Judge, objective_key, with_objective
from ganbench.tracking.record import Outcome, TrialRecord

METRICS = {"reverse_kl": 0.9, "best_reverse_kl": 0.3, "final_reverse_kl": 0.9, "final_eval_reverse_kl": 0.4}
LOWER = Judge("reverse_kl", Direction.MIN, "best", steps=30)
HIGHER = Judge("modes", Direction.MAX, "best", steps=30)


@pytest.mark.parametrize(("rank_on", "expected"), [("best", 0.3), ("last", 0.9)])
def test_search_trials_are_worth_their_objective(rank_on, expected):
    judge = Judge("reverse_kl", Direction.MIN, rank_on)
    assert judge.search_worth(METRICS) == expected
    assert judge.worth(METRICS, "search") == expected


def test_a_run_that_selected_no_checkpoint_is_worth_its_last_evaluation():
    assert LOWER.search_worth({"reverse_kl": 0.7}) == 0.7
    assert with_objective({"reverse_kl": 0.7}, "reverse_kl", "best_reverse_kl")["best_reverse_kl"] == 0.7
    assert with_objective({"best_reverse_kl": 0.2, "reverse_kl": 0.7}, "reverse_kl",
                          "best_reverse_kl")["best_reverse_kl"] == 0.2


def test_final_reruns_are_worth_their_final_evaluation():
    assert LOWER.worth(METRICS, "final") == 0.4
    assert LOWER.final_worth({"final_reverse_kl": 0.9, "reverse_kl": 1.0}) == 0.9
    assert LOWER.final_worth({}) is None


def test_objective_key():
    assert objective_key("fid_lenet_digits", "best") == "best_fid_lenet_digits"
    assert objective_key("fid_lenet_digits", "last") == "fid_lenet_digits"


@pytest.mark.parametrize(("result", "error", "outcome"), [
    ({"step": 30}, False, Outcome.COMPLETED),
    ({"step": 20}, False, Outcome.STOPPED_EARLY),
    ({"steps": 30, "diverged": 0.0}, False, Outcome.COMPLETED),  # train's own result
    ({"step": 20, "diverged": 1.0}, False, Outcome.DIVERGED),
    ({"step": 0, "failed": 1.0}, False, Outcome.FAILED),
    ({"step": 30}, True, Outcome.FAILED),
    ({}, False, Outcome.STOPPED_EARLY),
])
def test_how_a_trial_ended_is_decided_once(result, error, outcome):
    assert LOWER.outcome(result, error=error) is outcome


def test_only_completed_and_stopped_trials_count():
    assert [o for o in Outcome if Judge.counts(o)] == [Outcome.COMPLETED, Outcome.STOPPED_EARLY]
    assert not Judge.counts(None)


def trial(outcome: Outcome | None, metrics: dict, stage: str = "final") -> TrialRecord:
    return TrialRecord(run_id="r", study="s", value="v", stage=stage, seed=None, outcome=outcome, metrics=metrics)


def test_a_trial_missing_its_metric_is_never_scored_as_a_number():
    # The final stage once reported final_<metric> defaulting to 0.0: a perfect score for a lower-is-better metric.
    assert LOWER.value(trial(Outcome.COMPLETED, {"step": 30.0})) is None
    assert LOWER.value(trial(Outcome.COMPLETED, {"final_eval_reverse_kl": 0.4})) == 0.4
    assert LOWER.value(trial(Outcome.DIVERGED, {"final_eval_reverse_kl": 0.0})) is None
    assert LOWER.value(trial(None, {"final_eval_reverse_kl": 0.0})) is None


@pytest.mark.parametrize(("judge", "best", "order"), [(LOWER, 1.0, [1.0, 2.0, 3.0, None, math.nan]),
                                                      (HIGHER, 3.0, [3.0, 2.0, 1.0, None, math.nan])])
def test_which_way_is_better(judge, best, order):
    assert judge.best([2.0, 1.0, 3.0]) == best
    assert judge.better(best, 2.0) and not judge.better(2.0, best) and not judge.better(2.0, 2.0)
    ranked = sorted([None, 2.0, math.nan, 3.0, 1.0], key=judge.rank_key)
    assert ranked[:3] == order[:3] and ranked[3] is None and math.isnan(ranked[4])
    assert judge.pick([("a", 2.0), ("b", best), ("c", None)]) == "b"
    assert judge.verdict(best - 2.0) == "better" and judge.verdict(2.0 - best) == "worse"


def test_mean_and_spread_are_written_one_way():
    assert Judge.mean_sd([1.0, 2.0, 3.0]) == "2 ± 1 (n=3)"
    assert Judge.mean_sd([0.5]) == "0.5 ± 0 (n=1)"
    assert Judge.mean_sd([]) == "-"
