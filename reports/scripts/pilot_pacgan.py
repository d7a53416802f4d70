"""Pilot for issue 22: grid25 at pack 2 under the medium budget's old protocol, each of PacGAN's protocol items alone,
and all of them, so that the report can say which difference mattered.

    nice -n 10 python reports/scripts/pilot_pacgan.py --arms today,faithful --seeds 0,1,2 --jobs 2

Each run is ``train()`` on the medium budget's fixed config (10,000 steps, Adam lr 1e-4, beta1 0.8, batch 100,
the last generator) at one torch thread; the table holds the final D loss, G's gradient norm, modes, HQ fraction,
reverse KL and the not-converged verdict (``ganbench.metrics.chance``). Written to reports/perf/pacgan_pilot.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from multiprocessing import Pool
from pathlib import Path

from ganbench.config import resolve
from ganbench.metrics.chance import not_converged_reason
from ganbench.training.loop import train

OUT = Path(__file__).resolve().parents[1] / "perf" / "pacgan_pilot.json"

MEDIUM = {"data.name": "grid25", "data.size": 100_000, "model.pack": 2, "loss.name": "non_saturating",
          "train.batch_size": 100, "train.steps": 10_000, "eval.every": 1000, "eval.n_samples": 2500,
          "eval.select": "", "optim.lr_g": 1e-4, "optim.lr_d": 1e-4, "optim.beta1": 0.8, "train.threads": 1,
          "device": "cpu"}
ITEMS = {"init": {"model.init": "normal_0.02"}, "packing": {"model.pack_mode": "pacgan"},
         "simultaneous": {"train.update": "simultaneous"},
         "batch_norm": {"model.bn_eps": 1e-4, "model.bn_momentum": 0.05, "eval.bn_reestimate_batches": 50}}
ARMS = {"today": {}, **ITEMS, "faithful": {k: v for item in ITEMS.values() for k, v in item.items()}}
KEYS = ("d_loss", "g_grad_norm", "modes", "hq_fraction", "reverse_kl")


def run(job: tuple[str, int, int]) -> dict:
    arm, seed, steps = job
    started = time.perf_counter()
    result = train(resolve({**MEDIUM, **ARMS[arm], "train.steps": steps, "seed": seed}))
    row = {"arm": arm, "seed": seed, **{key: result[f"final_{key}"] for key in KEYS},
           "wall_time_s": time.perf_counter() - started}
    row["not_converged"] = not_converged_reason(row["hq_fraction"], row["d_loss"], "non_saturating")
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arms", default=",".join(ARMS), help=f"comma-separated, of: {', '.join(ARMS)}")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--out", type=Path, default=OUT)
    options = parser.parse_args()
    arms, seeds = options.arms.split(","), [int(s) for s in options.seeds.split(",")]
    jobs = [(arm, seed, options.steps) for arm in arms for seed in seeds]
    with Pool(options.jobs) as pool:
        rows = pool.map(run, jobs, chunksize=1)
    means = {arm: {key: statistics.mean(r[key] for r in rows if r["arm"] == arm) for key in KEYS} for arm in arms}
    for arm in arms:
        means[arm]["not_converged"] = sum(r["not_converged"] is not None for r in rows if r["arm"] == arm)
    command = (f"nice -n 10 python reports/scripts/pilot_pacgan.py --arms {options.arms} --seeds {options.seeds} "
               f"--steps {options.steps} --jobs {options.jobs}")
    options.out.write_text(json.dumps({"command": command, "config": MEDIUM, "arms": {a: ARMS[a] for a in arms},
                                       "means": means, "runs": rows}, indent=2))
    print(f"{'arm':<13}" + "".join(f"{key:>13}" for key in (*KEYS, "not_conv.")))
    for arm in arms:
        print(f"{arm:<13}" + "".join(f"{means[arm][key]:>13.3f}" for key in KEYS) + f"{means[arm]['not_converged']:>13}")
    print(f"written to {options.out}")


if __name__ == "__main__":
    main()
