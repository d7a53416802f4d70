"""The Ray Tune adapter: every Ray call lives here.

Fair budgets come from two thin dispatchers over Ray's and Optuna's own components: the searcher
keeps one ``OptunaSearch`` (its own Optuna study) per compared value and hands out trials round
robin, so every value gets ``num_samples`` trials; the scheduler keeps one ``AsyncHyperBandScheduler``
per value, so a slow starter is only ever cut against its own value's results. All values share one
``Tuner`` run and so run concurrently.
"""

from __future__ import annotations

import json
import os
import pickle
import socket
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import optuna
import optuna.distributions as od
import ray
import torch
from optuna.trial import TrialState
from ray import tune
from ray.tune.experiment import Trial
from ray.tune.schedulers import AsyncHyperBandScheduler, FIFOScheduler
from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch

from ganbench.config import flatten, resolve
from ganbench.sweep.recovery import (
    NO_CHECKPOINT,
    NO_CONFIG,
    Orphan,
    adopted_meta,
    find_orphans,
    latest_checkpoint,
    run_identity,
)
from ganbench.sweep.results import outcome
from ganbench.sweep.spec import Distribution, Study
from ganbench.sweep.state import join
from ganbench.sweep.trial import ARTIFACT_KEYS, TrialLogger
from ganbench.sweep.worth import with_objective, worth
from ganbench.tracking.runs import TRIAL_TAG, Outcome, TrialRuns
from ganbench.training import checkpoint
from ganbench.training.final import final_evaluation
from ganbench.training.loop import resolve_device, train

META = "_ganbench"  # trial config key holding study, value, stage and seed (not a config key)
OPTUNA_STATE = {Outcome.COMPLETED: TrialState.COMPLETE, Outcome.DIVERGED: TrialState.COMPLETE,
                Outcome.STOPPED_EARLY: TrialState.PRUNED, Outcome.FAILED: TrialState.FAIL}
STATE_FILE = "state.pt"


# ------------------------------------------------------------------------------------------ search

def optuna_space(space: dict[str, Distribution]) -> dict[str, Any]:
    def convert(dist: Distribution) -> Any:
        if dist.kind == "choice":
            return od.CategoricalDistribution(list(dist.args))
        if dist.kind == "int":
            return od.IntDistribution(*dist.args)
        return od.FloatDistribution(*dist.args, log=dist.kind == "loguniform")

    # OptunaSearch names parameters by "/"-joined paths and hands suggestions back unflattened on "/", so
    # "optim/lr_g" returns as {"optim": {"lr_g": ...}}; DispatchingSearcher.suggest flattens that back.
    return {key.replace(".", "/"): convert(dist) for key, dist in space.items()}


def optuna_sampler(name: str, seed: int, n_startup_trials: int = 10) -> Any:
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=n_startup_trials)
    return {"qmc": optuna.samplers.QMCSampler, "random": optuna.samplers.RandomSampler}[name](seed=seed)


class PickledState:
    """Ray saves searcher and scheduler state with the experiment; ours is plain attributes."""

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as handle:
            pickle.dump(self.__dict__, handle)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as handle:
            self.__dict__.update(pickle.load(handle))


