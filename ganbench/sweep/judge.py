"""The judge: how a trial ended, whether it counts, what it is worth and which way is better, for one study.

Every place that ranks or counts trials asks the study's ``Judge``: the searchers and ASHA (through the objective
key a trial reports), the choice of each value's best config, the trial's own bookkeeping, the live progress
view, the driver's summary, the report and ``pull_checkpoint``.

- A search trial is judged on its *objective*: ``best_<metric>``, the metric of the checkpoint it keeps
  (``rank_on: best``, the default), or its last evaluation (``rank_on: last``). A run that selected no
  checkpoint keeps its last generator, so its last evaluation is what it delivers.
- A final-stage trial is worth its final evaluation (``final_eval_<metric>``: fresh noise, held-out split);
  runs without one fall back to the end of their run.
- Only completed and stopped-early trials count: diverged ones carry a sentinel, failed ones a sentinel or
  nothing. A missing metric is never scored as a number.
- Stores written before ``rank_on`` existed judged the last evaluation (``Study.described``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ganbench.metrics import keys
from ganbench.metrics.keys import Direction
from ganbench.tracking.record import Outcome, TrialRecord

if TYPE_CHECKING:
    from ganbench.sweep.study import Study

RANK_ON = ("best", "last")


def objective_key(metric: str, rank_on: str) -> str:
    """The result key search trials are judged on under ``rank_on``."""
    return keys.best(metric) if rank_on == "best" else metric


def with_objective(result: dict[str, Any], metric: str, objective: str) -> dict[str, Any]:
    """A trial's report with its objective filled in: a diverged evaluation reports only the sentinel metric,
    and a run with no selected checkpoint keeps its last generator, so its last evaluation stands for it."""
    if metric in result:
        result.setdefault(objective, result[metric])
    return result


@dataclass(frozen=True)
class Judge:
    """One study's rules for its trials (plain data: picklable into trials and Tune callbacks)."""

    metric: str
    direction: Direction
    rank_on: str = "best"
    steps: int = 0  # every trial's full budget in generator steps: below it, a trial ended early

    @classmethod
    def of(cls, study: Study) -> Judge:
        return cls(study.metric, Direction(study.mode), study.rank_on, int(study.shared.get("train.steps", 0)))

    @property
    def objective(self) -> str:
        return objective_key(self.metric, self.rank_on)

    # --- how a trial ended ---------------------------------------------------------------------------------------

    def outcome(self, result: Mapping[str, Any], error: bool = False) -> Outcome:
        """How a trial ended, from its last report (Tune's last result, or ``train``'s result): failed, diverged,
        or by the steps it ran, completed or stopped early."""
        if error or result.get("failed"):
            return Outcome.FAILED
        if result.get("diverged"):
            return Outcome.DIVERGED
        step = result.get("step", result.get("steps", 0))
        return Outcome.COMPLETED if step >= self.steps else Outcome.STOPPED_EARLY

    @staticmethod
    def counts(outcome: Outcome | None) -> bool:
        """Whether a trial that ended so has numbers worth ranking."""
        return outcome is not None and outcome.delivered

    # --- what a trial is worth -----------------------------------------------------------------------------------

    def search_worth(self, metrics: Mapping[str, Any]) -> float | None:
        value = metrics.get(self.objective, metrics.get(self.metric))
        return None if value is None else float(value)

    def final_worth(self, metrics: Mapping[str, Any], metric: str | None = None) -> float | None:
        """What a trial delivers for a leaderboard: its final evaluation, else the end of its run."""
        metric = metric or self.metric
        for key in (keys.final_eval(metric), keys.final(metric), metric):
            if key in metrics:
                return float(metrics[key])
        return None

    def worth(self, metrics: Mapping[str, Any], stage: str) -> float | None:
        """A trial's number in its stage, from its reported or logged metrics: search trials as the search judged
        them, final reruns by their final evaluation; None when the metric is missing."""
        return self.search_worth(metrics) if stage == "search" else self.final_worth(metrics)

    def value(self, trial: TrialRecord) -> float | None:
        """A stored trial's number; None for trials that delivered nothing (diverged, failed, lost, open)."""
        return self.worth(trial.metrics, trial.stage) if self.counts(trial.outcome) else None

    # --- which way is better ----------------------------------------------------------------------------------

    def better(self, a: float, b: float) -> bool:
        return self.direction.better(a, b)

    def best(self, values: Iterable[float]) -> float:
        return self.direction.best(values)

    def rank_key(self, value: float | None) -> tuple[bool, float]:
        """Sorts best first, missing and NaN values last."""
        return self.direction.rank_key(value)

    def verdict(self, difference: float) -> str:
        """"better" or "worse" for a difference (ours − theirs) in this judge's direction."""
        return "better" if self.direction.better(difference, 0.0) else "worse"

    @staticmethod
    def mean_sd(values: list[float], digits: int = 4) -> str:
        return keys.mean_sd(values, digits)

    def pick(self, scored: Iterable[tuple[Any, float | None]]) -> Any:
        """The item with the best score among ``(item, score)`` pairs (missing scores last); None for none."""
        ranked = sorted(scored, key=lambda pair: self.rank_key(pair[1]))
        return ranked[0][0] if ranked else None
