"""The faults a person at a terminal causes every day, on README's quickstart (shrunk): two drivers started at
once, a second driver and a ``--resume`` while one runs, Ctrl-C (SIGINT to the terminal's process group) and
SIGTERM during the search, and a resume to the end. The leaderboard must equal an uninterrupted run's of the same
file (deterministic mode), every planned trial must have run once, and no curve repeats a step. Then an MLflow
server down for 30 s, a finished trial replayed after a SIGKILL, and a full disk.

Each row of README's fault table names the test that holds it; this module holds the rows these cover."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests import infra
from tests.infra import (
    assert_runs_match_plan,
    assert_steps_strictly_increase,
    children,
    ganbench_sweep,
    kill_session,
    runs_of,
    sweep_env,
)
from tests.sweep.test_crash import evaluated, trial_runs

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
VALUES = ("wgan_gp", "non_saturating", "hinge")
SEARCH, SEEDS = 2, 2


def shrunk_quickstart() -> str:
    """README's quickstart at a test's size: the same losses, space, searcher, steps and deterministic mode; 2 search
    trials and 3 final seeds a value."""
    text = (ROOT / "search_spaces" / "quickstart.yaml").read_text()
    for old, new in (("num_samples: 3", f"num_samples: {SEARCH}"), ("seeds: 5", f"seeds: {SEEDS}")):
        assert old in text, old
        text = text.replace(old, new)
    return text


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "w") as out:
        return subprocess.Popen([sys.executable, "-m", "ganbench", "sweep", *args], env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def leaderboard(client: MlflowClient, name: str) -> dict[str, tuple[list[float], dict[str, str]]]:
    """Per value: its final seeds' numbers, sorted, and the config they reran (tuned keys only)."""
    board: dict[str, tuple[list[float], dict[str, str]]] = {}
    for run in children(runs_of(client, f"ganbench/{name}")):
        tags = run.data.tags
        if tags["stage"] != "final" or tags["outcome"] == "lost":
            continue
        numbers, config = board.setdefault(tags["value"], ([], {}))
        numbers.append(run.data.metrics["final_eval_modes"])
        config.update({k: v for k, v in run.data.params.items() if k in ("optim.lr_g", "optim.lr_d")})
    return {value: (sorted(numbers), config) for value, (numbers, config) in board.items()}


def search_trials(client: MlflowClient, name: str) -> dict[tuple[str, ...], tuple]:
    """Per search trial (value and tuned config): how it ended, its last step and its best objective."""
    trials = {}
    for run in children(runs_of(client, f"ganbench/{name}")):
        tags, params = run.data.tags, run.data.params
        if tags["stage"] == "search" and tags["outcome"] != "lost":
            key = (tags["value"], params["optim.lr_g"], params["optim.lr_d"])
            trials[key] = (tags["outcome"], run.data.metrics["step"], run.data.metrics["best_balanced_hq_fraction"])
    return trials


def refused_naming(proc: subprocess.Popen, log: Path, holder: int) -> str:
    """A refused driver: exit 2 in one line naming the running driver's pid, no traceback."""
    assert proc.wait(timeout=120) == 2, log.read_text()
    text = log.read_text()
    errors = [line for line in text.splitlines() if line.startswith("ganbench: error: ")]
    assert len(errors) == 1 and "Traceback" not in text, text
    assert re.search(rf"is being run by another driver \(host [^,]+, pid {holder}, heartbeat \d+ s ago\)", errors[0])
    return errors[0]


