"""Benchmarks of the sweep machinery (sweep issue), each reported as medians over interleaved repetitions.

(a) wall time of a K-trial sweep vs the same K ``train()`` calls run one after another in one process,
    same steps and the same total threads (sweep: K trials of 1 thread, 2 at once; sequential: 2 threads),
    beside two plain 1-thread loops side by side: the bound thread scaling sets, with no sweep overhead;
(b) time from ``ganbench sweep`` starting to the first trial result, warm store, with a breakdown;
(c) MLflow logging's share of trial time (each trial reports ``tracking_s`` and ``trial_wall_s``);
(d) generator steps TPE+ASHA needs to reach the final metric random search without early stopping reaches
    with its full budget (reverse KL on ring8), over repeated sweeps of each method: each trial's best
    checkpoint (what it keeps and the final stage reruns), and beside it each trial's last evaluation.

    python reports/scripts/bench_sweep.py --part a b c --repeats 3
    python reports/scripts/bench_sweep.py --part d --repeats 5 --trials 6 --steps 800

Writes reports/perf/sweep_<part>.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

OUT = Path(__file__).resolve().parents[1] / "perf"
RING8 = {"data.name": "ring8", "data.size": 20000, "train.log_every": 50}


def env(home: Path) -> dict[str, str]:
    # A throwaway local Ray per sweep: token mode would only write ~/.ray/auth_token; no cluster is joined.
    return {**os.environ, "GANBENCH_HOME": str(home), "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}


def write_sweep(folder: Path, tree: dict[str, Any]) -> Path:
    path = folder / "bench.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


def run_sweep(path: Path, home: Path, name: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "ganbench", "sweep", str(path), "--name", name], env=env(home), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def child_runs(home: Path, name: str) -> list[Any]:
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{home / 'mlflow' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(f"ganbench/{name}")
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    return [r for r in runs if r.data.tags.get("ganbench.kind") == "trial"]


def part_a(repeats: int, trials: int, steps: int) -> dict[str, Any]:
    """K identical-budget trials: a sweep (2 at once, 1 thread each) vs K sequential train() calls (2 threads).

    A third arm, two plain processes side by side each running half the trials with 1 thread, is the same
    parallelism with none of the sweep's overhead (Ray, actors, MLflow): ``ideal / sequential`` is the best
    ratio this machine's thread scaling allows, and ``sweep / ideal`` is what the sweep machinery costs.
    """
    fixed = {**RING8, "train.steps": steps, "eval.every": steps // 2}
    tree = {"study": "a", "metric": "reverse_kl", "mode": "min", "fixed": fixed,
            "scientific": {"seed": list(range(trials))}, "num_samples": 1, "seeds": 0,
            "scheduler": {"name": "none"}, "resources": {"cpu": 1}}

    def loop(seeds: range, threads: int) -> list[str]:
        code = ("from ganbench.config import load_config\nfrom ganbench.training.loop import train\n"
                f"for seed in {list(seeds)!r}:\n"
                f"    train(load_config(overrides=[*{[f'{k}={v}' for k, v in fixed.items()]!r}, f'seed={{seed}}', "
                f"'train.threads={threads}']))\n")
        return [sys.executable, "-c", code]

    rows = []
    for rep in range(repeats):
        with tempfile.TemporaryDirectory() as folder:
            path = write_sweep(Path(folder), tree)
            sweep_s = run_sweep(path, Path(folder) / "home", f"a{rep}")
            scratch = env(Path(folder) / "loops")
            started = time.perf_counter()
            subprocess.run(loop(range(trials), 2), check=True, env=scratch, stdout=subprocess.DEVNULL)
            sequential_s = time.perf_counter() - started
            started = time.perf_counter()
            halves = [subprocess.Popen(loop(range(half, trials, 2), 1), env=scratch, stdout=subprocess.DEVNULL)
                      for half in (0, 1)]
            if any(process.wait() for process in halves):
                raise RuntimeError("a side-by-side train() loop failed")
            ideal_s = time.perf_counter() - started
        rows.append({"sweep_s": sweep_s, "sequential_s": sequential_s, "ideal_parallel_s": ideal_s,
                     "ratio": sweep_s / sequential_s, "ideal_ratio": ideal_s / sequential_s,
                     "sweep_over_ideal": sweep_s / ideal_s})
        print(f"(a) rep {rep}: sweep {sweep_s:.1f}s, sequential {sequential_s:.1f}s, side-by-side loops {ideal_s:.1f}s;"
              f" ratio {rows[-1]['ratio']:.3f} (bound {rows[-1]['ideal_ratio']:.3f})", flush=True)
    return {"trials": trials, "steps": steps, "rows": rows, "goal": 0.60,
            **{f"median_{key}": statistics.median(r[key] for r in rows)
               for key in ("ratio", "ideal_ratio", "sweep_over_ideal")}}


def two_trial_sweep(study: str, steps: int, every: int) -> dict[str, Any]:
    """Two 1-CPU ring8 trials (non-saturating and hinge) side by side, no tuning, no early stopping."""
    return {"study": study, "metric": "reverse_kl", "mode": "min",
            "fixed": {**RING8, "train.steps": steps, "eval.every": every},
            "scientific": {"loss.name": ["non_saturating", "hinge"]}, "num_samples": 1, "seeds": 0,
            "scheduler": {"name": "none"}, "resources": {"cpu": 1}}


def part_b(repeats: int) -> dict[str, Any]:
    """(b) command start to first trial result on a warm store (400-step trials, first evaluation at step
    100), with a breakdown."""
    tree = two_trial_sweep("b", steps=400, every=100)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder) / "home"
        path = write_sweep(Path(folder), tree)
        run_sweep(path, home, "warmup")  # creates the store: later runs find it warm
        for rep in range(repeats):
            started_ms = time.time() * 1000
            total = run_sweep(path, home, f"b{rep}")
            runs = child_runs(home, f"b{rep}")
            from mlflow import MlflowClient

            client = MlflowClient(f"sqlite:///{home / 'mlflow' / 'mlflow.db'}")
            first = min(m.timestamp for r in runs for m in client.get_metric_history(r.info.run_id, "reverse_kl"))
            rows.append({"first_result_s": (first - started_ms) / 1000, "total_s": total})
            print(f"(b) rep {rep}: first result {rows[-1]['first_result_s']:.1f}s", flush=True)
        imports = _time("import ganbench.sweep.tuner, ganbench.sweep.driver, ganbench.training.loop")
        ray_start = _time("import ray, time; t=time.perf_counter(); ray.init(address='local', include_dashboard=False);"
                          " print(time.perf_counter()-t)", inner=True)
        mlflow_s = _time(f"import os, time; os.environ['GANBENCH_HOME']='{home}'\n"
                         "from ganbench.tracking.store import Tracker, default_tracking_uri; t=time.perf_counter(); "
                         "tr=Tracker(default_tracking_uri(), 'ganbench/warmup'); tr.ensure_experiment(); "
                         "tr.parent_run('warmup', {}); print(time.perf_counter()-t)", inner=True)
    return {"rows": rows, "median_first_result_s": statistics.median(r["first_result_s"] for r in rows),
            "breakdown_s": {"imports": imports, "ray_start": ray_start, "mlflow_warm": mlflow_s},
            "goal_s": 20}


def part_c(repeats: int, steps: int) -> dict[str, Any]:
    """(c) MLflow logging's share of trial time: each trial reports ``tracking_s`` (child run, params, every
    evaluation's metrics and sample grid, the final checkpoint and figure) and ``trial_wall_s``. Trials are
    ring8's default length (5,000 steps) unless --c-steps says otherwise, evaluated every 500 steps."""
    tree = two_trial_sweep("c", steps=steps, every=max(1, steps // 10))
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder) / "home"
        path = write_sweep(Path(folder), tree)
        for rep in range(repeats):
            run_sweep(path, home, f"c{rep}")
            runs = child_runs(home, f"c{rep}")
            shares = [r.data.metrics["tracking_s"] / r.data.metrics["trial_wall_s"] for r in runs]
            rows.append({"shares": shares, "tracking_s": [r.data.metrics["tracking_s"] for r in runs],
                         "trial_wall_s": [r.data.metrics["trial_wall_s"] for r in runs],
                         "mlflow_share_median": statistics.median(shares)})
            print(f"(c) rep {rep}: MLflow share {rows[-1]['mlflow_share_median']:.2%} "
                  f"(tracking {rows[-1]['tracking_s']}, wall {rows[-1]['trial_wall_s']})", flush=True)
    return {"steps": steps, "rows": rows,
            "median_mlflow_share": statistics.median(s for r in rows for s in r["shares"]), "goal": 0.02}


def _time(code: str, inner: bool = False) -> float:
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=env(Path(tempfile.gettempdir()))).stdout
    return float(out.strip().splitlines()[-1]) if inner else time.perf_counter() - started


