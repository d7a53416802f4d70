"""The Ray Tune adapter: every Ray call lives here.

Fair budgets come from two thin dispatchers over Ray's and Optuna's own components: the searcher
keeps one ``OptunaSearch`` (its own Optuna study) per compared value and hands out trials round
robin, so every value gets ``num_samples`` trials; the scheduler keeps one ``AsyncHyperBandScheduler``
per value, so a slow starter is only ever cut against its own value's results. All values share one
``Tuner`` run and so run concurrently.
"""

from __future__ import annotations

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
from ganbench.sweep.results import outcome
from ganbench.sweep.spec import Distribution, Study
from ganbench.sweep.trial import ARTIFACT_KEYS, TrialLogger
from ganbench.sweep.worth import with_objective, worth
from ganbench.tracking.runs import Outcome, TrialRuns
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


class DispatchingSearcher(PickledState, Searcher):
    """One Optuna study per compared value, ``num_samples`` trials each, handed out round robin."""

    def __init__(self, study: Study, storage_url: str, sweep: str) -> None:
        super().__init__(metric=study.objective, mode=study.mode)

        self.study = study
        self.values = {study.label(v): v for v in study.values()}
        storage = optuna.storages.RDBStorage(storage_url) if storage_url else None
        # A value with nothing to tune needs no study: its trials differ only by what the sweep fixes.
        self.searchers = {
            label: OptunaSearch(space=optuna_space(study.space(value)), metric=study.objective, mode=study.mode,
                                sampler=optuna_sampler(study.sampler, study.searcher_seed, study.startup_trials()),
                                storage=storage,
                                study_name=f"{sweep}/{study.name}/{label}") if study.space(value) else None
            for label, value in self.values.items()
        }
        self.suggested: Counter[str] = Counter()
        self.trial_value: dict[str, str] = {}

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        return True  # metric and mode come from the sweep file

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        open_values = [label for label in self.values if self.suggested[label] < self.study.num_samples]
        if not open_values:
            return Searcher.FINISHED
        label = min(open_values, key=lambda v: self.suggested[v])  # ties keep file order
        searcher = self.searchers[label]
        params = (searcher.suggest(trial_id) or {}) if searcher is not None else {}
        self.suggested[label] += 1
        self.trial_value[trial_id] = label
        # OptunaSearch hands "/"-joined names back as nested dicts: flatten them to dotted config keys.
        config = self.study.config(self.values[label], flatten(params))
        return {**config, META: {"study": self.study.name, "value": label, "stage": "search"}}

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        searcher = self.searchers.get(self.trial_value.get(trial_id, ""))
        if searcher is not None and self.metric in result:
            try:
                searcher.on_trial_result(trial_id, result)
            except optuna.exceptions.UpdateFinishedTrialError:
                pass  # finished before a killed driver could save Tune's state; --resume replays it

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        searcher = self.searchers.get(self.trial_value.get(trial_id, ""))
        if searcher is None:
            return
        # OptunaSearch tells COMPLETE whenever the last result holds the metric, which is every trial here
        # (failed ones report the sentinel), so the state comes from the trial's outcome: failed -> FAIL,
        # stopped by ASHA -> PRUNED (Optuna keeps its last objective as an intermediate value), completed ->
        # COMPLETE, diverged -> COMPLETE at the metric's documented worst value.
        state = OPTUNA_STATE[outcome({"metrics": result or {}, "error": error or result is None}, self.study.steps)]
        if state is TrialState.COMPLETE:
            searcher.on_trial_complete(trial_id, result, error=False)
        else:  # with no result OptunaSearch tells FAIL for an error, PRUNED otherwise
            searcher.on_trial_complete(trial_id, None, error=state is TrialState.FAIL)


