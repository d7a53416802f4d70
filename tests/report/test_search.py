"""What the search was: a TPE study whose trials were all start-up trials is called a random search."""

from __future__ import annotations

import pytest

from ganbench.report.build import protocol_lines
from ganbench.report.search import is_random_search, search_method
from tests.report.records import finals, record, study


@pytest.mark.parametrize(("keys", "method"), [
    ({"sampler": "tpe", "num_samples": 3}, "random search (TPE's start-up)"),    # the small benchmarks
    ({"sampler": "tpe", "num_samples": 5, "n_startup_trials": 5}, "random search (TPE's start-up)"),
    ({"sampler": "tpe", "num_samples": 20}, "TPE after 6 random start-up trials"),
    ({"sampler": "tpe", "num_samples": 4, "n_startup_trials": 3}, "TPE after 3 random start-up trials"),
    ({"sampler": "random", "num_samples": 20}, "random search"),
    ({"sampler": "tpe", "num_samples": 0}, "no search"),
])
def test_the_search_is_named_by_what_its_trials_were(keys, method):
    assert search_method(study(**keys)) == method
    assert is_random_search(study(**keys)) == method.startswith("random search")


def test_the_reports_budget_line_does_not_call_start_up_trials_tpe():
    """num_samples 3 against TPE's 3 start-up trials: the committed small reports said "tpe sampler"."""
    s = study(sampler="tpe", num_samples=3)
    budget = next(line for line in protocol_lines(record(s, finals("non_saturating,1", {"reverse_kl": [0.5] * 3})), s)
                  if line.startswith("**Budget"))
    assert "3 search trials × 10000 steps (random search (TPE's start-up): 3 trial(s) per value, all within TPE's 3 " \
           "random start-up trials" in budget
    assert "tpe sampler" not in budget