class Recovering(PickledState):
    """What both stages' searchers do after a killed driver: on the first suggestion, look for the runs the
    restored state never handed out (``ganbench.sweep.recovery``). An orphan with a checkpoint in --storage (or
    an outcome already recorded) is handed out again, in its own run; one with neither is closed as lost, and
    the slot it took is handed out afresh."""

    def __init__(self, study: Study, stage: str, runs: TrialRuns | None, experiment: str) -> None:
        self.study, self.stage, self.runs, self.experiment = study, stage, runs, experiment
        self.adopted: dict[str, str] = {}  # orphan's trial id -> the Ray trial continuing it
        self.orphans: list[Orphan] | None = None  # to hand out; None until looked for

    def restore(self, checkpoint_path: str) -> None:
        super().restore(checkpoint_path)
        self.orphans = None  # this driver resumes a killed one: look again
        if "runs" not in self.__dict__:  # saved by a ganbench that kept no way back to its runs: no recovery
            self.__dict__.update(orphans=[], adopted={}, handed=[], told_here={}, params={})

    def handed_out(self) -> set[str]:
        raise NotImplementedError

    def recover(self) -> None:
        if self.runs is None:  # not tracked (unit use): nothing to recover
            self.orphans = []
            return
        found = find_orphans(self.runs, self.study.name, self.stage, self.handed_out() | set(self.adopted),
                             self.experiment)
        kept, lost = [], []
        for orphan in found:
            if (orphan.finished or orphan.checkpoint) and self.can_continue(orphan):
                kept.append(orphan)
            else:
                reason = NO_CHECKPOINT if not (orphan.finished or orphan.checkpoint) else NO_CONFIG
                self.runs.close(orphan.run_id, Outcome.LOST, reason=reason)
                self.lost(orphan)
                lost.append(orphan.trial_id)
        self.orphans = kept
        where = f"[{self.study.name} {self.stage}]"
        if kept:
            print(f"{where} continuing {len(kept)} trial(s) a killed driver started after Tune's last snapshot, "
                  f"each in its own run from its newest checkpoint: {', '.join(o.trial_id for o in kept)}")
        if lost:
            print(f"{where} closed {len(lost)} run(s) a killed driver left open with no checkpoint in --storage, "
                  f"as lost (replaced): {', '.join(lost)}")

    def can_continue(self, orphan: Orphan) -> bool:
        return True

    def lost(self, orphan: Orphan) -> None:
        return None


