"""What Tune stops: one ASHA per compared value, so a value is only ever cut against its own trials."""

from __future__ import annotations

from typing import Any

from ray import tune
from ray.tune.experiment import Trial
from ray.tune.schedulers import AsyncHyperBandScheduler, FIFOScheduler

from ganbench.sweep.study import Study
from ganbench.sweep.tuner.searchers import PickledState
from ganbench.sweep.tuner.trainable import META


class DispatchingScheduler(PickledState, FIFOScheduler):
    """One ASHA per compared value (time in generator steps), so each value has its own brackets. It cuts
    on the study's objective: by default each trial's best checkpoint so far, not its noisy last evaluation."""

    def __init__(self, study: Study, max_steps: int, grace_period: int) -> None:
        super().__init__()
        self._metric, self._mode = study.objective, study.mode
        self.schedulers = {label: AsyncHyperBandScheduler(
            time_attr="step", metric=study.objective, mode=study.mode, max_t=max_steps,
            grace_period=grace_period, reduction_factor=study.reduction_factor, brackets=1,
            stop_last_trials=False)  # full-budget trials finish on their own, with final metrics and artifacts
            for label in (study.label(v) for v in study.values())}

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        return True

    def _of(self, trial: Trial) -> AsyncHyperBandScheduler:
        return self.schedulers[trial.config[META]["value"]]

    def on_trial_add(self, tune_controller: Any, trial: Trial) -> None:
        self._of(trial).on_trial_add(tune_controller, trial)

    def on_trial_result(self, tune_controller: Any, trial: Trial, result: dict) -> str:
        return self._of(trial).on_trial_result(tune_controller, trial, result)

    def on_trial_complete(self, tune_controller: Any, trial: Trial, result: dict) -> None:
        self._of(trial).on_trial_complete(tune_controller, trial, result)

    def on_trial_remove(self, tune_controller: Any, trial: Trial) -> None:
        self._of(trial).on_trial_remove(tune_controller, trial)

    def on_trial_error(self, tune_controller: Any, trial: Trial) -> None:
        self._of(trial).on_trial_error(tune_controller, trial)




class SchedulerSnapshot(tune.Callback):
    """Carries the scheduler's rungs in Tune's experiment snapshot. Tune saves a searcher's state with each
    snapshot but not a scheduler's: ``Tuner.restore`` rebuilds the scheduler from the pickle written when the
    sweep started, with every ASHA rung empty. A trial paused by Ctrl-C then met empty rungs after ``--resume``
    and ran to its last step where the uninterrupted sweep had cut it, so the two leaderboards differed.
    Tune restores callback state before it re-adds the restored trials, and the callback and the scheduler come
    back from that one pickle as one object graph, so ``set_state`` reaches the scheduler Tune uses."""

    def __init__(self, scheduler: DispatchingScheduler) -> None:
        self.scheduler = scheduler

    def get_state(self) -> dict[str, Any]:
        return {"schedulers": self.scheduler.schedulers}

    def set_state(self, state: dict[str, Any]) -> None:
        self.scheduler.schedulers = state["schedulers"]
