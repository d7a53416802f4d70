"""The trainable Tune runs: one ganbench trial (``run_trial``) in a Ray worker, resumed from the newest of
Tune's checkpoint and the trial's own checkpoints in storage; and the shape of a trial's config."""

from __future__ import annotations

import json
import socket
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import ray
import torch
from ray import tune

from ganbench.config import flatten, resolve
from ganbench.metrics import keys
from ganbench.sweep.judge import Judge, with_objective
from ganbench.sweep.recovery import latest_checkpoint, run_identity
from ganbench.sweep.trial import TrialLogger
from ganbench.tracking.runs import TrialRuns
from ganbench.training import checkpoint
from ganbench.training.final import final_evaluation
from ganbench.training.loop import resolve_device, train

META = "_ganbench"  # trial config key holding study, value, stage and seed (not a config key)
STATE_FILE = "state.pt"


@dataclass
class TrialContext:
    """What every trial receives through the object store (works on a multi-node cluster)."""

    runs: TrialRuns  # the sweep's MLflow child runs
    judge: Judge     # the study's rules: its metric, objective (``best_<metric>`` or ``metric``) and outcomes
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
    judge = context.judge

    def deliver(metrics: dict[str, float], saved: tune.Checkpoint | None = None) -> None:
        """Every result this trial gives Tune, fresh or replayed from MLflow, passes the one objective rule."""
        result = with_objective({**metrics, "stage_final": float(meta["stage"] == "final")}, judge.metric,
                                judge.objective)
        tune.report(result, checkpoint=saved)
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
            # Through the objective rule like every other report: the store need not hold the objective's key.
            deliver(logger.recorded_metrics())
            return
        # The newest of the checkpoint Tune hands back (a restored trial's, as of Tune's last snapshot) and the
        # newest this run's attempts left in --storage (an orphan's, or one made after that snapshot).
        known = tune.get_checkpoint()
        stored = latest_checkpoint(context.experiment, attempts) if context.experiment else None
        known_state, unreadable = newest_state([known])
        state = known_state
        if stored and (known is None or stored.rstrip("/") != known.path.rstrip("/")):
            newer, unreadable_stored = newest_state([tune.Checkpoint(stored)])
            unreadable += unreadable_stored
            if newer is not None and (state is None or newer["step"] > state["step"]):
                state = newer
        if unreadable or state is not None:  # said in the run's tags and (unreadable) in the driver's live view
            logger.note_resume(state["step"] if state is not None else None, unreadable)
        fell_back = {"unreadable_checkpoints": float(len(unreadable))} if unreadable else {}
        if state is not None and state is not known_state and state["step"] == logger.last_logged:
            # The trial evaluated this checkpoint after Tune last looked (while a Ctrl-C wound the stage down, or
            # before a killed driver's last snapshot): Tune's scheduler and searcher never saw that evaluation.
            # Hand it to them now, as the uninterrupted sweep did, so ASHA decides at that rung as it would have
            # (report blocks until Tune lets the trial go on; a STOP ends it here, as it would have then).
            deliver({**logger.recorded_metrics(), **fell_back})

        def report(metrics: dict[str, float], run_state: dict[str, Any] | None) -> None:
            logger.log_evaluation(metrics, run_state, config)
            metrics = {**metrics, **fell_back}
            if run_state is None:
                deliver(metrics)
                return
            with tempfile.TemporaryDirectory() as folder:
                checkpoint.save({**run_state, "mlflow_run_id": logger.run_id}, Path(folder) / STATE_FILE)
                deliver(metrics, saved=tune.Checkpoint.from_directory(folder))

        result = train(config, report, resume=state, force=True, real_sides=context.real_sides)
        if meta["stage"] == "final" and not result["diverged"] and logger.best_state is not None:
            final = final_evaluation(logger.best_state, config, context.final_real_sides, device=device)
            scores = logger.log_final_evaluation(final)
            last = keys.final(judge.metric)
            ended = {judge.metric: result[last]} if last in result else {}
            deliver({**scores, "step": result["steps"], **ended})  # a missing metric is left out, never scored 0
        logger.finish(result, judge.outcome(result))
    except Exception as exc:  # noqa: BLE001 - every exception raised here is a config or code error
        # Config and code errors fail the trial at once: reported, never retried. Worker crashes
        # (the process dying, a lost node) never reach this line, so Ray's FailureConfig retries those.
        logger.fail(exc)
        deliver({"failed": 1.0, "step": 0, judge.metric: context.sentinel, judge.objective: context.sentinel})


def newest_state(checkpoints: list[tune.Checkpoint | None]) -> tuple[dict[str, Any] | None, list[str]]:
    """The training state with the most steps among ``checkpoints``, and one line for each checkpoint that could
    not be read (truncated, corrupt). One that has vanished is skipped silently: Tune's num_to_keep may have
    deleted a checkpoint that a killed driver's last snapshot still names."""
    states, unreadable = [], []
    for found in checkpoints:
        if found is None:
            continue
        try:
            with found.as_directory() as folder:
                states.append(torch.load(Path(folder) / STATE_FILE, map_location="cpu", weights_only=True))
        except FileNotFoundError:
            continue
        except Exception as exc:  # noqa: BLE001 - torch.load raises RuntimeError, EOFError, UnpicklingError...
            unreadable.append(f"{found.path}/{STATE_FILE}: {type(exc).__name__}: {str(exc).strip().splitlines()[0]}")
    return max(states, key=lambda state: state["step"], default=None), unreadable
