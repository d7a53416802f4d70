"""What a dead driver or a dead node costs a sweep, measured on this machine (for reports/PERFORMANCE.md).

    python reports/scripts/bench_recovery.py --kills 3            # driver SIGKILLs, local Ray
    python reports/scripts/bench_recovery.py --kills 0 --nodes 3  # worker-node SIGKILLs, two-node ray start

*Driver*: the sweep of tests/sweep/test_crash.py (ring8, trials of a few thousand steps with a few checkpoints,
two at a time) is SIGKILLed (its whole process group) at a drawn moment mid-search, then resumed, ``--kills``
times in one sweep. For each trial in flight at a kill, the work lost is the training time between its last
checkpoint and the kill (``kill time - its last evaluation's MLflow timestamp``); the resume cost is the wall
time from ``--resume`` to that trial's next evaluation, less the sweep's median evaluation interval.

*Node*: the sweep of tests/sweep/test_recipe.py, two trials at a time, on ``ray start --head`` plus two more
nodes (1 CPU each), S3 storage on moto's server; a worker's raylet is SIGKILLed once a trial there has
checkpointed; the times run until that trial's new attempt retags its run with another node (Ray's detection
of the dead node, Tune's retry, a worker's start, the restore from S3), and until that attempt's first
evaluation (plus up to one evaluation interval of training).
Medians are printed with every figure, as JSON (``--out``).
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mlflow import MlflowClient

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests import infra  # noqa: E402 - the same process helpers as the tests
from tests.infra import children, kill_session, sweep_env  # noqa: E402
from tests.sweep.test_crash import long_sweep, trial_steps  # noqa: E402
from tests.sweep.test_recipe import SWEEP, raylet  # noqa: E402


def evaluations(client: MlflowClient, run_id: str) -> list[tuple[int, float]]:
    """(step, wall time in s) of every evaluation the run logged."""
    return [(m.step, m.timestamp / 1000) for m in client.get_metric_history(run_id, "step")]


def open_runs(client: MlflowClient, experiment: str) -> list:
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return []
    return [r for r in children(client.search_runs([found.experiment_id], max_results=500))
            if r.data.tags.get("outcome") == "running"]


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ganbench", "sweep", *args], env=env, stdout=log.open("w"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def typical_interval(client: MlflowClient, experiment: str) -> float:
    """The median time between consecutive evaluations of a trial, over the sweep (a kill's gap is one of many)."""
    found = client.get_experiment_by_name(experiment)
    gaps = []
    for run in children(client.search_runs([found.experiment_id], max_results=500)):
        times = [t for _, t in evaluations(client, run.info.run_id)]
        gaps += [b - a for a, b in zip(times, times[1:], strict=False)]
    return statistics.median(gaps)


def driver_kills(kills: int, seed: int, folder: Path) -> dict:
    rng = random.Random(seed)
    folder.mkdir(parents=True)
    home = folder / "home"
    env = sweep_env(home, infra.short_tmp("bk"))
    sweep = folder / "long.yaml"
    sweep.write_text(long_sweep(trial_steps()).replace("num_samples: 2", f"num_samples: {kills + 1}"))
    client = MlflowClient(f"sqlite:///{home / 'mlflow' / 'mlflow.db'}")
    args, lost, resumed = [str(sweep), "--name", "bench"], [], []
    caught: dict[str, int] = {}  # run id -> its last checkpoint's step, at the last kill
    for kill in range(kills + 1):
        driver = start([*args] + (["--resume"] if kill else []), env, folder / f"driver{kill}.log")
        started = time.time()
        for run_id, checkpoint_step in caught.items():  # how long until each trial the last kill caught goes on
            def again(run_id=run_id, checkpoint_step=checkpoint_step, started=started) -> float | None:
                later = [t for s, t in evaluations(client, run_id) if s > checkpoint_step and t > started]
                return later[0] if later else None

            resumed.append(infra.wait_until(again, 600, every=0.5, what="a continued trial's next evaluation")
                           - started)
        if kill == kills:
            driver.wait(timeout=1800)
            break
        # Every in-flight trial has a checkpoint and at least one evaluation interval to go; then a drawn moment
        # within the next interval (~12 s here).
        infra.wait_until(lambda: (runs := open_runs(client, "ganbench/bench")) and all(
            1500 <= r.data.metrics.get("step", 0) < 3000 for r in runs), 900, every=0.5, what="checkpointed trials")
        time.sleep(rng.uniform(0, 8))
        tree = infra.descendants({driver.pid})
        killed_at = time.time()
        driver.send_signal(signal.SIGKILL)
        kill_session(driver, tree)
        caught = {}
        for run in open_runs(client, "ganbench/bench"):
            points = evaluations(client, run.info.run_id)
            if points:
                lost.append(killed_at - points[-1][1])
                caught[run.info.run_id] = points[-1][0]
    interval = typical_interval(client, "ganbench/bench")
    return {"kills": kills, "trials_caught": len(lost), "work_lost_per_trial_s": lost,
            "median_work_lost_per_trial_s": statistics.median(lost),
            "evaluation_interval_s": interval, "resume_to_next_evaluation_s": resumed,
            "median_resume_to_next_evaluation_s": statistics.median(resumed),
            "median_resume_overhead_s": statistics.median(resumed) - interval}


def node_death(folder: Path) -> tuple[float, float]:
    """Seconds from a worker node's raylet SIGKILL to its trial's new attempt elsewhere, and to that attempt's
    first evaluation."""
    with infra.s3_server(folder) as s3:
        # Three 1-CPU nodes and two trials at a time: whichever worker node is killed, a free CPU is left, so the
        # dead node's trial is not kept waiting for another trial to end (the figure is Ray's detection of the
        # dead node, Tune's retry and the restore, not a queue).
        head = infra.RayCluster(num_cpus=1, env=s3.env).start()
        try:
            workers = dict(raylet(head.add_worker(num_cpus=1)) for _ in range(2))  # raylet pid -> node id
            sweep = folder / "node.yaml"
            sweep.write_text(SWEEP + "max_concurrent: 2\n")
            env = {**sweep_env(folder / "home", infra.short_tmp("bn")), **head.auth_env, **s3.env}
            client = MlflowClient(f"sqlite:///{folder / 'home' / 'mlflow' / 'mlflow.db'}")
            driver = start([str(sweep), "--name", "node", "--address", head.address, "--storage",
                            f"s3://{s3.bucket}/ray", "--optuna-storage", f"sqlite:///{folder / 'optuna.db'}"],
                           env, folder / "driver.log")
            try:
                def on_worker() -> list:
                    if driver.poll() is not None:
                        raise RuntimeError(f"the driver ended: {(folder / 'driver.log').read_text()[-2000:]}")
                    return [r for r in open_runs(client, "ganbench/node")
                            if r.data.tags.get("ray_node_id") in workers.values() and r.data.metrics.get("step", 0) >= 150]

                run = infra.wait_until(on_worker, 600, every=0.5, what="a checkpointed trial on a worker")[0]
                node = run.data.tags["ray_node_id"]
                pid = next(p for p, worker in workers.items() if worker == node)
                killed_at = time.time()
                infra.kill_pids({pid})
                # The dying attempt may still log an evaluation; the new attempt retags the run with its node.
                infra.wait_until(lambda: client.get_run(run.info.run_id).data.tags["ray_node_id"] != node, 600,
                                 every=0.25, what="the trial's new attempt")
                moved_at = time.time()
                seen = infra.wait_until(lambda: [t for _, t in evaluations(client, run.info.run_id) if t > moved_at],
                                        600, every=0.25, what="the new attempt's first evaluation")[0]
                return moved_at - killed_at, seen - killed_at
            finally:
                kill_session(driver)
                infra.kill_pids(infra.mentioning(env["RAY_TMPDIR"]))
        finally:
            head.stop()


def node_kills(nodes: int, folder: Path) -> dict:
    moved, evaluated = [], []
    for attempt in range(nodes):
        (folder / str(attempt)).mkdir(parents=True)
        to_attempt, to_evaluation = node_death(folder / str(attempt))
        moved.append(to_attempt)
        evaluated.append(to_evaluation)
    return {"node_deaths": nodes, "node_death_to_new_attempt_s": moved, "node_death_to_next_evaluation_s": evaluated,
            "median_node_death_to_new_attempt_s": statistics.median(moved),
            "median_node_death_to_next_evaluation_s": statistics.median(evaluated)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=3, help="driver SIGKILLs in one sweep (default 3)")
    parser.add_argument("--nodes", type=int, default=0, help="worker-node deaths, one cluster each (default 0)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "perf" / "recovery.json")
    options = parser.parse_args()
    results = {"command": " ".join(["python", "reports/scripts/bench_recovery.py", *sys.argv[1:]])}
    with tempfile.TemporaryDirectory(prefix="bench-recovery-") as folder:
        if options.kills:
            results["driver"] = driver_kills(options.kills, options.seed, Path(folder) / "driver")
        if options.nodes:
            results["node"] = node_kills(options.nodes, Path(folder) / "node")
    previous = json.loads(options.out.read_text()) if options.out.exists() else {}
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps({**previous, **results}, indent=2))
    print(json.dumps(results, indent=2))
    print(f"written to {options.out}")


if __name__ == "__main__":
    main()
