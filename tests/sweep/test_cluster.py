"""The sweep against real infrastructure: a SIGKILLed driver resumed, a ``ray start --head`` cluster,
an ``mlflow server`` over HTTP, and fractional logical GPUs. Every process runs as a subprocess on
private ports and temp dirs, and is stopped by PID (never a global ``ray stop``)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests import infra

SWEEPS = Path(__file__).resolve().parent / "files"
TINY = (SWEEPS / "tiny.yaml").read_text()
pytestmark = pytest.mark.slow


def sweep_env(home: Path, ray_tmp: Path) -> dict[str, str]:
    env = {**os.environ, **infra.RAY_ENV, "GANBENCH_HOME": str(home), "RAY_TMPDIR": str(ray_tmp)}
    for key in ("RAY_ADDRESS", "MLFLOW_TRACKING_URI", "MLFLOW_RUN_ID"):
        env.pop(key, None)
    return env


def ganbench_sweep(args: list[str], env: dict[str, str], log: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -m ganbench sweep ...`` in its own session; whatever it leaves behind is killed by PID."""
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "ganbench", "sweep", *args], env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            process.wait(timeout=timeout)
        finally:
            kill_session(process)
    return subprocess.CompletedProcess(process.args, process.returncode, log.read_text(), "")


def kill_session(process: subprocess.Popen, tree: set[int] | None = None) -> None:
    """SIGKILL the driver, then every process it started (its session, and its tree as seen before)."""
    tree = (tree or set()) | infra.descendants({process.pid})
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    # Ray's agents outlive a SIGKILLed driver (reparented to init) but stay in its process group.
    group = {pid for pid in infra._processes() if _pgid(pid) == process.pid}
    infra.kill_pids((tree | group) - {os.getpid()})


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def completed_children(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)) as conn:
            return conn.execute("select count(*) from tags where key = 'outcome' and value = 'completed'").fetchone()[0]
    except sqlite3.Error:  # tables not created yet, or locked for a moment
        return 0


def runs_of(client: MlflowClient, experiment: str) -> list:
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no experiment {experiment}"
    return client.search_runs([found.experiment_id], max_results=1000)


def children(runs: list) -> list:
    return [r for r in runs if r.data.tags.get("ganbench.kind") == "trial"]


def histories(client: MlflowClient, run) -> dict[str, list[int]]:
    return {key: [m.step for m in client.get_metric_history(run.info.run_id, key)] for key in run.data.metrics}


def assert_steps_strictly_increase(client: MlflowClient, runs: list) -> None:
    repeated = {}
    for run in runs:
        for key, steps in histories(client, run).items():
            if any(b <= a for a, b in zip(steps, steps[1:], strict=False)):
                repeated[f"{run.info.run_name}:{key}"] = steps
    assert not repeated, f"metric steps not strictly increasing: {repeated}"


# ------------------------------------------------------------------------------------ 1. SIGKILL + resume

