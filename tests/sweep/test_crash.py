"""A sweep whose driver's whole process group is SIGKILLed at three moments, resumed after each: before any
trial has reported, mid-search with trials Tune's restored state never knew, and during the final stage.
It ends with nothing RUNNING, no trial id twice, every value at its planned count and every curve's steps
strictly increasing (read with ``get_metric_history``), and the trials in flight continued in their own runs
from their checkpoints in --storage."""

from __future__ import annotations

import contextlib
import json
import math
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from mlflow import MlflowClient

from ganbench.training.loop import train
from tests import infra
from tests.conftest import tiny_config
from tests.infra import (
    assert_runs_match_plan,
    assert_steps_strictly_increase,
    children,
    ganbench_sweep,
    kill_session,
    runs_of,
    sweep_env,
)

pytestmark = pytest.mark.slow
SWEEPS = Path(__file__).resolve().parent / "files"
TRIAL_SECONDS = 33  # the issue asks for trials of at least 30 s; sized on this machine (walls came out 0.8-1.1x)


def trial_steps(seconds: float = TRIAL_SECONDS) -> int:
    """Generator steps of tiny.yaml's nets that take about ``seconds`` here, measured on a short run at 1 thread:
    a multiple of 1,500, at least 4,500. Machines differ ~4x (34-60 s for 4,500 steps on one,
    8 s on another), so a fixed count would make the kills race the trials."""
    def run_seconds(steps: int) -> float:
        config = tiny_config(f"train.steps={steps}", f"eval.every={steps}", f"train.log_every={steps}")
        started = time.perf_counter()
        train(config, lambda metrics, state: None)
        return time.perf_counter() - started

    per_step = (run_seconds(2500) - run_seconds(500)) / 2000  # the difference cancels set-up and evaluation
    return max(4500, math.ceil(seconds / per_step / 1500) * 1500)


def long_sweep(steps: int) -> str:
    """tiny.yaml with trials of ``steps`` steps, an evaluation and checkpoint every third, no ASHA (every trial
    runs its full length), two at a time. With CheckpointConfig(num_to_keep=2) Tune snapshots its experiment
    whenever a trial has checkpointed twice since the last snapshot, so a trial started after a snapshot stays
    unknown to it from its first checkpoint to its second: one evaluation interval, long enough to kill the
    driver in."""
    return ((SWEEPS / "tiny.yaml").read_text()
            .replace("train.steps: 30", f"train.steps: {steps}").replace("eval.every: 10", f"eval.every: {steps // 3}")
            .replace("train.log_every: 10", f"train.log_every: {steps // 3}")
            .replace("scheduler: {name: asha, grace_period: 10, reduction_factor: 2}", "scheduler: {name: none}")
            + "max_concurrent: 2\n")


def query(db: Path, sql: str) -> list[tuple]:
    if not db.exists():
        return []
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)) as conn:
            return conn.execute(sql).fetchall()
    except sqlite3.Error:  # tables not created yet, or locked for a moment
        return []


def trial_runs(db: Path) -> dict[str, dict[str, str]]:
    """run id -> its tags, for every child run."""
    rows = query(db, "select run_uuid, key, value from tags where run_uuid in "
                     "(select run_uuid from tags where key = 'ganbench.kind' and value = 'trial')")
    runs: dict[str, dict[str, str]] = {}
    for run_id, key, value in rows:
        runs.setdefault(run_id, {})[key] = value
    return runs


def evaluated(db: Path, run_id: str) -> int:
    return query(db, f"select count(*) from metrics where run_uuid = '{run_id}' and key = 'step'")[0][0]


def restored_state(experiment: Path) -> str:
    """The text of Tune's newest experiment snapshot (empty if it never saved one)."""
    snapshots = sorted(experiment.glob("experiment_state-*.json"))
    return snapshots[-1].read_text() if snapshots else ""


def kill_when(args: list[str], env: dict[str, str], log: Path, ready, what: str, timeout: float = 420) -> None:
    """Start the driver, SIGKILL its whole process group once ``ready()`` holds."""
    with open(log, "w") as out:
        driver = subprocess.Popen([sys.executable, "-m", "ganbench", "sweep", *args], env=env, stdout=out,
                                  stderr=subprocess.STDOUT, start_new_session=True)
        tree: set[int] = set()
        try:
            infra.wait_until(lambda: ready() or driver.poll() is not None, timeout, every=0.25, what=what)
            assert driver.poll() is None, f"driver ended before the kill ({what}):\n{log.read_text()}"
            tree = infra.descendants({driver.pid})
        finally:
            kill_session(driver, tree)
    assert driver.returncode == -signal.SIGKILL


