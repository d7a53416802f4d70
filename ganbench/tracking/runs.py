"""The MLflow run lifecycle of a sweep's trials, in one place: how a trial's run is named and tagged,
found again after a restore, and closed with its outcome.

A child run is found or created by a tag holding the Ray trial id, so a restored trial never duplicates
its run. Both the trial itself and the driver (for trials Ray stopped before their own ``finally``)
close runs through ``TrialRuns.close``, so a run's outcome tag and its MLflow status always agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ganbench.tracking import record
from ganbench.tracking.record import COUNTED, OUTCOME_TAG, REASON_TAG, TRIAL_TAG, Outcome
from ganbench.tracking.store import Tracker

__all__ = ["COUNTED", "OUTCOME_TAG", "REASON_TAG", "TRIAL_TAG", "Outcome", "TrialRuns", "trial_run_name"]


def trial_run_name(meta: Mapping[str, Any], trial_id: str) -> str:
    return f"{meta['study']}-{meta['value']}-{meta['stage']}-{trial_id}"


class TrialRuns:
    """Opens and closes the child runs of one sweep (plain data: picklable into trials)."""

    def __init__(self, tracker: Tracker, sweep: str, parent_run_id: str) -> None:
        self.tracker, self.sweep, self.parent_run_id = tracker, sweep, parent_run_id

    def find(self, trial_id: str) -> str | None:
        return self.tracker.find_run(**{TRIAL_TAG: trial_id})

    def open(self, trial_id: str, meta: Mapping[str, Any], seed: int | None = None) -> tuple[str, int]:
        """(run id, last logged step) of the trial's run, creating it on first sight. A run that was left
        RUNNING, or paused as interrupted, is reopened; a closed run stays closed, since the trial's outcome is
        already recorded."""
        run_id = self.find(trial_id)
        if run_id is not None:
            if self.outcome(run_id) is Outcome.INTERRUPTED:
                self.tracker.set_tags(run_id, record.outcome_tags(Outcome.RUNNING))
            if not self.closed(run_id):
                self.tracker.client.update_run(run_id, status="RUNNING")
            return run_id, self.tracker.last_step(run_id)
        tags = record.trial_tags(self.sweep, self.parent_run_id, trial_id, meta, seed)
        run = self.tracker.client.create_run(self.tracker.experiment_id, run_name=trial_run_name(meta, trial_id),
                                             tags=tags)
        return run.info.run_id, -1

    def outcome(self, run_id: str) -> Outcome | None:
        return record.outcome_of(self.tracker.client.get_run(run_id))

    def closed(self, run_id: str) -> bool:
        """Whether the run's outcome was recorded (anything but running or interrupted)."""
        outcome = self.outcome(run_id)
        return outcome is None or not outcome.open

    def of_stage(self, study: str, stage: str, outcome: Outcome | None = None) -> list[Any]:
        """The runs of one study's stage (with ``outcome`` only, if given)."""
        query = record.query(study=study, stage=stage, outcome=outcome)
        return self.tracker.client.search_runs([self.tracker.experiment_id], filter_string=query, max_results=5000)

    def record_attempt(self, run_id: str, trial_dir: str) -> list[str]:
        """Note the Tune trial folder an attempt of this run checkpoints into (a trial continued after its
        driver died gets a new folder; its older ones still hold the checkpoints it continued from), and
        return every attempt's folder, oldest first."""
        attempts = self.attempts(self.tracker.client.get_run(run_id))
        if trial_dir not in attempts:
            attempts.append(trial_dir)
            self.tracker.set_tags(run_id, record.attempts_tag(attempts))
        return attempts

    @staticmethod
    def attempts(run: Any) -> list[str]:
        return record.attempts_of(run)

    def close_left_open(self, study: str, stage: str, reason: str) -> list[str]:
        """Close as LOST, with ``reason``, every run of this study's stage still open; returns their trial ids.
        Called when Tune has ended every trial it knows, as a backstop: the searchers continue or close the
        runs a killed driver left open (``ganbench.sweep.recovery``), so none should be left."""
        lost = self.of_stage(study, stage, Outcome.RUNNING) + self.of_stage(study, stage, Outcome.INTERRUPTED)
        for run in lost:
            self.close(run.info.run_id, Outcome.LOST, reason=reason)
        return [record.trial_id_of(run) for run in lost]

    def pause_open(self) -> list[str]:
        """Close every run of this sweep that is still running as interrupted (Ctrl-C, SIGTERM): not finished
        and not lost, so that ``--resume`` reopens and continues it. Returns their run ids."""
        query = record.query(sweep=self.sweep, outcome=Outcome.RUNNING)
        runs = self.tracker.client.search_runs([self.tracker.experiment_id], filter_string=query, max_results=5000)
        for run in runs:
            self.close(run.info.run_id, Outcome.INTERRUPTED)
        return [run.info.run_id for run in runs]

    def close(self, run_id: str, outcome: Outcome, reason: str = "", tags: Mapping[str, str] | None = None) -> None:
        """Record the outcome (and, for a failure, its reason) and end the run with the matching status."""
        self.tracker.set_tags(run_id, {**(tags or {}), **record.outcome_tags(outcome, reason)})
        self.tracker.finish(run_id, outcome.mlflow_status)
