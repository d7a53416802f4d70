"""Which search trial becomes each value's best config, and what the summary counts."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from ganbench.sweep.results import best_configs, summarise
from ganbench.sweep.spec import load_sweep

STUDY = load_sweep(Path(__file__).resolve().parent / "files" / "tiny.yaml").studies[0]
STEPS = 30


def row(name: str, value: str, step: int, last: float, best: float, **extra: float) -> dict:
    return {"config": {"name": name}, "meta": {"value": value, "stage": "search"}, "error": None,
            "metrics": {"step": step, "reverse_kl": last, "best_reverse_kl": best, **extra}}


# "noisy" ends on a bad evaluation but kept a better checkpoint than "steady" ever reached.
ROWS = [row("steady", "hinge", STEPS, last=0.5, best=0.5), row("noisy", "hinge", STEPS, last=2.0, best=0.3)]


@pytest.mark.parametrize(("rank_on", "winner"), [("best", "noisy"), ("last", "steady")])
def test_best_config_is_judged_on_the_study_objective(rank_on, winner):
    assert best_configs(ROWS, replace(STUDY, rank_on=rank_on))["hinge"]["name"] == winner


def test_full_budget_trials_rank_before_stopped_ones_and_failures_never_win():
    rows = [row("stopped", "hinge", 10, last=0.1, best=0.1), row("full", "hinge", STEPS, last=0.9, best=0.9),
            row("diverged", "hinge", 20, last=0.0, best=0.0, diverged=1.0),
            {**row("failed", "non_saturating", 0, last=0.0, best=0.0), "error": "RuntimeError('boom')"}]
    assert best_configs(rows, STUDY) == {"hinge": {"name": "full"}}


def test_a_trial_without_a_selected_checkpoint_is_judged_on_its_last_evaluation():
    rows = [{**row("plain", "hinge", STEPS, last=0.7, best=0.0), "metrics": {"step": STEPS, "reverse_kl": 0.7}}]
    assert best_configs(rows, STUDY) == {"hinge": {"name": "plain"}}
    assert summarise(rows, STUDY)["hinge"]["values"] == [0.7]


def test_summary_counts_outcomes_and_keeps_the_judged_values():
    table = summarise(ROWS + [row("cut", "hinge", 10, last=1.5, best=1.2)], STUDY)["hinge"]
    assert (table["completed"], table["stopped_early"], table["diverged"], table["failed"]) == (2, 1, 0, 0)
    assert sorted(table["values"]) == pytest.approx([0.3, 0.5, 1.2])


def test_a_tie_goes_to_the_trial_handed_out_first_whatever_order_tune_lists_them_in():
    """Tune lists a restored experiment's trials in another order; two trials tied on the objective (modes are
    counts, and tie often) picked another config after a Ctrl-C and --resume than without it."""
    first, second = (row(name, "hinge", STEPS, last=0.5, best=0.5) for name in ("first", "second"))
    first["meta"]["index"], second["meta"]["index"] = 0, 1
    assert best_configs([first, second], STUDY) == best_configs([second, first], STUDY) == {"hinge": {"name": "first"}}
