"""The sweep against real infrastructure: a ``ray start --head`` cluster, an ``mlflow server`` over HTTP, and
fractional logical GPUs (a SIGKILLed driver: test_crash.py). Every process runs as a subprocess on
private ports and temp dirs, and is stopped by PID (never a global ``ray stop``)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests import infra
from tests.infra import children, ganbench_sweep, runs_of, sweep_env

SWEEPS = Path(__file__).resolve().parent / "files"
TINY = (SWEEPS / "tiny.yaml").read_text()
pytestmark = pytest.mark.slow


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


def test_four_quarter_gpu_trials_run_at_once_on_a_logical_gpu(cluster, tmp_path):
    sweep = tmp_path / "gpu.yaml"
    sweep.write_text(GPU_SWEEP.format(steps=450))  # long enough that the progress table sees all four running
    env = {**sweep_env(tmp_path / "home", infra.short_tmp("rg")), **cluster.auth_env}
    plan = ganbench_sweep([str(sweep), "--plan", "--address", cluster.address], env, tmp_path / "plan.log")
    assert plan.returncode == 0 and "0.5 CPU / 0.25 GPU per trial" in plan.stdout, plan.stdout
    done = ganbench_sweep([str(sweep), "--name", "gpu", "--address", cluster.address], env, tmp_path / "gpu.log")
    assert done.returncode == 0, done.stdout
    client = MlflowClient(f"sqlite:///{tmp_path / 'home' / 'mlflow' / 'mlflow.db'}")
    trials = children(runs_of(client, "ganbench/gpu"))
    assert len(trials) == 4 and all(r.data.tags["outcome"] == "completed" for r in trials)
    assert all(r.data.params["device"] in ("auto", "cpu") for r in trials)  # trained on the CPU, no CUDA
    # Tune's own count: four trials held their quarter GPU at once. MLflow's run times cannot show it on 2 cores,
    # where two fresh worker processes may spend the first pair's whole run importing torch before opening theirs.
    assert re.search(r"\[gpu search\] running 4\b", done.stdout), done.stdout