class ConfigQueue(PickledState, Searcher):
    """The final stage's trials: the given configs (each value's best, once per seed), handed out in order,
    in the same shape as search trials (dotted config keys plus ``META``)."""

    def __init__(self, configs: list[dict[str, Any]]) -> None:
        super().__init__()
        self.pending = list(configs)

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        return True

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        return self.pending.pop(0) if self.pending else Searcher.FINISHED

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
    trial_id = tune.get_context().get_trial_id()
    logger = TrialLogger(context.runs, trial_id, meta)
    try:
        config = resolve(flat)
        # Ray sets OMP_NUM_THREADS only when unset; torch must match the trial's CPUs explicitly.
        config = replace(config, train=replace(config.train, threads=max(1, int(context.cpus))))
        device = resolve_device(config.device)
        # Where this attempt runs: a trial restored after a lost node continues elsewhere, in the same run.
        logger.start(config, placement={"device": str(device), "host": socket.gethostname(),
                                        "ray_node_id": ray.get_runtime_context().get_node_id()})
        if logger.closed:
            # Finished before a killed driver saved Tune's state: report what MLflow holds, train nothing again.
            tune.report({**logger.recorded_metrics(), "stage_final": float(meta["stage"] == "final")})
            return
        previous = tune.get_checkpoint()
        state = None
        if previous is not None:
            with previous.as_directory() as folder:
                state = torch.load(Path(folder) / STATE_FILE, map_location="cpu", weights_only=True)

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


# ------------------------------------------------------------------------------------------ driver

class TrackingCallback(tune.Callback):
    """Closes child runs from the driver: ASHA-stopped trials may never reach their own ``finally``."""

    def __init__(self, runs: TrialRuns, max_steps: int) -> None:
        self.runs, self.max_steps = runs, max_steps

    def _close(self, trial: Trial, outcome: Outcome) -> None:
        run_id = self.runs.find(trial.trial_id)
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
    """A compact live table of trials, printed when something changes (at most every few seconds)."""

    def __init__(self, study: Study, stage: str, every_s: float = 10.0) -> None:
        self.study, self.stage, self.every_s = study, stage, every_s
        # Search trials are judged on the study's objective; final reruns end on a fresh final evaluation.
        self.shown = study.objective if stage == "search" else study.metric
        self.last_print, self.last_seen = 0.0, ""

    def on_step_end(self, iteration: int, trials: list[Trial], **info: Any) -> None:
        rows = [(t.trial_id, split_trial_config(t.config)[1]["value"], t.status, int((t.last_result or {}).get("step", 0)),
                 worth(t.last_result or {}, self.study.metric, self.study.rank_on, self.stage)) for t in trials]
        seen = repr([(r[2], r[3]) for r in rows])
        if seen == self.last_seen or time.monotonic() - self.last_print < self.every_s:
            return
        self.last_seen, self.last_print = seen, time.monotonic()
        counts = Counter(r[2] for r in rows)
        print(f"[{self.study.name} {self.stage}] " + ", ".join(f"{k.lower()} {v}" for k, v in sorted(counts.items())))
        for trial_id, value, status, step, metric in rows:
            if status in ("RUNNING", "PENDING") or step:
                shown = f"{metric:.4g}" if isinstance(metric, float) else "-"
                print(f"  {trial_id:>12}  {value:<24} {status:<10} step {step:>6}  {self.shown} {shown}")


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
    trainable = tune.with_resources(tune.with_parameters(run_trial, context=context),
                                    {"cpu": study.cpu, "gpu": study.gpu})
    path = f"{storage.rstrip('/')}/{experiment}"
    # reuse_actors=True: a finished trial's worker process takes the next trial instead of a fresh
    # process re-importing torch and the trainable (~5 s a trial on this machine).
    if resume and tune.Tuner.can_restore(path):
        tuner = tune.Tuner.restore(path, trainable=trainable, resume_errored=True)
    else:
        if stage == "search":
            grace = study.grace_period or study.eval_every
            tune_config = tune.TuneConfig(
                search_alg=DispatchingSearcher(study, storage_url, sweep),
                scheduler=DispatchingScheduler(study, max_steps, grace) if study.scheduler == "asha" else None,
                num_samples=len(study.values()) * study.num_samples,
                max_concurrent_trials=max_concurrent or None, reuse_actors=True)
        else:
            tune_config = tune.TuneConfig(search_alg=ConfigQueue(configs or []), num_samples=len(configs or []),
                                          max_concurrent_trials=max_concurrent or None, reuse_actors=True)
        tuner = tune.Tuner(trainable, tune_config=tune_config, run_config=tune.RunConfig(
            name=experiment, storage_path=storage, verbose=0,
            failure_config=tune.FailureConfig(max_failures=2),  # worker crashes; code errors never get here
            checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
            callbacks=[TrackingCallback(context.runs, max_steps), ProgressTable(study, stage)]))
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