class DispatchingSearcher(Recovering, Searcher):
    """One Optuna study per compared value, ``num_samples`` trials each, handed out round robin.

    With ``study.deterministic`` a value's next trial is handed out only once its previous one has ended. So
    every run of the file shows TPE the same finished trials before each suggestion, and each trial meets
    ASHA's rungs after all earlier trials of its value have recorded theirs: the picks are a function of the
    file and the (bitwise deterministic) training, not of which trial happened to report first. Values still
    run side by side, so up to one trial per value runs at once."""

    def __init__(self, study: Study, storage_url: str, sweep: str, runs: TrialRuns | None = None,
                 experiment: str = "") -> None:
        Searcher.__init__(self, metric=study.objective, mode=study.mode)
        Recovering.__init__(self, study, "search", runs, experiment)
        self.values = {study.label(v): v for v in study.values()}
        self.storage_url = storage_url
        self.study_names = {label: f"{sweep}/{study.name}/{label}" for label in self.values}
        storage = optuna.storages.RDBStorage(storage_url) if storage_url else None
        # A value with nothing to tune needs no study: its trials differ only by what the sweep fixes.
        self.searchers = {
            label: OptunaSearch(space=optuna_space(study.space(value)), metric=study.objective, mode=study.mode,
                                sampler=optuna_sampler(study.sampler, study.searcher_seed, study.startup_trials()),
                                storage=storage, study_name=self.study_names[label]) if study.space(value) else None
            for label, value in self.values.items()
        }
        self.suggested: Counter[str] = Counter()
        self.trial_value: dict[str, str] = {}
        self.running: set[str] = set()  # handed out and not yet ended
        self.told_here: dict[str, int] = {}  # adopted Ray trial -> its orphan's Optuna trial, told by number
        self.params: dict[str, dict[str, Any]] = {}  # orphan's trial id -> its Optuna params (dotted keys)

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        return True  # metric and mode come from the sweep file

    def handed_out(self) -> set[str]:
        return set(self.trial_value)

    def _optuna_trial(self, orphan: Orphan) -> optuna.trial.FrozenTrial | None:
        """The orphan's Optuna trial, found by the Ray trial id ``suggest`` stored on it."""
        study = optuna.load_study(study_name=self.study_names[orphan.value], storage=self.storage_url)
        return next((t for t in study.get_trials(deepcopy=False) if t.user_attrs.get(TRIAL_TAG) == orphan.trial_id),
                    None)

    def can_continue(self, orphan: Orphan) -> bool:
        if orphan.value not in self.values:
            return False
        if self.searchers[orphan.value] is None:
            self.params[orphan.trial_id] = {}
            return True
        trial = self._optuna_trial(orphan)
        if trial is None:  # started by a ganbench that did not tag Optuna trials: its config cannot be rebuilt
            return False
        self.params[orphan.trial_id] = {key.replace("/", "."): value for key, value in trial.params.items()}
        return True

    def lost(self, orphan: Orphan) -> None:
        if orphan.value in self.values and self.searchers[orphan.value] is not None:
            trial = self._optuna_trial(orphan)
            if trial is not None and trial.state is TrialState.RUNNING:
                self._tell(orphan.value, trial.number, None, TrialState.FAIL)

    def _tell(self, label: str, number: int, value: float | None, state: TrialState) -> None:
        study = optuna.load_study(study_name=self.study_names[label], storage=self.storage_url)
        try:
            study.tell(number, value, state=state)
        except (optuna.exceptions.UpdateFinishedTrialError, ValueError):
            pass  # told before the driver was killed

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        if self.orphans is None:
            self.recover()
        if self.orphans:  # in-flight work first: each orphan takes the slot it had
            orphan = self.orphans.pop(0)
            label = orphan.value
            params = self.params.pop(orphan.trial_id)
            if not orphan.finished and self.searchers[label] is not None:
                trial = self._optuna_trial(orphan)
                if trial is not None and trial.state is TrialState.RUNNING:
                    self.told_here[trial_id] = trial.number
            self.adopted[orphan.trial_id] = trial_id
            self.suggested[label] += 1
            self.trial_value[trial_id] = label
            self.running.add(trial_id)
            meta = adopted_meta({"study": self.study.name, "value": label, "stage": "search"}, orphan)
            return {**self.study.config(self.values[label], params), META: meta}
        open_values = [label for label in self.values if self.suggested[label] < self.study.num_samples]
        if not open_values:
            return Searcher.FINISHED
        if self.study.deterministic:
            busy = {self.trial_value[t] for t in self.running}
            open_values = [label for label in open_values if label not in busy]
            if not open_values:
                return None  # Tune asks again once a trial has ended
        label = min(open_values, key=lambda v: self.suggested[v])  # ties keep file order
        searcher = self.searchers[label]
        params = {}
        if searcher is not None:
            params = searcher.suggest(trial_id) or {}
            # So that a killed driver's successor finds this Optuna trial from the trial's MLflow run. Ray's
            # OptunaSearch has no public way from a Ray trial to its Optuna trial; _ot_trials is that map.
            searcher._ot_trials[trial_id].set_user_attr(TRIAL_TAG, trial_id)
        self.suggested[label] += 1
        self.trial_value[trial_id] = label
        self.running.add(trial_id)
        # OptunaSearch hands "/"-joined names back as nested dicts: flatten them to dotted config keys.
        config = self.study.config(self.values[label], flatten(params))
        return {**config, META: {"study": self.study.name, "value": label, "stage": "search"}}

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        searcher = self.searchers.get(self.trial_value.get(trial_id, ""))
        if searcher is not None and self.metric in result and trial_id not in self.told_here \
                and trial_id not in self.adopted.values():
            try:
                searcher.on_trial_result(trial_id, result)
            except optuna.exceptions.UpdateFinishedTrialError:
                pass  # finished before a killed driver could save Tune's state; --resume replays it

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        self.running.discard(trial_id)
        label = self.trial_value.get(trial_id, "")
        searcher = self.searchers.get(label)
        if searcher is None:
            return
        # OptunaSearch tells COMPLETE whenever the last result holds the metric, which is every trial here
        # (failed ones report the sentinel), so the state comes from the trial's outcome: failed -> FAIL,
        # stopped by ASHA -> PRUNED (Optuna keeps its last objective as an intermediate value), completed ->
        # COMPLETE, diverged -> COMPLETE at the metric's documented worst value.
        state = OPTUNA_STATE[outcome({"metrics": result or {}, "error": error or result is None}, self.study.steps)]
        if trial_id in self.told_here:  # continues an orphan: its Optuna trial is told by number
            value = (result or {}).get(self.metric) if state is TrialState.COMPLETE else None
            self._tell(label, self.told_here.pop(trial_id), value, state)
        elif trial_id in self.adopted.values():
            return  # replays an orphan whose Optuna trial was told before the kill
        elif state is TrialState.COMPLETE:
            searcher.on_trial_complete(trial_id, result, error=False)
        else:  # with no result OptunaSearch tells FAIL for an error, PRUNED otherwise
            searcher.on_trial_complete(trial_id, None, error=state is TrialState.FAIL)