def quantile(values: list[float], q: float) -> float:
    """Linear-interpolation quantile (numpy's default) that keeps ``inf`` (statistics.quantiles gives nan)."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low, fraction = int(position), position - int(position)
    if fraction == 0:
        return ordered[low]
    high = ordered[low + 1]
    return float("inf") if high == float("inf") else ordered[low] + fraction * (high - ordered[low])


def part_d(repeats: int, trials: int, steps: int, random_from: Path | None = None,
           startup: int = 0, width: int = 0, reduction: int = 3) -> dict[str, Any]:
    """Steps TPE+ASHA needs to reach the full-budget random search's final reverse KL.

    Random search runs ``trials`` full-length trials. TPE+ASHA gets 3x the trials, since ASHA stops most
    of them after a rung or two, so that its step budget reaches random search's; the steps it needs are
    counted up to the target and capped at that budget (past it, the repeat counts as never reaching it).
    Trials are evaluated every ``steps // 8``; ASHA's first cut comes after two evaluations and judges the
    sweep's objective (each trial's best checkpoint so far, ganbench's default ``rank_on: best``).
    ``random_from`` reuses the random arm of an earlier run's json (its curves) and runs only TPE+ASHA;
    ``startup`` sets TPE's random start-up trials (0: ganbench's default, a third of the trials up to 10);
    ``width`` sets both networks' hidden units (0: ring8's 400/200), which makes long trials affordable here;
    ``reduction`` is ASHA's reduction factor (3: rungs at a quarter and three quarters of the steps; 4: one rung).
    """
    nuisance = {"optim.lr_g": {"loguniform": [1e-4, 1e-2]}, "optim.lr_d": {"loguniform": [1e-4, 1e-2]},
                "optim.beta1": {"uniform": [0.0, 0.9]}}
    fixed = {**RING8, "train.steps": steps, "eval.every": steps // 8}
    if width:
        fixed.update({"model.g_width": width, "model.d_width": width})
    tpe = {"name": "optuna", "sampler": "tpe", "n_startup_trials": startup}
    asha = {"name": "asha", "grace_period": steps // 4, "reduction_factor": reduction}
    methods = {"random": ({"name": "optuna", "sampler": "random"}, {"name": "none"}, trials),
               "tpe_asha": (tpe, asha, 3 * trials)}
    curves: dict[str, list[list[tuple[float, ...]]]] = {m: [] for m in methods}
    if random_from is not None:
        curves["random"] = json.loads(random_from.read_text())["curves"]["random"][:repeats]
    for rep in range(repeats):
        for method, (searcher, scheduler, count) in methods.items():
            if method == "random" and random_from is not None:
                continue
            tree = {"study": "d", "metric": "reverse_kl", "mode": "min", "fixed": fixed,
                    "scientific": {"loss.name": ["non_saturating"]}, "nuisance": nuisance, "num_samples": count,
                    "seeds": 0, "searcher": {**searcher, "seed": rep}, "scheduler": scheduler,
                    "resources": {"cpu": 1}}
            with tempfile.TemporaryDirectory() as folder:
                home = Path(folder) / "home"
                run_sweep(write_sweep(Path(folder), tree), home, f"d{rep}{method}")
                runs = sorted(child_runs(home, f"d{rep}{method}"), key=lambda r: r.info.end_time or 0)
                curves[method].append([(r.data.metrics.get("step", 0), r.data.metrics["reverse_kl"],
                                        r.data.metrics.get("best_reverse_kl", r.data.metrics["reverse_kl"]))
                                       for r in runs])
            print(f"(d) rep {rep} {method}: {len(runs)} trials, {sum(t[0] for t in curves[method][-1]):.0f} steps, "
                  f"best checkpoint {min(t[2] for t in curves[method][-1]):.3f}", flush=True)
    with_best = all(len(t) > 2 for c in curves["random"] for t in c)  # older json held last evaluations only
    return {"startup_trials": startup, "reduction_factor": reduction, "steps": steps, "width": width or "400/200",
            "best_checkpoint": summarise_d(curves, 2) if with_best else None,
            "last_evaluation": summarise_d(curves, 1), "curves": curves}


def summarise_d(curves: dict[str, list[list[tuple[float, ...]]]], column: int) -> dict[str, Any]:
    """(d)'s figures from each sweep's (steps, last reverse KL, best checkpoint's reverse KL) per trial, in the
    order trials finished; ``column`` picks which reverse KL a trial is worth (1 last, 2 best checkpoint)."""
    random_total = [sum(t[0] for t in c) for c in curves["random"]]
    target = statistics.median(min(t[column] for t in c) for c in curves["random"])
    budget = statistics.median(random_total)
    needed = []
    for c in curves["tpe_asha"]:
        used, best = 0.0, float("inf")
        for trial in c:
            used, best = used + trial[0], min(best, trial[column])
            if best <= target:
                break
        needed.append(used / budget if best <= target and used <= budget else float("inf"))
    # A sweep that never reached the target counts as infinitely many steps: it stays in the median and IQR.
    return {"target_reverse_kl": target, "random_best_per_repeat": [min(t[column] for t in c) for c in curves["random"]],
            "random_budget_steps": budget, "tpe_asha_steps": [sum(t[0] for t in c) for c in curves["tpe_asha"]],
            "ratios": needed, "median_ratio": statistics.median(needed),
            "iqr": [quantile(needed, 0.25), quantile(needed, 0.75)], "goal": 0.35}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", nargs="+", choices=("a", "b", "c", "d"), default=["a", "b", "c"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--steps", type=int, default=1500, help="steps per trial in (a) and (d)")
    parser.add_argument("--d-random-from", type=Path, help="(d): reuse this json's random-search arm, run TPE+ASHA only")
    parser.add_argument("--d-startup", type=int, default=0, help="(d): TPE's random start-up trials (0: default)")
    parser.add_argument("--d-width", type=int, default=0, help="(d): hidden units of G and D (0: ring8's 400/200)")
    parser.add_argument("--d-reduction", type=int, default=3, help="(d): ASHA's reduction factor")
    parser.add_argument("--c-steps", type=int, default=5000, help="steps per trial in (c): ring8's default length")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if "a" in args.part:
        result = part_a(args.repeats, args.trials, args.steps)
        (OUT / "sweep_a.json").write_text(json.dumps(result, indent=2))
        print(f"(a) median ratio sweep/sequential: {result['median_ratio']:.3f} (goal <= 0.60); side-by-side "
              f"loops/sequential {result['median_ideal_ratio']:.3f}; sweep/loops {result['median_sweep_over_ideal']:.3f}")
    if "b" in args.part:
        result = part_b(args.repeats)
        (OUT / "sweep_b.json").write_text(json.dumps(result, indent=2))
        print(f"(b) median first result {result['median_first_result_s']:.1f}s (goal <= 20s), breakdown "
              f"{result['breakdown_s']}")
    if "c" in args.part:
        result = part_c(args.repeats, args.c_steps)
        (OUT / "sweep_c.json").write_text(json.dumps(result, indent=2))
        print(f"(c) median MLflow share {result['median_mlflow_share']:.2%} (goal <= 2%)")
    if "d" in args.part:
        result = part_d(args.repeats, args.trials * 2, args.steps, args.d_random_from, args.d_startup,
                        args.d_width, args.d_reduction)
        (OUT / "sweep_d.json").write_text(json.dumps(result, indent=2))
        for judged in ("best_checkpoint", "last_evaluation"):
            if result[judged] is not None:
                print(f"(d) {judged}: target {result[judged]['target_reverse_kl']:.3f}, ratios "
                      f"{[round(r, 3) for r in result[judged]['ratios']]}, median {result[judged]['median_ratio']:.3f}, "
                      f"IQR {result[judged]['iqr']} (goal <= 0.35)")


if __name__ == "__main__":
    main()
