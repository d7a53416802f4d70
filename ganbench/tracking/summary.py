"""A sweep's leaderboard as MLflow runs: one summary run per compared value, nested under the sweep's parent, with
the value's keys as params and its row (mean, CI bounds, seeds, Holm p, rank) as metrics, so MLflow's runs view
sorts and charts the leaderboard.

Summary runs carry ``ganbench.kind = summary`` and no ``stage`` or ``outcome`` tag: every reader that lists a
sweep's trials by kind (``record.is_trial``, ``record.query``) or counts them by stage or outcome passes them by.
Logging is idempotent: a value's run is found again by its tags and updated, never duplicated.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ganbench.tracking import record
from ganbench.tracking.store import Tracker

__all__ = ["SummaryRuns", "ValueSummary"]


@dataclass(frozen=True)
class ValueSummary:
    """One compared value's leaderboard row, as plain data."""

    value: str                                                # its label, as trial runs tag it (``hinge,1``)
    params: Mapping[str, Any] = field(default_factory=dict)   # the compared keys' values (``loss.name: hinge``)
    metrics: Mapping[str, float] = field(default_factory=dict)


def _same(logged: Mapping[str, float], metrics: Mapping[str, float]) -> bool:
    """Whether ``logged`` already shows every one of ``metrics`` (NaN equal to NaN)."""
    return all(key in logged and (logged[key] == value or (math.isnan(logged[key]) and math.isnan(value)))
               for key, value in metrics.items())


class SummaryRuns:
    """The summary runs of one sweep."""

    def __init__(self, tracker: Tracker, sweep: str, parent_run_id: str) -> None:
        self.tracker, self.sweep, self.parent_run_id = tracker, sweep, parent_run_id

    def find(self, study: str, value: str) -> str | None:
        return self.tracker.find_run(**record.summary_key(self.sweep, study, value))

    def log(self, study: str, summaries: list[ValueSummary]) -> list[str]:
        """Create or update one finished run per value; returns their run ids in ``summaries``' order.

        Every metric is logged, NaN included (the best row has no Holm p against itself), so an update replaces
        each value a run showed before: MLflow shows a metric's latest value and cannot delete one. A row that has
        not changed logs nothing."""
        run_ids = []
        for summary in summaries:
            run_id = self.find(study, summary.value)
            if run_id is None:
                tags = record.summary_tags(self.sweep, self.parent_run_id, study, summary.value)
                run_id = self.tracker.client.create_run(self.tracker.experiment_id, tags=tags,
                                                        run_name=f"{study}-{summary.value}-leaderboard").info.run_id
            self.tracker.log_params(run_id, summary.params)  # params never change: only new keys are logged
            metrics = {k: float(v) if v is not None else math.nan for k, v in summary.metrics.items()}
            if not _same(self.tracker.metrics(run_id), metrics):
                # Each update one step on, so a metric's steps strictly increase and its latest value is the update.
                step = max((s for s, _ in self.tracker.history(run_id, "seeds")), default=-1) + 1
                self.tracker.log_metrics(run_id, metrics, step=step)
            self.tracker.finish(run_id)
            run_ids.append(run_id)
        return run_ids

    def runs(self) -> list[Any]:
        """This sweep's summary runs (``mlflow.entities.Run``)."""
        return [r for r in self.tracker.runs() if record.is_summary(r, self.sweep)]