class ConfigQueue(Recovering, Searcher):
    """The final stage's trials: the given configs (each value's best, once per seed), handed out in order,
    in the same shape as search trials (dotted config keys plus ``META``). An orphan continues as the trial
    of its value and seed."""

    def __init__(self, configs: list[dict[str, Any]], study: Study, runs: TrialRuns | None = None,
                 experiment: str = "") -> None:
        Searcher.__init__(self)
        Recovering.__init__(self, study, "final", runs, experiment)
        self.pending = list(configs)
        self.handed: list[str] = []

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        return True

    def handed_out(self) -> set[str]:
        return set(self.handed)

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        if self.orphans is None:
            self.recover()
        if not self.pending:
            return Searcher.FINISHED
        config = self.pending.pop(0)
        self.handed.append(trial_id)
        meta = config[META]
        orphan = next((o for o in self.orphans if (o.value, o.seed) == (meta["value"], config.get("seed"))), None)
        if orphan is not None:
            self.orphans.remove(orphan)
            self.adopted[orphan.trial_id] = trial_id
            config = {**config, META: adopted_meta(meta, orphan)}
        return config

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        return None  # nothing to learn: the configs are fixed


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


# ------------------------------------------------------------------------------------------ trials

@dataclass
class TrialContext:
    """What every trial receives through the object store (works on a multi-node cluster)."""

    runs: TrialRuns  # the sweep's MLflow child runs
    metric: str
    objective: str   # the key trials are judged on: ``best_<metric>`` or ``metric`` (Study.objective)
    sentinel: float  # the metric's finite worst value, reported by failed trials
    cpus: float
    real_sides: dict[str, Any]
    final_real_sides: dict[str, Any]
    experiment: str = ""  # the stage's Tune experiment under --storage (path or URI), where checkpoints persist


