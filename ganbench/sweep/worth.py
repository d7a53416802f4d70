"""What a trial is worth: the one rule for the number a trial is judged on.

Used by the searcher and ASHA (the objective key a trial reports), the choice of each value's best
config, the live progress view, the driver's summary and the report, so that all of them judge a trial
on the same number.

- A search trial is judged on its *objective*: ``best_<metric>``, the metric of the checkpoint it keeps
  (``rank_on: best``, the default), or its last evaluation (``rank_on: last``). A run that selected no
  checkpoint keeps its last generator, so its last evaluation is what it delivers.
- A final-stage trial is worth its final evaluation (``final_eval_<metric>``: fresh noise, held-out
  split); runs without one fall back to their last evaluation.
- Stores written before ``rank_on`` existed judged the last evaluation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

RANK_ON = ("best", "last")
RANK_ON_OF_OLD_STORES = "last"


def objective_key(metric: str, rank_on: str) -> str:
    """The result key search trials are judged on under ``rank_on``."""
    return f"best_{metric}" if rank_on == "best" else metric


def with_objective(result: dict[str, Any], metric: str, objective: str) -> dict[str, Any]:
    """A trial's report with its objective filled in: a diverged evaluation reports only the sentinel metric,
    and a run with no selected checkpoint keeps its last generator, so its last evaluation stands for it."""
    if metric in result:
        result.setdefault(objective, result[metric])
    return result


def search_worth(metrics: Mapping[str, Any], metric: str, rank_on: str | None) -> float | None:
    """What a search trial is judged on, from its reported or logged metrics."""
    value = metrics.get(objective_key(metric, rank_on or RANK_ON_OF_OLD_STORES), metrics.get(metric))
    return None if value is None else float(value)


def final_worth(metrics: Mapping[str, Any], metric: str) -> float | None:
    """What a trial delivers for a leaderboard: its final evaluation, else the end of its run."""
    for key in (f"final_eval_{metric}", f"final_{metric}", metric):
        if key in metrics:
            return float(metrics[key])
    return None


def worth(metrics: Mapping[str, Any], metric: str, rank_on: str | None, stage: str) -> float | None:
    """A trial's number in its stage: search trials as the search judged them, final reruns by their final
    evaluation."""
    return search_worth(metrics, metric, rank_on) if stage == "search" else final_worth(metrics, metric)
