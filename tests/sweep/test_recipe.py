"""README's "Running on a cluster" recipe, as written, on 127.0.0.1: a two-node ``ray start`` cluster with token
authentication, ``mlflow server`` on PostgreSQL (Debian's, run as the ``postgres`` user) with S3 artifacts
(moto's server), ``--storage`` on that S3 endpoint and Optuna in PostgreSQL. The worker node's raylet is
SIGKILLed mid-trial and its trial goes on on the head from its checkpoint, in the same run; then the driver is
SIGKILLed, resumed from another GANBENCH_HOME, and the sweep is reported from MLflow alone."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests import infra
from tests.infra import assert_steps_strictly_increase, children, ganbench_sweep, kill_session, runs_of, sweep_env

pytestmark = pytest.mark.slow
SWEEPS = Path(__file__).resolve().parent / "files"
# 1 CPU per trial on two 1-CPU nodes: one trial per node. 1,200 steps with a checkpoint every 150, no ASHA.
SWEEP = ((SWEEPS / "tiny.yaml").read_text()
         .replace("train.steps: 30", "train.steps: 1200").replace("eval.every: 10", "eval.every: 150")
         .replace("train.log_every: 10", "train.log_every: 150")
         .replace("scheduler: {name: asha, grace_period: 10, reduction_factor: 2}", "scheduler: {name: none}"))


@pytest.fixture(scope="module")
def postgres():
    server = infra.PostgresServer(infra.need_postgres())
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    with infra.s3_server(tmp_path_factory.mktemp("s3")) as server:
        yield server


@pytest.fixture(scope="module")
def tracking(postgres, s3, tmp_path_factory):
    backend = postgres.create_database("mlflow")
    with infra.mlflow_server(tmp_path_factory.mktemp("mlflow"), backend=backend,
                             artifacts=f"s3://{s3.bucket}/mlflow", env=s3.env) as server:
        yield server


@pytest.fixture(scope="module")
def cluster(s3):
    """``ray start --head`` plus a second node (its own temp dir), 1 CPU each, token auth, the S3 endpoint's
    environment on both (workers write checkpoints to --storage)."""
    head = infra.RayCluster(num_cpus=1, env=s3.env)
    try:
        head.start()
        worker = head.add_worker(num_cpus=1)
        yield head, worker
    finally:
        head.stop()


def raylet(node: infra.RayCluster) -> tuple[int, str]:
    """The PID and node id of a node's raylet."""
    for pid in node.pids():
        with contextlib.suppress(OSError):
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            found = re.search(r"raylet/raylet .*--node_id=([0-9a-f]+)", cmdline)
            if found:
                return pid, found.group(1)
    raise AssertionError("no raylet")