def split_trial_config(params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A trial's (dotted config keys, META). Both stages hand out flat configs; experiments saved by ganbench
    0.1 wrapped final-stage configs in a grid (``{"trial": ...}``) and nested tuned keys, so a resumed old
    sweep reads through the same door."""
    params = dict(params.get("trial", params))
    meta = params.pop(META)
    return flatten(params), meta


def run_trial(params: dict[str, Any], context: TrialContext) -> None:
    """The Tune function trainable: ganbench's ``train`` with MLflow and Ray checkpoints around it."""
    flat, meta = split_trial_config(params)
    trial_id = run_identity(tune.get_context().get_trial_id(), meta)
    logger = TrialLogger(context.runs, trial_id, meta)
    try:
        config = resolve(flat)
        # Ray sets OMP_NUM_THREADS only when unset; torch must match the trial's CPUs explicitly.
        config = replace(config, train=replace(config.train, threads=max(1, int(context.cpus))))
        device = resolve_device(config.device)
        # Where this attempt runs: a trial restored after a lost node continues elsewhere, in the same run.
        runtime = ray.get_runtime_context()
        attempts = logger.start(config, placement={"device": str(device), "host": socket.gethostname(),
                                                   "ray_node_id": runtime.get_node_id(),
                                                   "ray_resources": json.dumps(runtime.get_assigned_resources(),
                                                                               sort_keys=True),
                                                   "ray_gpu_ids": json.dumps(ray.get_gpu_ids())},
                                trial_dir=Path(tune.get_context().get_trial_dir()).name)
        if logger.closed:
            # Finished before a killed driver saved Tune's state: report what MLflow holds, train nothing again.
            tune.report({**logger.recorded_metrics(), "stage_final": float(meta["stage"] == "final")})
            return
        # The newest of the checkpoint Tune hands back (a restored trial's, as of Tune's last snapshot) and the
        # newest this run's attempts left in --storage (an orphan's, or one made after that snapshot).
        stored = latest_checkpoint(context.experiment, attempts) if context.experiment else None
        state = newest_state([tune.get_checkpoint(), tune.Checkpoint(stored) if stored else None])

        def report(metrics: dict[str, float], run_state: dict[str, Any] | None) -> None:
            logger.log_evaluation(metrics, run_state, config)
            result = with_objective({**metrics, "stage_final": float(meta["stage"] == "final")}, context.metric,
                                    context.objective)
            if run_state is None:
                tune.report(result)
                return
            with tempfile.TemporaryDirectory() as folder:
                checkpoint.save({**run_state, "mlflow_run_id": logger.run_id}, Path(folder) / STATE_FILE)
                tune.report(result, checkpoint=tune.Checkpoint.from_directory(folder))

        result = train(config, report, resume=state, force=True, real_sides=context.real_sides)
        if meta["stage"] == "final" and not result["diverged"] and logger.best_state is not None:
            final = final_evaluation(logger.best_state, config, context.final_real_sides, device=device)
            scores = logger.log_final_evaluation(final)
            tune.report({**scores, "step": result["steps"], context.metric: result.get(f"final_{context.metric}", 0.0),
                         "stage_final": 1.0})
        logger.finish(result)
    except Exception as exc:  # noqa: BLE001 - every exception raised here is a config or code error
        # Config and code errors fail the trial at once: reported, never retried. Worker crashes
        # (the process dying, a lost node) never reach this line, so Ray's FailureConfig retries those.
        logger.fail(exc)
        tune.report({"failed": 1.0, "step": 0, context.metric: context.sentinel, context.objective: context.sentinel})


def newest_state(checkpoints: list[tune.Checkpoint | None]) -> dict[str, Any] | None:
    """The training state with the most steps among ``checkpoints``; one that has vanished is skipped (Tune's
    num_to_keep may have deleted a checkpoint that a killed driver's last snapshot still names)."""
    states = []
    for found in checkpoints:
        if found is None:
            continue
        try:
            with found.as_directory() as folder:
                states.append(torch.load(Path(folder) / STATE_FILE, map_location="cpu", weights_only=True))
        except FileNotFoundError:
            continue
    return max(states, key=lambda state: state["step"], default=None)


# ------------------------------------------------------------------------------------------ driver

class TrackingCallback(tune.Callback):
    """Closes child runs from the driver: ASHA-stopped trials may never reach their own ``finally``."""

    def __init__(self, runs: TrialRuns, max_steps: int) -> None:
        self.runs, self.max_steps = runs, max_steps

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
        step = (trial.last_result or {}).get("step", 0)
        self._close(trial, Outcome.STOPPED_EARLY if step < self.max_steps else Outcome.COMPLETED)

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self._close(trial, Outcome.FAILED)


class ProgressTable(tune.Callback):
    """A live view whose every update is bounded by the values and running trials, not by the sweep: a status
    line with an ETA, each value's counts and best so far, the running trials with their tuned parameters and
    the last few that ended."""

    def __init__(self, study: Study, stage: str, planned: int, every_s: float = 10.0) -> None:
        self.study, self.stage, self.planned, self.every_s = study, stage, planned, every_s
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

    def describe(self, trial: Trial) -> str:
        config, meta = split_trial_config(trial.config)
        result = trial.last_result or {}
        metric = worth(result, self.study.metric, self.study.rank_on, self.stage)
        keys = {**self.study.nuisance, **self.study.per_value.get(meta["value"], {})}
        tuned = {key: config[key] for key in keys if key in config}
        if self.stage == "final":  # every seed of a value reruns the same best config
            tuned = {"seed": config.get("seed")}
        params = " ".join(f"{key.rsplit('.', 1)[-1]}={value:.3g}" if isinstance(value, float)
                          else f"{key.rsplit('.', 1)[-1]}={value}" for key, value in tuned.items())
        shown = f"{metric:.4g}" if isinstance(metric, float) else "-"
        return (f"{trial.trial_id:>12}  {meta['value']:<20} step {int(result.get('step', 0)):>6}/{self.study.steps}"
                f"  {self.shown} {shown:<8} {params}")

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
        better = min if self.study.mode == "min" else max
        for label in (self.study.label(v) for v in self.study.values()):
            mine = [t for t in trials if split_trial_config(t.config)[1]["value"] == label]
            scores = [w for t in mine if t.status == "TERMINATED"
                      and isinstance(w := worth(t.last_result or {}, self.study.metric, self.study.rank_on,
                                                self.stage), float)]
            best = f"best {self.shown} {better(scores):.4g}" if scores else ""
            lines.append(f"  {label:<24} {sum(t in ended for t in mine)}/{per_value} ended, "
                         f"{sum(t in running for t in mine)} running  {best}".rstrip())
        lines += [f"  running  {self.describe(t)}" for t in running]
        last = sorted(ended, key=lambda t: self.ended_order[t.trial_id])[-self.show_ended:]
        lines += [f"  ended    {self.describe(t)}  ({self.outcome_of(t)})" for t in last]
        return lines

    def outcome_of(self, trial: Trial) -> str:
        return outcome({"metrics": trial.last_result or {}, "error": trial.status == "ERROR"}, self.study.steps).value


def format_seconds(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


LOST_REASON = ("lost: the driver was killed after this trial started and before Tune saved its experiment state, "
               "so the resumed sweep could not continue it and ran a replacement")


def fail_open_optuna_trials(storage_url: str, study_names: list[str]) -> None:
    """Tell FAIL for the Optuna trials a killed driver left RUNNING: their Ray trials are gone (see LOST_REASON)."""
    storage = optuna.storages.RDBStorage(storage_url)
    known = {s.study_name for s in optuna.get_all_study_summaries(storage)}
    for name in study_names:
        if name not in known:
            continue
        study = optuna.load_study(study_name=name, storage=storage)
        for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            study.tell(trial.number, state=TrialState.FAIL)


def run_stage(study: Study, stage: str, context: TrialContext, storage: str, experiment: str,
              configs: list[dict[str, Any]] | None, storage_url: str, sweep: str, max_steps: int,
              max_concurrent: int, resume: bool) -> list[dict[str, Any]]:
    """Run (or resume) one stage; returns each trial's config, last result and error, as plain data."""
    # Tune's snapshot warnings and Optuna's per-study INFO lines drown the progress table.
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    planned = len(study.values()) * study.num_samples if stage == "search" else len(configs or [])
    trainable = tune.with_resources(tune.with_parameters(run_trial, context=context),
                                    {"cpu": study.cpu, "gpu": study.gpu})
    path = join(storage, experiment)
    context = replace(context, experiment=path)
    # reuse_actors=True: a finished trial's worker process takes the next trial instead of a fresh
    # process re-importing torch and the trainable (~5 s a trial on this machine).
    if resume and tune.Tuner.can_restore(path):
        tuner = tune.Tuner.restore(path, trainable=trainable, resume_errored=True)
    else:
        if stage == "search":
            grace = study.grace_period or study.eval_every
            tune_config = tune.TuneConfig(
                search_alg=DispatchingSearcher(study, storage_url, sweep, context.runs, path),
                scheduler=DispatchingScheduler(study, max_steps, grace) if study.scheduler == "asha" else None,
                num_samples=len(study.values()) * study.num_samples,
                max_concurrent_trials=max_concurrent or None, reuse_actors=True)
        else:
            tune_config = tune.TuneConfig(search_alg=ConfigQueue(configs or [], study, context.runs, path),
                                          num_samples=len(configs or []),
                                          max_concurrent_trials=max_concurrent or None, reuse_actors=True)
        tuner = tune.Tuner(trainable, tune_config=tune_config, run_config=tune.RunConfig(
            name=experiment, storage_path=storage, verbose=0,
            failure_config=tune.FailureConfig(max_failures=2),  # worker crashes; code errors never get here
            checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
            callbacks=[TrackingCallback(context.runs, max_steps), ProgressTable(study, stage, planned)]))
    results = tuner.fit()
    # Every trial Tune knows has ended. What is still open belongs to trials a killed driver started after Tune's
    # last snapshot: Tune's restored state never knew them and the searcher suggested replacements.
    lost = context.runs.close_left_open(study.name, stage, reason=LOST_REASON)
    if stage == "search" and storage_url:
        fail_open_optuna_trials(storage_url, [f"{sweep}/{study.name}/{study.label(v)}" for v in study.values()
                                              if study.space(v)])
    if lost:
        print(f"[{study.name} {stage}] closed {len(lost)} run(s) a killed driver left open, as lost "
              f"(replaced): {', '.join(lost)}")
    rows = []
    for result in results:
        flat, meta = split_trial_config(result.config)
        rows.append({"config": flat, "meta": meta, "metrics": dict(result.metrics or {}),
                     "error": repr(result.error) if result.error else None})
    return rows
