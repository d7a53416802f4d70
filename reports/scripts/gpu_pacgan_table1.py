"""PacGAN's Table 1 in full, for whoever has a GPU: ring8 and grid25, non-saturating at pack 1, 2 and 4, PacGAN's
400,000 steps and protocol (the benchmark files' `paper` budget, without its search: PacGAN's own optimizer, as
the `medium` budget runs it), 10 seeds, as many trials per GPU as fit (fractional GPUs), and the table printed
beside the paper's.

    python reports/scripts/gpu_pacgan_table1.py                     # the full table (see README for the time)
    python reports/scripts/gpu_pacgan_table1.py --gpu 0.25 --cpus 2  # 4 trials a GPU, 2 CPUs each
    python reports/scripts/gpu_pacgan_table1.py --steps 40 --seeds 1 --gpu 0 --out runs/t1   # a CPU check

It writes one sweep file per dataset under --out, runs each with `ganbench sweep` (a local Ray unless RAY_ADDRESS
is set, MLflow under --out unless MLFLOW_TRACKING_URI is set), builds its report with `ganbench report`, and
prints the mean ± s.e. over seeds of modes, high-quality samples and reverse KL, as PacGAN's Table 1 states them,
from each report's results.csv. A killed run continues where it stopped when started again with the same --out.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import shlex
import statistics
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = {"ring8": ROOT / "search_spaces" / "benchmarks" / "ring8_pacgan.yaml",
              "grid25": ROOT / "search_spaces" / "benchmarks" / "grid25_pacgan.yaml"}
METRICS = ("modes", "hq_fraction", "reverse_kl")
PAPER_STEPS = 400_000


def sweep_file(dataset: str, steps: int, seeds: int, packs: list[int], gpu: float, cpus: float) -> dict:
    """The benchmark file's study at PacGAN's protocol (its `paper` budget's fixed keys over the medium budget's, so
    that both agree on everything but length), no search, ``packs`` compared, ``seeds`` final seeds."""
    tree = yaml.safe_load(BENCHMARKS[dataset].read_text())
    budgets = tree.pop("benchmark")["budgets"]
    fixed = {**tree["fixed"], **budgets["medium"]["fixed"], **budgets["paper"]["fixed"],
             "train.steps": steps, "eval.every": max(1, steps // 20)}
    values = {f"non_saturating,{pack}" for pack in packs}
    return {**{k: v for k, v in tree.items() if k not in ("scheduler", "searcher", "reference", "baseline")},
            "study": f"{dataset}_table1", "fixed": fixed, "nuisance": {}, "num_samples": 0, "seeds": seeds,
            "scientific": [{"loss.name": "non_saturating", "model.pack": pack} for pack in packs],
            "baseline": "non_saturating,1", "resources": {"cpu": cpus, "gpu": gpu},
            "reference": [ref for ref in tree["reference"] if ref.get("value") in values and "PacGAN" in ref["source"]]}


def run(command: list[str], env: dict[str, str]) -> None:
    print("$ " + " ".join(shlex.quote(c) for c in command), flush=True)
    subprocess.run(command, env=env, check=True)


def table(results: Path, dataset: str, reference: list[dict]) -> list[str]:
    """Ours (mean ± s.e. over the final seeds of the final evaluation) beside the paper's, per pack and metric."""
    with results.open() as handle:
        finals = [row for row in csv.DictReader(handle) if row["stage"] == "final" and row["outcome"] == "completed"]
    theirs = {(ref["value"], ref["metric"]): ref for ref in reference}
    lines = [f"{dataset}: ours (n seeds) against PacGAN Table 1 (10 trials), mean ± s.e.",
             f"  {'value':<18} {'metric':<12} {'ours':>22} {'PacGAN':>16}"]
    for value in dict.fromkeys(row["value"] for row in finals):
        for metric in METRICS:
            numbers = [float(row[f"final_eval_{metric}"]) for row in finals if row["value"] == value]
            error = statistics.stdev(numbers) / math.sqrt(len(numbers)) if len(numbers) > 1 else math.nan
            ours = f"{statistics.mean(numbers):.3g} ± {error:.2g} (n={len(numbers)})"
            ref = theirs.get((value, metric))
            paper = f"{ref['mean']:g} ± {ref.get('err', float('nan')):g}" if ref else "–"
            lines.append(f"  {value:<18} {metric:<12} {ours:>22} {paper:>16}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=PAPER_STEPS, help="generator steps a trial (PacGAN: 400,000)")
    parser.add_argument("--seeds", type=int, default=10, help="seeds per value (PacGAN: 10 trials)")
    parser.add_argument("--packs", default="1,2,4", help="packing degrees compared (default 1,2,4)")
    parser.add_argument("--datasets", default="ring8,grid25", help="of: ring8, grid25")
    parser.add_argument("--gpu", type=float, default=0.25, help="GPU per trial: 0.25 runs 4 trials on one GPU; 0 = CPU")
    parser.add_argument("--cpus", type=float, default=1, help="CPUs per trial")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "gpu_table1",
                        help="sweep files, MLflow store, Ray storage and reports (default runs/gpu_table1)")
    parser.add_argument("--plan", action="store_true", help="write the sweep files and print `ganbench sweep --plan`")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GANBENCH_HOME": os.environ.get("GANBENCH_HOME", str(out / "home"))}
    ganbench = [sys.executable, "-m", "ganbench"]
    packs = [int(p) for p in args.packs.split(",")]
    lines = []
    for dataset in args.datasets.split(","):
        tree = sweep_file(dataset, args.steps, args.seeds, packs, args.gpu, args.cpus)
        path = out / f"{tree['study']}.yaml"
        path.write_text(f"# written by {Path(__file__).name}; {args.steps:,} steps, {args.seeds} seeds\n"
                        + yaml.safe_dump(tree, sort_keys=False))
        name = f"{tree['study']}-{args.steps}"
        common = ["--storage", str(out / "ray")]
        if args.plan:
            run([*ganbench, "sweep", str(path), "--name", name, *common, "--plan"], env)
            continue
        state = out / "ray" / "ganbench-sweeps" / f"{name}.json"
        run([*ganbench, "sweep", str(path), "--name", name, *common, *(["--resume"] if state.exists() else [])], env)
        run([*ganbench, "report", name, "--out", str(out / "reports" / name)], env)
        lines += table(out / "reports" / name / "results.csv", dataset, tree["reference"])
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
