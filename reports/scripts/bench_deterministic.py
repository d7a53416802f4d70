"""What the deterministic scheduling mode costs, and whether it delivers: the same sweep file run with
``deterministic: true`` and ``false``, interleaved, each from clean stores, on this machine.

Reports each mode's median wall time (sweep alone, then the report) and, per mode, whether the repeats picked the
same configs and gave the same leaderboard numbers.

    python reports/scripts/bench_deterministic.py --repeats 3            # the quickstart
    python reports/scripts/bench_deterministic.py --file search_spaces/examples/losses_two_datasets.yaml

Writes reports/perf/deterministic.json and prints a table.
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

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "reports" / "perf"


def run(command: list[str], home: Path) -> float:
    env = {**os.environ, "GANBENCH_HOME": str(home), "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "ganbench", *command], env=env, check=True, cwd=home,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def picks(home: Path, name: str, metric: str) -> dict[str, Any]:
    """Each search trial's (value, params, outcome), each value's best config and the final reruns' numbers."""
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{home / 'mlflow' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(f"ganbench/{name}")
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    trials = [r for r in runs if r.data.tags.get("ganbench.kind") == "trial"]
    search = sorted((r.data.tags["value"], json.dumps({k: v for k, v in r.data.params.items() if k.startswith("optim.")},
                                                      sort_keys=True), r.data.tags["outcome"])
                    for r in trials if r.data.tags["stage"] == "search")
    finals = sorted((r.data.tags["value"], r.data.tags["seed"], round(r.data.metrics.get(f"final_eval_{metric}",
                                                                                       float("nan")), 6))
                    for r in trials if r.data.tags["stage"] == "final")
    return {"search": search, "finals": finals}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", default=str(ROOT / "search_spaces" / "quickstart.yaml"),
                        help="a one-study sweep file")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    tree = yaml.safe_load(Path(args.file).read_text())
    results: dict[str, list[dict[str, Any]]] = {"deterministic": [], "asynchronous": []}
    with tempfile.TemporaryDirectory() as folder:
        for repeat in range(args.repeats):
            for mode in results:  # interleaved, so machine drift hits both modes alike
                home = Path(folder) / f"{mode}{repeat}"
                home.mkdir()
                sweep = home / "sweep.yaml"
                sweep.write_text(yaml.safe_dump({**tree, "deterministic": mode == "deterministic"}))
                sweep_s = run(["sweep", str(sweep), "--name", "bench"], home)
                report_s = run(["report", "bench", "--out", str(home / "report")], home)
                results[mode].append({"sweep_s": round(sweep_s, 1), "report_s": round(report_s, 1),
                                      **picks(home, "bench", tree["metric"])})
                print(f"{mode} repeat {repeat}: sweep {sweep_s:.1f} s, report {report_s:.1f} s", flush=True)
    summary = {}
    for mode, runs in results.items():
        summary[mode] = {"sweep_s_median": statistics.median(r["sweep_s"] for r in runs),
                         "report_s_median": statistics.median(r["report_s"] for r in runs),
                         "same_search_picks": all(r["search"] == runs[0]["search"] for r in runs),
                         "same_final_numbers": all(r["finals"] == runs[0]["finals"] for r in runs)}
    ratio = summary["deterministic"]["sweep_s_median"] / summary["asynchronous"]["sweep_s_median"]
    print(f"\n{'mode':<14} {'sweep (median)':>15} {'report':>8}  same picks  same numbers")
    for mode, row in summary.items():
        print(f"{mode:<14} {row['sweep_s_median']:>13.1f} s {row['report_s_median']:>6.1f} s  "
              f"{str(row['same_search_picks']):<10}  {row['same_final_numbers']}")
    print(f"deterministic / asynchronous sweep time: {ratio:.2f}")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "deterministic.json").write_text(json.dumps({
        "command": " ".join(["python", *[a if not a.startswith("/") else Path(a).name for a in sys.argv]]),
        "file": Path(args.file).name, "repeats": args.repeats, "cpus": os.cpu_count(), "summary": summary,
        "ratio_deterministic_over_async": round(ratio, 3), "runs": results}, indent=2))


if __name__ == "__main__":
    main()
