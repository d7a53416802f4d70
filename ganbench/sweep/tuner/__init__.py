"""The Ray Tune adapter: every Ray call lives in this package.

Fair budgets come from two thin dispatchers over Ray's and Optuna's own components: the searcher
keeps one ``OptunaSearch`` (its own Optuna study) per compared value and hands out trials round
robin, so every value gets ``num_samples`` trials; the scheduler keeps one ``AsyncHyperBandScheduler``
per value, so a slow starter is only ever cut against its own value's results. All values share one
``Tuner`` run and so run concurrently.

- ``trainable``: the trial Tune runs, and the shape of its config;
- ``searchers``: what runs next (per-value Optuna studies; the final stage's configs; recovery);
- ``scheduler``: what stops (per-value ASHA), and its rungs carried in Tune's snapshot;
- ``callbacks``: MLflow runs closed from the driver, and the live view;
- ``stage``: one stage as one Tune run.
"""

from ganbench.sweep.tuner.callbacks import ProgressTable, TrackingCallback, format_seconds
from ganbench.sweep.tuner.scheduler import DispatchingScheduler, SchedulerSnapshot
from ganbench.sweep.tuner.searchers import (
    OPTUNA_STATE,
    ConfigQueue,
    DispatchingSearcher,
    PickledState,
    Recovering,
    optuna_sampler,
    optuna_space,
)
from ganbench.sweep.tuner.stage import LOST_REASON, fail_open_optuna_trials, run_stage
from ganbench.sweep.tuner.trainable import META, STATE_FILE, TrialContext, newest_state, run_trial, split_trial_config

__all__ = ["LOST_REASON", "META", "OPTUNA_STATE", "STATE_FILE", "ConfigQueue", "DispatchingScheduler",
           "DispatchingSearcher", "PickledState", "ProgressTable", "Recovering", "SchedulerSnapshot", "TrackingCallback",
           "TrialContext", "fail_open_optuna_trials", "format_seconds", "newest_state", "optuna_sampler", "optuna_space",
           "run_stage", "run_trial", "split_trial_config"]
