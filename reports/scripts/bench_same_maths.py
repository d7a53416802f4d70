"""Do the fast step's trajectories end where the plain step's did? (for reports/PERFORMANCE.md)

    python reports/scripts/bench_same_maths.py --seeds 5 --steps 2000

Trains ring8's default (G 4x400 BN, D 3x200 maxout, non-saturating loss) for each seed twice: with the fast step
(fused Adam, maxout by max, one D pass) and with the step as it was (patched in: amax, Adam's per-parameter loop,
two D passes). GAN trajectories part from any rounding difference, so the runs are not compared seed by seed:
the final metrics of the two arms are compared as samples, with Welch's t-test per metric. Two runs at a time,
1 thread each. Writes reports/perf/same_maths.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from scipy import stats

OUT = Path(__file__).resolve().parents[1] / "perf" / "same_maths.json"
METRICS = ("modes", "hq_fraction", "reverse_kl")


def final_metrics(arm: str, seed: int, steps: int) -> dict[str, float]:
    import torch

    from ganbench.config import resolve
    from ganbench.gan import optim
    from ganbench.models import mlp
    from ganbench.training import loop

    if arm == "before":  # this process only runs this one arm
        adam = optim.torch.optim.Adam
        mlp.Maxout.forward = lambda self, x: self.linear(x).unflatten(1, (-1, self.pieces)).amax(dim=2)
        optim.torch.optim.Adam = lambda params, **o: adam(params, **{**o, "fused": None, "foreach": None})
        loop.judges_each_sample_alone = lambda discriminator: False
    torch.set_num_threads(1)
    config = resolve({"data.name": "ring8", "seed": seed, "train.steps": steps, "eval.every": steps,
                      "train.threads": 1, "device": "cpu"})
    result = loop.train(config)
    return {key: result[f"final_{key}"] for key in METRICS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=2000)
    options = parser.parse_args()
    jobs = [(arm, seed) for seed in range(options.seeds) for arm in ("fast", "before")]
    # A fresh process per run (max_tasks_per_child=1), so the "before" patch never leaks into a "fast" run.
    with ProcessPoolExecutor(max_workers=2, max_tasks_per_child=1) as pool:
        runs = list(pool.map(final_metrics, *zip(*jobs, strict=True), [options.steps] * len(jobs)))
    arms = {arm: [run for (a, _), run in zip(jobs, runs, strict=True) if a == arm] for arm in ("fast", "before")}
    comparison = {}
    for key in METRICS:
        fast, before = [r[key] for r in arms["fast"]], [r[key] for r in arms["before"]]
        test = stats.ttest_ind(fast, before, equal_var=False)
        comparison[key] = {"fast_mean": statistics.mean(fast), "fast_sd": statistics.stdev(fast),
                           "before_mean": statistics.mean(before), "before_sd": statistics.stdev(before),
                           "welch_p": float(test.pvalue), "fast": fast, "before": before}
        print(f"{key:<12} fast {statistics.mean(fast):.4f} ± {statistics.stdev(fast):.4f}   "
              f"before {statistics.mean(before):.4f} ± {statistics.stdev(before):.4f}   Welch p = {test.pvalue:.3f}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"command": f"python reports/scripts/bench_same_maths.py --seeds {options.seeds} "
                                          f"--steps {options.steps}", "metrics": comparison}, indent=2))
    print(f"written to {OUT}")


if __name__ == "__main__":
    main()