def test_readme_cluster_recipe_survives_a_dead_node_and_a_dead_driver(cluster, tracking, postgres, s3, tmp_path):
    head, worker = cluster
    client = MlflowClient(tracking.uri)
    optuna_url = postgres.create_database("optuna")
    storage = f"s3://{s3.bucket}/ray"
    sweep = tmp_path / "recipe.yaml"
    sweep.write_text(SWEEP)
    args = [str(sweep), "--name", "recipe", "--address", head.address, "--tracking-uri", tracking.uri,
            "--storage", storage, "--optuna-storage", optuna_url]
    env = {**sweep_env(tmp_path / "home", infra.short_tmp("rr")), **head.auth_env, **s3.env}
    worker_raylet, worker_node = raylet(worker)

    def open_runs() -> list:
        found = client.get_experiment_by_name("ganbench/recipe")
        if found is None:
            return []
        return [r for r in children(client.search_runs([found.experiment_id], max_results=100))
                if r.data.tags.get("outcome") == "running"]

    try:
        with open(tmp_path / "driver.log", "w") as out:
            driver = subprocess.Popen([sys.executable, "-m", "ganbench", "sweep", *args], env=env, stdout=out,
                                      stderr=subprocess.STDOUT, start_new_session=True)
            tree: set[int] = set()
            try:
                # 1. A trial on the worker node has checkpointed twice: kill that node's raylet.
                on_worker = infra.wait_until(
                    lambda: [r for r in open_runs() if r.data.tags.get("ray_node_id") == worker_node
                             and r.data.metrics.get("step", 0) >= 300], 300, every=1, what="a trial on the worker")[0]
                steps_before = [m.step for m in client.get_metric_history(on_worker.info.run_id, "step")]
                infra.kill_pids({worker_raylet})
                killed_at = time.monotonic()

                def continued() -> bool:
                    run = client.get_run(on_worker.info.run_id)
                    return run.data.tags.get("ray_node_id") not in (None, worker_node) and \
                        run.data.metrics.get("step", 0) > steps_before[-1]

                infra.wait_until(continued, 300, every=1, what="the worker's trial continuing on the head")
                node_death_to_continuing = time.monotonic() - killed_at
                # 2. The final stage has started: SIGKILL the driver's whole process group.
                infra.wait_until(lambda: any(r.data.tags.get("stage") == "final" for r in open_runs())
                                 or driver.poll() is not None, 600, every=1, what="the final stage")
                assert driver.poll() is None, (tmp_path / "driver.log").read_text()
                tree = infra.descendants({driver.pid})
            finally:
                kill_session(driver, tree)
        # 3. Resumed from another machine's point of view: another GANBENCH_HOME, the same storage and URIs.
        resumed_env = {**env, "GANBENCH_HOME": str(tmp_path / "elsewhere")}
        done = ganbench_sweep([*args, "--resume"], resumed_env, tmp_path / "resumed.log", timeout=600)
        assert done.returncode == 0, done.stdout
        report = subprocess.run([sys.executable, "-m", "ganbench", "report", "recipe", "--tracking-uri", tracking.uri,
                                 "--out", str(tmp_path / "report")], env=resumed_env, capture_output=True, text=True,
                                timeout=300)
        assert report.returncode == 0, report.stdout + report.stderr
    finally:
        infra.kill_pids(infra.mentioning(env["RAY_TMPDIR"]))

    runs = runs_of(client, "ganbench/recipe")
    trials = children(runs)
    assert [r.info.run_name for r in runs if r.info.status == "RUNNING"] == []
    assert [t for t, n in Counter(r.data.tags["ganbench.trial_id"] for r in trials).items() if n > 1] == []
    kept = [r for r in trials if r.data.tags["outcome"] != "lost"]
    assert Counter((r.data.tags["stage"], r.data.tags["value"]) for r in kept) == Counter(
        {("search", "non_saturating"): 2, ("search", "hinge"): 2, ("final", "non_saturating"): 1, ("final", "hinge"): 1})
    outcomes = [(r.data.tags["stage"], r.data.tags["value"], r.data.tags["outcome"], r.data.tags.get("failure_reason"))
                for r in kept]
    assert all(outcome == "completed" for _, _, outcome, _ in outcomes), outcomes
    assert_steps_strictly_increase(client, runs)
    # The worker's trial: same run, its evaluations before the death kept, then on from its checkpoint to the end.
    moved = client.get_run(on_worker.info.run_id)
    history = [m.step for m in client.get_metric_history(moved.info.run_id, "step")]
    assert history[:len(steps_before)] == steps_before and history[-1] == 1200
    assert moved.data.tags["outcome"] == "completed" and moved.data.tags["ray_node_id"] != worker_node
    assert sum(r.data.tags.get("ganbench.kind") == "sweep" for r in runs) == 1
    # The driver joined the cluster (no Ray of its own), the trials ran on the cluster's nodes, which outlive it.
    # (Tune's file locks for downloading checkpoints from S3 live in the driver's RAY_TMPDIR; a Ray session would too.)
    assert [p.name for p in Path(env["RAY_TMPDIR"]).iterdir() if p.name != "_ray_lockfiles"] == [], \
        "the driver started a local Ray instead of joining --address"
    assert {r.data.tags["ray_node_id"] for r in kept} <= {raylet(head)[1], worker_node}
    assert head.pids(), "the cluster went down with the driver"
    # Artifacts went through the server (mlflow-artifacts:) to S3: the checkpoint read back is the object stored.
    assert client.get_experiment_by_name("ganbench/recipe").artifact_location.startswith("mlflow-artifacts:")
    local = Path(client.download_artifacts(moved.info.run_id, "checkpoint/checkpoint.pt", str(tmp_path)))
    stored = [k for k in s3.keys("mlflow/") if k.endswith(f"{moved.info.run_id}/artifacts/checkpoint/checkpoint.pt")]
    assert len(stored) == 1
    assert s3.client().get_object(Bucket=s3.bucket, Key=stored[0])["Body"].read() == local.read_bytes()
    import torch

    assert "generator" in torch.load(local, map_location="cpu", weights_only=True)
    # Everything the sweep keeps is in S3 and PostgreSQL, nothing on the driver's disk.
    keys = s3.keys()
    assert "ray/ganbench-sweeps/recipe.json" in keys
    assert any(re.search(r"ray/recipe-tiny-search/.+/checkpoint_\d+/state\.pt$", k) for k in keys)
    assert any(k.startswith("mlflow/") and k.endswith("checkpoint/checkpoint.pt") for k in keys)
    assert not (tmp_path / "home" / "ray_results").exists() and not (tmp_path / "elsewhere" / "ray_results").exists()
    import optuna

    studies = optuna.get_all_study_summaries(optuna_url)
    assert studies and all(t.state != optuna.trial.TrialState.RUNNING
                           for s in studies for t in optuna.load_study(study_name=s.study_name, storage=optuna_url).trials)
    assert (tmp_path / "report" / "README.md").is_file()
    print(json.dumps({"node_death_to_continuing_s": round(node_death_to_continuing, 1)}))