def test_a_driver_killed_at_three_moments_resumes_and_continues_its_trials(tmp_path):
    home, ray_tmp = tmp_path / "home", infra.short_tmp("rk")
    # Tune snapshots its experiment every 10 s by default; an hour here makes certain that trials start after
    # the last snapshot, the case the resumed driver must handle (it is not made rare by snapshotting often).
    env = {**sweep_env(home, ray_tmp), "TUNE_GLOBAL_CHECKPOINT_S": "3600"}
    sweep = tmp_path / "long.yaml"
    steps = trial_steps()
    sweep.write_text(long_sweep(steps))
    db = home / "mlflow" / "mlflow.db"
    storage = home / "ray_results"
    search = storage / "k-tiny-search"
    args = [str(sweep), "--name", "k"]
    try:
        # 1. Before any trial has reported: a run is open, no evaluation logged anywhere.
        kill_when(args, env, tmp_path / "kill1.log",
                  lambda: trial_runs(db) and not query(db, "select 1 from metrics where key = 'step' limit 1"),
                  "a started trial with no evaluation")

        # 2. Mid-search: a trial finished, and a running trial with a checkpoint that Tune's snapshot never knew.
        def orphan_with_checkpoint() -> bool:
            runs = trial_runs(db)
            done = any(t.get("outcome") == "completed" for t in runs.values())
            snapshot = restored_state(search)
            return done and any(t["outcome"] == "running" and t["stage"] == "search" and evaluated(db, r) >= 1
                                and t["ganbench.trial_id"] not in snapshot for r, t in runs.items())

        kill_when([*args, "--resume"], env, tmp_path / "kill2.log", orphan_with_checkpoint,
                  "a finished trial and an unsnapshotted one with checkpoints")
        snapshot = restored_state(search)
        in_flight = {t["ganbench.trial_id"]: r for r, t in trial_runs(db).items()
                     if t["outcome"] == "running" and t["stage"] == "search"}
        unknown = {tid for tid in in_flight if tid not in snapshot}
        assert unknown, "every open run is in the restored Tune state: the orphan case was not reached"
        steps_at_kill = {tid: evaluated(db, r) for tid, r in in_flight.items()}

        # 3. During the final stage: a final trial has evaluated.
        kill_when([*args, "--resume"], env, tmp_path / "kill3.log",
                  lambda: any(t.get("stage") == "final" and evaluated(db, r) >= 1 for r, t in trial_runs(db).items()),
                  "a final-stage trial's first evaluation", timeout=600)

        done = ganbench_sweep([*args, "--resume"], env, tmp_path / "resumed.log", timeout=600)
        assert done.returncode == 0, done.stdout
    finally:
        infra.kill_pids(infra.mentioning(str(ray_tmp)))

    client = MlflowClient(f"sqlite:///{db}")
    runs = runs_of(client, "ganbench/k")
    trials = children(runs)
    planned = Counter({("search", "non_saturating"): 2, ("search", "hinge"): 2, ("final", "non_saturating"): 1,
                       ("final", "hinge"): 1})
    kept = assert_runs_match_plan(runs, planned)
    outcomes = [(r.data.tags["stage"], r.data.tags["value"], r.data.tags["outcome"], r.data.tags.get("failure_reason"))
                for r in kept]
    assert all(outcome == "completed" for _, _, outcome, _ in outcomes), outcomes
    lost = [r for r in trials if r.data.tags["outcome"] == "lost"]
    assert all(r.info.status == "KILLED" and r.data.tags["failure_reason"].startswith("lost:") for r in lost)
    assert_steps_strictly_increase(client, runs)
    by_id = {r.data.tags["ganbench.trial_id"]: r for r in trials}
    # Every trial the mid-search kill caught with a checkpoint, known to Tune's snapshot or not, went on in its
    # own run from its checkpoint: the evaluations it had stayed, and it finished all its steps.
    for tid in in_flight:
        run = by_id[tid]
        history = [m.step for m in client.get_metric_history(run.info.run_id, "step")]
        if steps_at_kill[tid] >= 1:
            assert run.data.tags["outcome"] == "completed", (tid, run.data.tags)
            assert len(json.loads(run.data.tags["ganbench.trial_dirs"])) >= 1 + (tid in unknown)
            assert history[-1] == steps and len(history) >= steps_at_kill[tid]
            # ... from a checkpoint, not from step 0 (MLflow skips repeated steps, so the history cannot show it)
            resumed_from = run.data.tags.get("ganbench.resumed_from", "")
            assert re.fullmatch(r"step [1-9]\d*", resumed_from), (tid, resumed_from)
    assert any(len(json.loads(r.data.tags.get("ganbench.trial_dirs", "[]"))) > 1 for r in kept), \
        "no trial was continued in a second attempt"
    walls = [r.data.metrics["trial_wall_s"] for r in kept if len(json.loads(r.data.tags["ganbench.trial_dirs"])) == 1]
    assert walls and max(walls) >= 30, (steps, walls)  # the trials are as long as the issue asks
    optuna_db = storage / "ganbench-sweeps" / "k.optuna.db"
    with contextlib.closing(sqlite3.connect(optuna_db)) as conn:
        assert conn.execute("select count(*) from trials where state = 'RUNNING'").fetchone()[0] == 0
    assert json.loads((storage / "ganbench-sweeps" / "k.json").read_text())["studies"]["tiny"]["stage"] == "done"
