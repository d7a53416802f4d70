"""How well does an early look at a ring8 trial predict where it ends? The evidence behind ``rank_on: best``.

Trains ``--configs`` random configs (the (d) benchmark's space: lr_g, lr_d log-uniform in 1e-4..1e-2, beta1
uniform in 0..0.9; non-saturating loss, 800 steps, evaluated every 50) in two processes of one thread, then prints
Spearman correlations between what ASHA could see at a rung (the last evaluation, or the best checkpoint so far)
and where the trial ends (its last evaluation at 800, or its best checkpoint by 800).

    python reports/scripts/ring8_curve_noise.py                 # ~10 min on 2 cores; writes perf/ring8_curves.json
    python reports/scripts/ring8_curve_noise.py --analyse-only  # from the json
"""

from __future__ import annotations

import argparse
import json
import math
import random
import subprocess
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "perf" / "ring8_curves.json"
STEPS, EVERY = 800, 50


def collect(part: int, count: int) -> list[dict]:
    from ganbench.config import resolve
    from ganbench.training.loop import train

    rng = random.Random(1000 + part)
    runs = []
    for i in range(count):
        params = {"optim.lr_g": math.exp(rng.uniform(math.log(1e-4), math.log(1e-2))),
                  "optim.lr_d": math.exp(rng.uniform(math.log(1e-4), math.log(1e-2))),
                  "optim.beta1": rng.uniform(0.0, 0.9)}
        config = resolve({"data.name": "ring8", "data.size": 20000, "train.log_every": 50, "train.steps": STEPS,
                          "eval.every": EVERY, "loss.name": "non_saturating", "train.threads": 1,
                          "seed": 7 + i + 100 * part, **params})
        curve: list[tuple[int, float]] = []
        train(config, lambda metrics, _state, curve=curve: curve.append((metrics["step"], metrics["reverse_kl"])),
              force=True)
        runs.append({"params": params, "curve": curve})
        print(f"part {part} config {i}: {[round(v, 2) for _, v in curve]}", file=sys.stderr, flush=True)
    return runs


def analyse(runs: list[dict]) -> dict[str, float]:
    from scipy.stats import spearmanr

    def last(curve: list, step: int) -> float:
        return dict(curve)[step]

    def best(curve: list, step: int, every: int = 100) -> float:  # the (d) benchmark evaluates every 100
        return min(v for s, v in curve if s <= step and s % every == 0)

    table = {}
    for rung in (100, 200, 300, 400):
        table[f"last@{rung} vs last@{STEPS}"] = spearmanr([last(r["curve"], rung) for r in runs],
                                                          [last(r["curve"], STEPS) for r in runs])[0]
        table[f"best@{rung} vs best@{STEPS}"] = spearmanr([best(r["curve"], rung) for r in runs],
                                                          [best(r["curve"], STEPS) for r in runs])[0]
    return {key: round(float(value), 3) for key, value in table.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", type=int, default=20)
    parser.add_argument("--analyse-only", action="store_true")
    parser.add_argument("--part", type=int, help=argparse.SUPPRESS)  # a worker process
    args = parser.parse_args()
    if args.part is not None:
        print(json.dumps(collect(args.part, args.configs)))
        return
    if not args.analyse_only:
        workers = [subprocess.Popen([sys.executable, __file__, "--part", str(p), "--configs", str(args.configs // 2)],
                                    stdout=subprocess.PIPE, text=True) for p in (0, 1)]
        runs = [run for w in workers for run in json.loads(w.communicate()[0])]
        OUT.write_text(json.dumps({"runs": runs}, indent=1))
    runs = json.loads(OUT.read_text())["runs"]
    for key, rho in analyse(runs).items():
        print(f"{key:<24} Spearman {rho:+.2f}  ({len(runs)} configs)")


if __name__ == "__main__":
    main()
