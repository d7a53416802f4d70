"""Benchmark: the speed cost of PacGAN packing (``model.pack``) on ring8.

Same config (the ring8 default: batch 100, G 4x400, D 3x200 maxout), packing m = 1 against m = 2 (and
more with ``--packs``). With packing, D makes batch/m decisions on m-times-wider inputs, so only D's
first layer grows. Each run is timed through ``train()``'s ``progress`` callback, from step ``--warmup``
to the last step, before any evaluation (``eval.metrics=[]``). Runs of each m are interleaved
(ABBA order) so that load from other processes hits them alike; the cost is the median of per-round
ratios against m = 1.

    python reports/scripts/bench_pack.py --repeats 5 --steps 600

Writes ``reports/perf/pack_ring8.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import torch

from ganbench.config import load_config
from ganbench.training.loop import train

OUT = Path(__file__).resolve().parents[1] / "perf" / "pack_ring8.json"


def seconds_per_step(pack: int, steps: int, warmup: int) -> float:
    config = load_config(overrides=["data.name=ring8", f"model.pack={pack}", f"train.steps={steps}",
                                    "train.log_every=50", f"eval.every={steps}", "eval.metrics=[]", "eval.select=",
                                    "train.threads=1", "device=cpu"])
    marks: dict[int, float] = {}
    train(config, progress=lambda step, record: marks.setdefault(step, time.perf_counter()))
    return (marks[steps] - marks[warmup]) / (steps - warmup)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--warmup", type=int, default=100)
    args = parser.parse_args()
    times: dict[int, list[float]] = {m: [] for m in args.packs}
    load_before = os.getloadavg()[0]
    for repeat in range(args.repeats):
        order = args.packs if repeat % 2 == 0 else list(reversed(args.packs))
        for m in order:
            times[m].append(seconds_per_step(m, args.steps, args.warmup))
        print({m: round(times[m][-1] * 1e3, 2) for m in args.packs}, "ms/step", flush=True)
    base = args.packs[0]
    summary = {}
    for m in args.packs:
        ratios = [t / b for t, b in zip(times[m], times[base], strict=True)]
        summary[m] = {"median_ms_per_step": round(statistics.median(times[m]) * 1e3, 2),
                      "median_ratio_vs_first": round(statistics.median(ratios), 3),
                      "ratio_range": [round(min(ratios), 3), round(max(ratios), 3)]}
    print(json.dumps(summary, indent=2))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"dataset": "ring8", "config": "ring8 default, train.threads=1, cpu",
                               "steps": args.steps, "warmup": args.warmup, "repeats": args.repeats,
                               "times_s_per_step": {str(m): v for m, v in times.items()},
                               "summary": {str(m): v for m, v in summary.items()},
                               "load_average_1min": [load_before, os.getloadavg()[0]],
                               "torch": torch.__version__}, indent=2) + "\n")


if __name__ == "__main__":
    main()
