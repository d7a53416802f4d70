"""The one rule for what a trial is worth."""

from __future__ import annotations

import pytest

from ganbench.sweep.worth import final_worth, objective_key, search_worth, with_objective, worth

METRICS = {"reverse_kl": 0.9, "best_reverse_kl": 0.3, "final_reverse_kl": 0.9, "final_eval_reverse_kl": 0.4}


@pytest.mark.parametrize(("rank_on", "expected"), [("best", 0.3), ("last", 0.9), (None, 0.9)])
def test_search_trials_are_worth_their_objective(rank_on, expected):
    # None: a store written before rank_on existed, which judged the last evaluation
    assert search_worth(METRICS, "reverse_kl", rank_on) == expected
    assert worth(METRICS, "reverse_kl", rank_on, "search") == expected


def test_a_run_that_selected_no_checkpoint_is_worth_its_last_evaluation():
    assert search_worth({"reverse_kl": 0.7}, "reverse_kl", "best") == 0.7
    assert with_objective({"reverse_kl": 0.7}, "reverse_kl", "best_reverse_kl")["best_reverse_kl"] == 0.7
    assert with_objective({"best_reverse_kl": 0.2, "reverse_kl": 0.7}, "reverse_kl",
                          "best_reverse_kl")["best_reverse_kl"] == 0.2


def test_final_reruns_are_worth_their_final_evaluation():
    assert worth(METRICS, "reverse_kl", "best", "final") == 0.4
    assert final_worth({"final_reverse_kl": 0.9, "reverse_kl": 1.0}, "reverse_kl") == 0.9
    assert final_worth({}, "reverse_kl") is None


def test_objective_key():
    assert objective_key("fid_lenet_digits", "best") == "best_fid_lenet_digits"
    assert objective_key("fid_lenet_digits", "last") == "fid_lenet_digits"