def test_ctrl_c_sigterm_and_a_second_driver_lose_nothing_and_the_leaderboard_is_the_uninterrupted_one(tmp_path):
    home, ray_tmp = tmp_path / "home", infra.short_tmp("rf")
    env = sweep_env(home, ray_tmp)
    sweep = tmp_path / "quickstart.yaml"
    sweep.write_text(shrunk_quickstart())
    db = home / "mlflow" / "mlflow.db"
    storage = home / "ray_results"
    args = [str(sweep), "--name", "paused"]

    def paused_runs() -> dict[str, dict[str, str]]:
        return {r: t for r, t in trial_runs(db).items() if t.get("sweep") == "paused"}
    # The uninterrupted sweep runs beside the interrupted one, in its own home and Ray: deterministic mode makes its
    # leaderboard independent of timing and of sharing the cores, and the interrupted driver spends much of its
    # time starting, being refused and stopping (this saves about a minute of the suite).
    straight_home, straight_tmp = tmp_path / "straight-home", infra.short_tmp("rs")
    straight = start([str(sweep), "--name", "straight"], sweep_env(straight_home, straight_tmp),
                     tmp_path / "straight.log")
    try:
        # 1. Two drivers started at the same moment on one sweep: one runs, the other is refused and writes nothing.
        logs = {"d1": tmp_path / "d1.log", "d2": tmp_path / "d2.log"}
        drivers = {key: start(args, env, log) for key, log in logs.items()}
        infra.wait_until(lambda: any(d.poll() is not None for d in drivers.values()), 120, every=0.1,
                         what="one of two drivers refused")
        lost_key = next(key for key, d in drivers.items() if d.poll() is not None)
        won_key = "d2" if lost_key == "d1" else "d1"
        winner = drivers[won_key]
        refused_naming(drivers[lost_key], logs[lost_key], winner.pid)
        try:
            # 2. Trials in flight, one finished: a --resume beside the running driver is refused too.
            # (two evaluations: the first one's checkpoint has reached --storage by the time the second is logged)
            infra.wait_until(lambda: any(t["outcome"] == "completed" for t in paused_runs().values())
                             and any(t["outcome"] == "running" and evaluated(db, r) >= 2
                                     for r, t in paused_runs().items()), 300, every=0.1,
                             what="a finished search trial and one with two evaluations")
            runs_before = len(paused_runs())
            refused_naming(start([*args, "--resume"], env, tmp_path / "d3.log"), tmp_path / "d3.log", winner.pid)
            assert len(paused_runs()) >= runs_before  # it wrote nothing (the running driver may add runs)
            # 3. Ctrl-C: SIGINT to the whole process group, as a terminal sends it.
            os.killpg(winner.pid, signal.SIGINT)
            assert winner.wait(timeout=180) == 130
        finally:
            kill_session(winner)
        log = logs[won_key].read_text()
        assert f"interrupted: resume with `ganbench sweep {sweep} --name paused --resume`" in log, log
        for noise in ("Tuner.restore", "Traceback", "Resume experiment with", "Stop signal received"):
            assert noise not in log, log
        runs = paused_runs()
        assert "running" not in {t["outcome"] for t in runs.values()}, runs
        paused = {r: t for r, t in runs.items() if t["outcome"] == "interrupted"}
        assert paused, "no trial was in flight at the Ctrl-C"
        state = json.loads((storage / "ganbench-sweeps" / "paused.json").read_text())
        assert state["studies"].get("ring8_losses", {}).get("stage", "search") == "search"  # not summarised as done
        assert not (storage / "ganbench-sweeps" / "paused.lock").exists()

        # 4. SIGTERM (a scheduler's stop, `kill PID`) once the resumed driver has a new search trial evaluating.
        known = set(paused_runs())
        resumed = start([*args, "--resume"], env, tmp_path / "d4.log")
        try:
            infra.wait_until(lambda: any(r not in known and t["stage"] == "search" and t["outcome"] == "running"
                                         and evaluated(db, r) >= 1 for r, t in paused_runs().items()), 600,
                             every=0.1, what="a new search trial's evaluation after the resume")
            resumed.send_signal(signal.SIGTERM)
            assert resumed.wait(timeout=180) == 143
        finally:
            kill_session(resumed)
        log = (tmp_path / "d4.log").read_text()
        assert "interrupted: resume with" in log
        for noise in ("SIGTERM received", "PC: @", "Traceback", "Tuner.restore"):
            assert noise not in log, log

        done = ganbench_sweep([*args, "--resume"], env, tmp_path / "d5.log", timeout=900)
        assert done.returncode == 0, done.stdout
        assert straight.wait(timeout=900) == 0, (tmp_path / "straight.log").read_text()
    finally:
        kill_session(straight)
        infra.kill_pids(infra.mentioning(str(ray_tmp)) | infra.mentioning(str(straight_tmp)))

    client = MlflowClient(f"sqlite:///{db}")
    runs = runs_of(client, "ganbench/paused")
    assert [r.info.status for r in runs if r.data.tags.get("ganbench.kind") == "sweep"] == ["FINISHED"]
    planned = Counter({(stage, value): n for value in VALUES for stage, n in (("search", SEARCH), ("final", SEEDS))})
    kept = assert_runs_match_plan(runs, planned)
    assert {r.data.tags["outcome"] for r in kept} <= {"completed", "stopped_early"}
    assert_steps_strictly_increase(client, runs)
    # Deterministic mode: the same picks, cuts and finals as the uninterrupted sweep. (Before Tune's scheduler state
    # was carried in its snapshot, ASHA met empty rungs after the resume and this differed in 2 of 3 runs.)
    straight_client = MlflowClient(f"sqlite:///{straight_home / 'mlflow' / 'mlflow.db'}")
    # Every search trial, the interrupted ones included, ended as in the uninterrupted sweep, digit for digit. Before
    # the checkpoint recorded the random stream after each evaluation's sample image, a resumed trial went its own
    # way and the leaderboard matched only while no resumed trial was a value's best (ganbench.sweep.tuner.trainable).
    assert search_trials(client, "paused") == search_trials(straight_client, "straight")
    assert leaderboard(client, "paused") == leaderboard(straight_client, "straight")