def test_sigkilled_driver_resumes_without_rerunning_or_duplicating(tmp_path):
    home, ray_tmp = tmp_path / "home", infra.short_tmp("rk")
    env = sweep_env(home, ray_tmp)
    sweep = tmp_path / "kill.yaml"  # twice tiny's steps, so the kill lands mid-sweep
    sweep.write_text(TINY.replace("train.steps: 30", "train.steps: 60"))
    db = home / "mlflow" / "mlflow.db"
    client = MlflowClient(f"sqlite:///{db}")
    try:
        with open(tmp_path / "killed.log", "w") as out:
            driver = subprocess.Popen([sys.executable, "-m", "ganbench", "sweep", str(sweep), "--name", "k"], env=env,
                                      stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                infra.wait_until(lambda: completed_children(db) >= 1 or driver.poll() is not None, 240,
                                 every=0.25, what="a finished trial")
                assert driver.poll() is None, f"driver ended before the kill:\n{(tmp_path / 'killed.log').read_text()}"
                tree = infra.descendants({driver.pid})
                os.kill(driver.pid, signal.SIGKILL)
            finally:
                kill_session(driver, locals().get("tree"))
        assert driver.returncode == -signal.SIGKILL
        state = home / "ray_results" / "ganbench-sweeps" / "k.json"
        assert json.loads(state.read_text())["studies"] == {}  # killed in the search stage

        before = {r.info.run_id: r for r in runs_of(client, "ganbench/k")}
        finished = {run_id: histories(client, r) for run_id, r in before.items()
                    if r.data.tags.get("outcome") == "completed"}
        assert finished

        done = ganbench_sweep([str(sweep), "--name", "k", "--resume"], env, tmp_path / "resumed.log")
        assert done.returncode == 0, done.stdout
    finally:
        infra.kill_pids(infra.mentioning(str(ray_tmp)))

    runs = runs_of(client, "ganbench/k")
    after = {r.info.run_id: r for r in runs}
    assert set(before) <= set(after), "runs deleted"
    assert all(r.info.lifecycle_stage == "active" for r in runs)
    for run_id, curves in finished.items():  # finished trials were not rerun: nothing logged since
        assert histories(client, after[run_id]) == curves
        if before[run_id].info.status == "FINISHED":  # (killed between the outcome tag and set_terminated: open)
            assert after[run_id].info.end_time == before[run_id].info.end_time
    trials = children(runs)
    assert len({r.data.tags["ganbench.trial_id"] for r in trials}) == len(trials), "duplicate child runs"
    assert sum(r.data.tags.get("ganbench.kind") == "sweep" for r in runs) == 1
    # Trials a killed driver started after Tune's last snapshot are closed as lost (KILLED, with the reason)
    # and replaced; everything else finished. Nothing stays RUNNING.
    lost = {r.info.run_id for r in trials if r.data.tags["outcome"] == "lost"}
    assert all(r.info.status == "KILLED" and r.data.tags["failure_reason"].startswith("lost:")
               for r in trials if r.info.run_id in lost)
    kept = [r for r in trials if r.info.run_id not in lost]
    assert [r.info.run_name for r in runs if r.info.run_id not in lost and r.info.status != "FINISHED"] == []
    stages = sorted(r.data.tags["stage"] for r in kept)
    assert stages == ["final"] * 2 + ["search"] * 4  # 2 losses x 2 trials, then 1 seed each: the plan
    assert all(r.data.tags["outcome"] in ("completed", "stopped_early") for r in kept)
    assert_steps_strictly_increase(client, runs)
    optuna_db = home / "ray_results" / "ganbench-sweeps" / "k.optuna.db"
    with contextlib.closing(sqlite3.connect(optuna_db)) as conn:
        assert conn.execute("select count(*) from trials where state = 'RUNNING'").fetchone()[0] == 0
    state = json.loads((home / "ray_results" / "ganbench-sweeps" / "k.json").read_text())
    assert state["studies"]["tiny"]["stage"] == "done"


# ------------------------------------------------------------------ 2, 3. ray start --head + mlflow server

@pytest.fixture(scope="module")
def cluster():
    """One private ``ray start --head`` cluster for this module: 4 logical CPUs and 1 logical GPU."""
    with infra.ray_cluster(num_cpus=4, num_gpus=1) as head:
        yield head


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with infra.mlflow_server(tmp_path_factory.mktemp("server")) as started:
        yield started


@pytest.fixture(scope="module")
def served_sweep(cluster, server, tmp_path_factory):
    """tiny.yaml on the ``ray start`` cluster (--address), tracked on the ``mlflow server`` (--tracking-uri)."""
    root = tmp_path_factory.mktemp("served")
    ray_tmp = infra.short_tmp("rs")  # the driver's own Ray temp dir: must stay empty (no local Ray)
    started = time.monotonic()
    done = ganbench_sweep([str(SWEEPS / "tiny.yaml"), "--name", "served", "--address", cluster.address,
                          "--tracking-uri", server.uri], {**sweep_env(root / "home", ray_tmp), **cluster.auth_env},
                         root / "served.log")
    return done, ray_tmp, time.monotonic() - started


def test_sweep_runs_on_a_ray_start_cluster(served_sweep, cluster, server):
    done, ray_tmp, _ = served_sweep
    assert done.returncode == 0, done.stdout
    assert list(ray_tmp.iterdir()) == [], "the driver started a local Ray instead of joining --address"
    # The trials' workers ran on the cluster: their logs are in its session dir.
    logs = (cluster.temp / "session_latest" / "logs").glob("worker-*")
    assert any("run_trial" in p.read_text(errors="replace") or "ImplicitFunc" in p.read_text(errors="replace")
               for p in logs)
    trials = children(runs_of(MlflowClient(server.uri), "ganbench/served"))
    assert sorted(r.data.tags["stage"] for r in trials) == ["final"] * 2 + ["search"] * 4
    assert all(r.info.status == "FINISHED" for r in trials)
    assert cluster.pids(), "the cluster went down with the driver"


def test_sweep_logs_to_an_mlflow_server_with_artifacts_through_it(served_sweep, server, tmp_path):
    done, _, _ = served_sweep
    assert done.returncode == 0, done.stdout
    client = MlflowClient(server.uri)
    experiment = client.get_experiment_by_name("ganbench/served")
    assert experiment.artifact_location.startswith("mlflow-artifacts:")  # assigned by the server
    runs = runs_of(client, "ganbench/served")
    assert sum(r.data.tags.get("ganbench.kind") == "sweep" for r in runs) == 1
    completed = [r for r in children(runs) if r.data.tags["outcome"] == "completed"]
    assert completed
    run = completed[0]
    assert [a.path for a in client.list_artifacts(run.info.run_id, "checkpoint")] == ["checkpoint/checkpoint.pt"]
    local = Path(client.download_artifacts(run.info.run_id, "checkpoint/checkpoint.pt", str(tmp_path)))
    stored = list(server.artifacts.rglob(f"{run.info.run_id}/artifacts/checkpoint/checkpoint.pt"))
    assert len(stored) == 1 and stored[0].read_bytes() == local.read_bytes()
    import torch

    assert "generator" in torch.load(local, map_location="cpu", weights_only=True)
    assert list(server.artifacts.rglob("images/*"))  # sample grids went through the server too


def test_a_driver_without_the_clusters_token_is_refused_in_one_line(cluster, tmp_path):
    """The cluster runs with token auth; a driver that has no token (none in its environment, none in its
    home) gets one line naming the fix, exit 2, within 30 s, and starts nothing."""
    env = {**sweep_env(tmp_path / "home", infra.short_tmp("rn")), "HOME": str(tmp_path)}
    for key in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        env.pop(key, None)
    started = time.monotonic()
    done = ganbench_sweep([str(SWEEPS / "tiny.yaml"), "--name", "notoken", "--address", cluster.address], env,
                          tmp_path / "notoken.log", timeout=60)
    elapsed = time.monotonic() - started
    assert done.returncode == 2, done.stdout
    errors = [line for line in done.stdout.splitlines() if line.startswith("ganbench: error:")]
    assert len(errors) == 1 and "Traceback" not in done.stdout
    assert f"--address {cluster.address}" in errors[0] and "RAY_AUTH_TOKEN" in errors[0]
    assert elapsed < 30, f"refused after {elapsed:.0f} s"
    db = tmp_path / "home" / "mlflow" / "mlflow.db"
    assert not db.exists() or MlflowClient(f"sqlite:///{db}").get_experiment_by_name("ganbench/notoken") is None


# ------------------------------------------------------------------------------ 4. fractional logical GPUs

GPU_SWEEP = """\
study: gpu
metric: reverse_kl
mode: min
fixed:
  data.name: ring8
  data.size: 2000
  model.g_width: 32
  model.d_width: 16
  train.steps: {steps}
  train.batch_size: 50
  train.log_every: 10
  eval.every: 10
  eval.n_samples: 500
  eval.final_n_samples: 500
  loss.name: hinge
scientific:
  optim.lr_g: [1.0e-3]
nuisance:
  optim.lr_d: {{loguniform: [1.0e-4, 1.0e-2]}}
num_samples: 4
seeds: 0
scheduler: {{name: none}}
resources: {{cpu: 0.5, gpu: 0.25}}
"""


def most_at_once(runs: list) -> int:
    events = sorted([(r.info.start_time, 1) for r in runs] + [(r.info.end_time, -1) for r in runs],
                    key=lambda e: (e[0], e[1]))
    running = peak = 0
    for _, change in events:
        running += change
        peak = max(peak, running)
    return peak


def test_four_quarter_gpu_trials_run_at_once_on_a_logical_gpu(cluster, tmp_path):
    sweep = tmp_path / "gpu.yaml"
    sweep.write_text(GPU_SWEEP.format(steps=450))  # long enough that staggered actor start-ups still overlap
    env = {**sweep_env(tmp_path / "home", infra.short_tmp("rg")), **cluster.auth_env}
    plan = ganbench_sweep([str(sweep), "--plan", "--address", cluster.address], env, tmp_path / "plan.log")
    assert plan.returncode == 0 and "0.5 CPU / 0.25 GPU per trial" in plan.stdout, plan.stdout
    done = ganbench_sweep([str(sweep), "--name", "gpu", "--address", cluster.address], env, tmp_path / "gpu.log")
    assert done.returncode == 0, done.stdout
    client = MlflowClient(f"sqlite:///{tmp_path / 'home' / 'mlflow' / 'mlflow.db'}")
    trials = children(runs_of(client, "ganbench/gpu"))
    assert len(trials) == 4 and all(r.data.tags["outcome"] == "completed" for r in trials)
    assert all(r.data.params["device"] in ("auto", "cpu") for r in trials)  # trained on the CPU, no CUDA
    assert most_at_once(trials) == 4, [(r.info.start_time, r.info.end_time) for r in trials]
