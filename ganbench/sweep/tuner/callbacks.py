"""What the driver does while trials run: close their MLflow runs, and show a live view of the stage."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from ray import tune
from ray.tune.experiment import Trial

from ganbench.metrics.keys import Direction
from ganbench.sweep.judge import Judge
from ganbench.sweep.recovery import run_identity
from ganbench.sweep.study import Study
from ganbench.sweep.trial import ARTIFACT_KEYS
from ganbench.sweep.tuner.trainable import STATE_FILE, split_trial_config
from ganbench.tracking.runs import Outcome, TrialRuns
from ganbench.training import checkpoint


class TrackingCallback(tune.Callback):
    """Closes child runs from the driver: ASHA-stopped trials may never reach their own ``finally``."""

    def __init__(self, runs: TrialRuns, judge: Judge) -> None:
        self.runs, self.judge = runs, judge

    def __setstate__(self, state: dict[str, Any]) -> None:
        # A sweep resumed by a newer ganbench unpickles the callback its driver started with (which kept max_steps).
        if "judge" not in state:
            state["judge"] = Judge("", Direction.MIN, steps=state.pop("max_steps", 0))
        self.__dict__.update(state)

    def _close(self, trial: Trial, outcome: Outcome) -> None:
        run_id = self.runs.find(run_identity(trial.trial_id, split_trial_config(trial.config)[1]))
        if run_id is None or self.runs.closed(run_id):
            return
        latest = trial.checkpoint
        if latest is not None:  # a stopped trial's best generator so far, from its last Ray checkpoint
            try:
                with latest.as_directory() as folder, tempfile.TemporaryDirectory() as out:
                    state = torch.load(Path(folder) / STATE_FILE, map_location="cpu", weights_only=True)
                    path = checkpoint.save({k: state[k] for k in ARTIFACT_KEYS if k in state}, Path(out) / "checkpoint.pt")
                    self.runs.tracker.log_artifact(run_id, path, "checkpoint")
            except FileNotFoundError:
                # A driver killed between Tune's snapshots restores a checkpoint that num_to_keep has since
                # deleted; the run still gets its outcome, only without the artifact.
                pass
        self.runs.close(run_id, outcome)

    def on_trial_complete(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        # (Tune stops the trials it runs when interrupted without calling this: those stay open, to be paused by
        # the driver; a trial that completes, or that ASHA stops, while the stage winds down is closed as usual.)
        self._close(trial, self.judge.outcome(trial.last_result or {}))

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self._close(trial, self.judge.outcome(trial.last_result or {}, error=True))


class ProgressTable(tune.Callback):
    """A live view whose every update is bounded by the values and running trials, not by the sweep: a status
    line with an ETA, each value's counts and best so far, the running trials with their tuned parameters and
    the last few that ended."""

    def __init__(self, study: Study, stage: str, planned: int, every_s: float = 10.0) -> None:
        self.study, self.stage, self.planned, self.every_s = study, stage, planned, every_s
        self.judge = study.judge
        # Search trials are judged on the study's objective; final reruns end on a fresh final evaluation.
        self.shown = study.objective if stage == "search" else study.metric
        self.start = time.time()  # wall clock: a resumed driver unpickles this
        self.last_print, self.last_seen, self.last_running = 0.0, "", []
        self.ended_count, self.ended_order = 0, {}
        self.show_ended = 3

    def __setstate__(self, state: dict[str, Any]) -> None:
        # A sweep resumed by a newer ganbench unpickles the table its driver started with.
        self.__dict__.update({"planned": 0, "start": time.time(), "last_running": [], "ended_count": 0,
                              "ended_order": {}, "show_ended": 3, "last_print": 0.0, "last_seen": "", **state})
        if "judge" not in self.__dict__:
            self.judge = self.study.judge

    def describe(self, trial: Trial) -> str:
        config, meta = split_trial_config(trial.config)
        result = trial.last_result or {}
        metric = self.judge.worth(result, self.stage)
        tuned = {key: config[key] for key in self.study.space(meta["value"]) if key in config}
        if self.stage == "final":  # every seed of a value reruns the same best config
            tuned = {"seed": config.get("seed")}
        params = " ".join(f"{key.rsplit('.', 1)[-1]}={value:.3g}" if isinstance(value, float)
                          else f"{key.rsplit('.', 1)[-1]}={value}" for key, value in tuned.items())
        shown = f"{metric:.4g}" if isinstance(metric, float) else "-"
        fell_back = "  [a checkpoint was unreadable: continued from an older one]" \
            if result.get("unreadable_checkpoints") else ""
        return (f"{trial.trial_id:>12}  {meta['value']:<20} step {int(result.get('step', 0)):>6}/{self.study.steps}"
                f"  {self.shown} {shown:<8} {params}{fell_back}")

    def eta(self, trials: list[Trial]) -> str:
        """Seconds left at the pace so far: steps still to run (an upper bound when ASHA may cut) over steps
        run per second."""
        done_steps = sum(int((t.last_result or {}).get("step", 0)) for t in trials)
        elapsed = time.time() - self.start
        if not done_steps:
            return "ETA after the first results"
        left = sum(self.study.steps - int((t.last_result or {}).get("step", 0)) for t in trials
                   if t.status in ("RUNNING", "PENDING", "PAUSED"))
        left += max(0, self.planned - len(trials)) * self.study.steps
        bound = "at most " if self.stage == "search" and self.study.scheduler == "asha" else ""
        return f"ETA {bound}{format_seconds(left * elapsed / done_steps)}"

    def on_step_end(self, iteration: int, trials: list[Trial], **info: Any) -> None:
        ended = [t for t in trials if t.status in ("TERMINATED", "ERROR")]
        running = [t for t in trials if t.status == "RUNNING"]
        seen = repr([(t.trial_id, (t.last_result or {}).get("step")) for t in running])
        # A trial starting or ending is news at once; progress within trials is shown every ``every_s``.
        news = len(ended) != self.ended_count or [t.trial_id for t in running] != self.last_running
        if not news and (seen == self.last_seen or time.time() - self.last_print < self.every_s):
            return
        self.last_seen, self.last_print, self.last_running = seen, time.time(), [t.trial_id for t in running]
        for trial in ended:  # Tune keeps trials in creation order; remember when each was first seen ended
            self.ended_order.setdefault(trial.trial_id, len(self.ended_order))
        self.ended_count = len(ended)
        print("\n".join(self.view(trials, ended, running)), flush=True)  # piped to tee or a log, too

    def view(self, trials: list[Trial], ended: list[Trial], running: list[Trial]) -> list[str]:
        """Status and ETA; per value its counts and best so far; the running trials; the last few that ended."""
        waiting = max(0, self.planned - len(trials)) + sum(t.status == "PENDING" for t in trials)
        lines = [f"[{self.study.name} {self.stage}] {len(ended)}/{self.planned} ended, {len(running)} running, "
                 f"{waiting} waiting; {format_seconds(time.time() - self.start)} so far, {self.eta(trials)}"]
        per_value = self.planned // max(1, len(self.study.values()))
        for label in (self.study.label(v) for v in self.study.values()):
            mine = [t for t in trials if split_trial_config(t.config)[1]["value"] == label]
            # Only trials that delivered: a diverged or failed trial's sentinel is no "best so far".
            scores = [w for t in mine if t.status == "TERMINATED" and self.judge.counts(self.ended_as(t))
                      and (w := self.judge.worth(t.last_result or {}, self.stage)) is not None]
            best = f"best so far: {self.shown} {self.judge.best(scores):.4g}" if scores else ""
            lines.append(f"  {label:<24} {sum(t in ended for t in mine)}/{per_value} ended, "
                         f"{sum(t in running for t in mine)} running  {best}".rstrip())
        lines += [f"  running  {self.describe(t)}" for t in running]
        last = sorted(ended, key=lambda t: self.ended_order[t.trial_id])[-self.show_ended:]
        lines += [f"  ended    {self.describe(t)}  ({self.ended_as(t).value})" for t in last]
        return lines

    def ended_as(self, trial: Trial) -> Outcome:
        return self.judge.outcome(trial.last_result or {}, error=trial.status == "ERROR")


def format_seconds(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