def diverging_sweep(steps: int) -> str:
    """One value trains ``steps`` steps, the other diverges at once (an absurd penalty weight, found within 10 steps,
    before its first checkpoint): a diverged run
    logs its sentinel metric but no ``best_`` twin, so its objective is a key it never reported."""
    return f"""study: objective
metric: reverse_kl
mode: min
fixed: {{data.name: ring8, data.size: 2000, model.g_width: 32, model.d_width: 16, train.batch_size: 50,
        train.steps: {steps}, eval.every: {steps // 3}, train.log_every: 10, eval.n_samples: 500,
        loss.penalty: gradient_penalty}}
scientific:
  loss.penalty_weight: [1.0, 3.0e+38]
num_samples: 1
seeds: 0
scheduler: {{name: none}}
resources: {{cpu: 1}}
max_concurrent: 2
"""


def test_a_resume_replays_a_finished_trial_through_the_objective_rule(tmp_path):
    """SIGKILL once the diverged trial has ended, long before Tune's next snapshot (which would record it ended):
    the resumed driver runs it again, finds its run closed and replays what MLflow holds, and that result must
    carry the objective (``best_reverse_kl``) like every fresh one. On 4accc5d the resume crashed here ("Trial
    returned a result which did not include the specified metric(s)").

    The fault table's truncated-checkpoint row rides on the same kill: the other trial's newest checkpoint in
    --storage is cut short before the resume, which must name it in the run's tags, continue from what it fell
    back to, and still log every step once."""
    from tests.sweep.test_crash import trial_steps

    home, ray_tmp = tmp_path / "home", infra.short_tmp("ro")
    env = {**sweep_env(home, ray_tmp), "TUNE_GLOBAL_CHECKPOINT_S": "3600"}  # no snapshot but Tune's own
    sweep = tmp_path / "objective.yaml"
    sweep.write_text(diverging_sweep(trial_steps(8)))
    db = home / "mlflow" / "mlflow.db"
    args = [str(sweep), "--name", "o"]

    def checkpoints(tags: dict[str, str]) -> list[Path]:
        trial_dirs = json.loads(tags.get("ganbench.trial_dirs", "[]"))
        return sorted((home / "ray_results" / "o-objective-search" / trial_dirs[-1]).glob("checkpoint_*/state.pt")) \
            if trial_dirs else []

    def diverged_while_the_other_runs() -> bool:
        runs = trial_runs(db)
        return any(t["outcome"] == "diverged" for t in runs.values()) and any(
            t["outcome"] == "running" and checkpoints(t) for t in runs.values())

    try:
        driver = start(args, env, tmp_path / "killed.log")
        try:
            infra.wait_until(lambda: diverged_while_the_other_runs() or driver.poll() is not None, 300, every=0.1,
                             what="a diverged trial and a running one")
            assert driver.poll() is None, (tmp_path / "killed.log").read_text()
        finally:
            kill_session(driver)
        infra.kill_pids(infra.mentioning(str(ray_tmp)))  # no worker outlives the kill to write a newer checkpoint
        running = next(r for r, t in trial_runs(db).items() if t["outcome"] == "running")
        newest = checkpoints(trial_runs(db)[running])
        newest[-1].write_bytes(newest[-1].read_bytes()[:1000])
        done = ganbench_sweep([*args, "--resume"], env, tmp_path / "resumed.log", timeout=600)
    finally:
        infra.kill_pids(infra.mentioning(str(ray_tmp)))
    assert done.returncode == 0, done.stdout
    assert "did not include the specified metric" not in done.stdout and "Traceback" not in done.stdout
    client = MlflowClient(f"sqlite:///{db}")
    runs = runs_of(client, "ganbench/o")
    kept = [r for r in children(runs) if r.data.tags["outcome"] != "lost"]
    assert Counter(r.data.tags["outcome"] for r in kept) == Counter({"completed": 1, "diverged": 1})
    assert [r.info.run_name for r in runs if r.info.status == "RUNNING"] == []
    assert_steps_strictly_increase(client, runs)
    cut = client.get_run(running).data.tags
    seen = ({k: v for k, v in cut.items() if k in ("outcome", "failure_reason", "ganbench.trial_dirs")}, done.stdout)
    assert f"{newest[-1].parent.name}/state.pt" in cut.get("ganbench.unreadable_checkpoints", ""), seen
    assert cut.get("ganbench.resumed_from", "").startswith("step "), seen


