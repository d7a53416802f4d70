"""One stage of a study (search or final) as one Tune run: built, or restored after a killed driver."""

from __future__ import annotations

import logging
import os
import signal
from dataclasses import replace
from typing import Any

import optuna
from optuna.trial import TrialState
from ray import tune

from ganbench.sweep.interrupts import GUARD
from ganbench.sweep.state import join
from ganbench.sweep.study import Study
from ganbench.sweep.tuner.callbacks import ProgressTable, TrackingCallback
from ganbench.sweep.tuner.scheduler import DispatchingScheduler, SchedulerSnapshot
from ganbench.sweep.tuner.searchers import ConfigQueue, DispatchingSearcher
from ganbench.sweep.tuner.snapshots import SET_ASIDE, has_snapshot, set_aside_unreadable
from ganbench.sweep.tuner.trainable import TrialContext, run_trial, split_trial_config

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


def stop_tune() -> None:
    """Stop the running ``Tuner.fit`` the way Tune stops on Ctrl-C: it hands out nothing more, saves its experiment
    state and stops its trials, which restart from their checkpoints on ``Tuner.restore``. Tune listens for this
    on SIGUSR1 during ``fit``; its own SIGINT handler is off (TUNE_DISABLE_SIGINT_HANDLER), since it would let the
    driver go on as if the stage had ended. Tune's interruption messages name its Python API, not the command
    that resumes a sweep, so they are silenced: the driver prints that command."""
    for name in ("ray.tune", "ray.tune.tune", "ray.train"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    handler = signal.getsignal(signal.SIGUSR1)
    if callable(handler):
        handler(signal.SIGUSR1, None)


def run_stage(study: Study, stage: str, context: TrialContext, storage: str, experiment: str,
              configs: list[dict[str, Any]] | None, storage_url: str, sweep: str, max_steps: int,
              max_concurrent: int, resume: bool) -> list[dict[str, Any]]:
    """Run (or resume) one stage; returns each trial's config, last result and error, as plain data."""
    # Tune's snapshot warnings and Optuna's per-study INFO lines drown the progress table.
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"  # ganbench's own (ganbench.sweep.interrupts) answers Ctrl-C
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    planned = len(study.values()) * study.num_samples if stage == "search" else len(configs or [])
    path = join(storage, experiment)
    # Before the trainable is built: trials look for their newest checkpoint in --storage through it. (Built after,
    # until 2026-12-04, a trial restored or adopted after a killed driver restarted from Tune's snapshot, or from
    # step 0, with MLflow's repeated steps skipped so nothing showed it.)
    context = replace(context, experiment=path)
    trainable = tune.with_resources(tune.with_parameters(run_trial, context=context),
                                    {"cpu": study.cpu, "gpu": study.gpu})
    # reuse_actors=True: a finished trial's worker process takes the next trial instead of a fresh
    # process re-importing torch and the trainable (~5 s a trial on this machine).
    set_aside = set_aside_unreadable(path) if resume else []
    if set_aside:
        print(f"[{study.name} {stage}] Tune's snapshot of session {', '.join(set_aside)} could not be read (cut "
              f"short, e.g. by a full disk): set aside as *{SET_ASIDE}; resuming from the newest readable one")
    # With no readable snapshot (a driver killed before Tune's first one, or every one cut short) Tune's restore
    # would log a traceback and start afresh: start afresh here, and recovery finds the runs already begun.
    if resume and tune.Tuner.can_restore(path) and has_snapshot(path):
        tuner = tune.Tuner.restore(path, trainable=trainable, resume_errored=True)
    else:
        scheduler = None
        if stage == "search":
            if study.scheduler == "asha":
                scheduler = DispatchingScheduler(study, max_steps, study.grace_period or study.eval_every)
            tune_config = tune.TuneConfig(
                search_alg=DispatchingSearcher(study, storage_url, sweep, context.runs, path), scheduler=scheduler,
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
            callbacks=[TrackingCallback(context.runs, context.judge), ProgressTable(study, stage, planned)]
            + ([SchedulerSnapshot(scheduler)] if scheduler is not None else [])))
    with GUARD.graceful(stop_tune):  # Ctrl-C or SIGTERM: Tune saves its state, stops trials, raises Interrupted
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