def test_an_mlflow_server_down_for_30_s_mid_sweep_loses_nothing(tmp_path):
    home, ray_tmp = tmp_path / "home", infra.short_tmp("rm")
    env = sweep_env(home, ray_tmp)
    sweep = tmp_path / "tiny.yaml"
    sweep.write_text(diverging_sweep(900).replace("3.0e+38", "2.0").replace("seeds: 0", "seeds: 1"))
    (tmp_path / "server").mkdir()
    server = infra.MlflowServer(tmp_path / "server").start()
    try:
        driver = start([str(sweep), "--name", "m", "--tracking-uri", server.uri], env, tmp_path / "driver.log")
        try:
            client = MlflowClient(server.uri)

            def evaluating() -> bool:
                found = client.get_experiment_by_name("ganbench/m")
                return found is not None and any(r.data.metrics.get("step", 0) >= 300 for r in client.search_runs(
                    [found.experiment_id], filter_string="tags.`ganbench.kind` = 'trial'"))

            infra.wait_until(evaluating, 300, every=0.5, what="a trial's first evaluation on the server")
            server.stop()
            time.sleep(30)
            server.start()
            assert driver.wait(timeout=600) == 0, (tmp_path / "driver.log").read_text()
        finally:
            kill_session(driver)
        runs = runs_of(client, "ganbench/m")
        kept = [r for r in children(runs) if r.data.tags["outcome"] != "lost"]
        assert Counter((r.data.tags["stage"], r.data.tags["outcome"]) for r in kept) == Counter(
            {("search", "completed"): 2, ("final", "completed"): 2})
        assert [r.info.run_name for r in runs if r.info.status == "RUNNING"] == []
        assert_steps_strictly_increase(client, runs)
    finally:
        server.stop()
        infra.kill_pids(infra.mentioning(str(ray_tmp)))


def test_a_full_disk_stops_the_sweep_in_one_line_and_a_resume_finishes_it(tmp_path):
    """GANBENCH_HOME (MLflow's sqlite, the artifacts, --storage) on a 3 MB tmpfs: the sweep fills it mid-search."""
    home, ray_tmp = tmp_path / "home", infra.short_tmp("rd")
    home.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3M", "tmpfs", str(home)], capture_output=True,
                             text=True)
    if mounted.returncode:
        pytest.skip(f"cannot mount a small tmpfs here ({mounted.stderr.strip() or 'mount failed'}): the full-disk "
                    "row needs root (CI runs as root and runs it)")
    env = sweep_env(home, ray_tmp)
    sweep = tmp_path / "tiny.yaml"
    sweep.write_text(diverging_sweep(6000).replace("3.0e+38", "2.0").replace("seeds: 0", "seeds: 1"))
    args = [str(sweep), "--name", "full"]
    try:
        full = ganbench_sweep(args, env, tmp_path / "full.log", timeout=600)
        assert full.returncode == 2, full.stdout
        assert "Traceback" not in full.stdout, full.stdout
        assert [line for line in full.stdout.splitlines() if line.startswith("ganbench: error: ")] == [
            f"ganbench: error: no space left on a disk the sweep writes to (database or disk is full); free some "
            f"(GANBENCH_HOME {home}, --storage {home / 'ray_results'}), then resume with "
            f"`ganbench sweep {sweep} --name full --resume`"]
        subprocess.run(["mount", "-o", "remount,size=60M", str(home)], check=True)
        done = ganbench_sweep([*args, "--resume"], env, tmp_path / "resumed.log", timeout=600)
        assert done.returncode == 0, done.stdout
        client = MlflowClient(f"sqlite:///{home / 'mlflow' / 'mlflow.db'}")
        runs = runs_of(client, "ganbench/full")
        kept = [r for r in children(runs) if r.data.tags["outcome"] != "lost"]
        assert [r.info.run_name for r in runs if r.info.status == "RUNNING"] == []
        assert_steps_strictly_increase(client, runs)
        counts = Counter((r.data.tags["stage"], r.data.tags["outcome"]) for r in kept)
        # Before Tune's snapshots were checked (ganbench.sweep.tuner.snapshots), a snapshot cut short by the full disk
        # made Tune start the stage afresh, and a final trial that had trained to its last step was closed as lost
        # with no replacement (2 of 3 runs).
        assert counts == Counter({("search", "completed"): 2, ("final", "completed"): 2}), dict(counts)
    finally:
        infra.kill_pids(infra.mentioning(str(ray_tmp)))
        subprocess.run(["cp", "-a", str(home), str(tmp_path / "home-copy")], capture_output=True)  # to look at after
        subprocess.run(["umount", "-l", str(home)], capture_output=True)
