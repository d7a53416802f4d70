"""Quality check of the ring8 default: train it for seeds 0, 1, 2 and score the final generator.

Targets: each run trains in under 2 minutes on a 2-core CPU, and on average over the seeds the final
generator captures >= 6 of 8 modes with >= 50% high-quality samples (PacGAN protocol, 2,500 samples,
as computed by the ``modes2d`` metric). Writes reports/core/ring8_quality.json and ring8_samples.png.

Run from the repo root: ``python reports/scripts/quality_ring8.py``
"""

from __future__ import annotations

import copy
import json
import statistics
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from ganbench.config import load_config, to_flat  # noqa: E402
from ganbench.data import DATASETS  # noqa: E402
from ganbench.metrics.evaluator import EVAL_SEED_OFFSET, generate  # noqa: E402
from ganbench.training.loop import train  # noqa: E402
from ganbench.training.sampling import load_generator  # noqa: E402

SEEDS = (0, 1, 2)
OUT = Path(__file__).resolve().parents[1] / "core"
KEYS = ("modes", "hq_fraction", "reverse_kl")
TARGET_MODES, TARGET_HQ, TARGET_SECONDS = 6.0, 0.5, 120.0


def run(seed: int) -> tuple[dict[str, Any], torch.Tensor]:
    """Train the default for one seed; returns its table row and the final generator's scored samples."""
    config = load_config(overrides=["data.name=ring8", f"seed={seed}"])
    last: dict[str, Any] = {}

    def keep_last(metrics: dict[str, float], state: dict[str, Any] | None) -> None:
        if state is not None:
            last["state"] = copy.deepcopy(state)

    result = train(config, keep_last)
    generator = load_generator(last["state"], config, "final")
    # The same z the evaluator scored, so the figure shows exactly the samples behind final_*.
    samples = generate(generator, config, config.eval.n_samples, seed + EVAL_SEED_OFFSET, torch.device("cpu"))
    row = {"seed": seed, **{f"final_{k}": result[f"final_{k}"] for k in KEYS},
           **{f"best_{k}": result[f"best_{k}"] for k in KEYS}, "best_step": result["best_step"],
           "steps": result["steps"], "threads": result["threads"], "wall_time_s": round(result["wall_time_s"], 1)}
    return row, samples


def plot(samples: dict[int, torch.Tensor], rows: list[dict[str, Any]], path: Path) -> None:
    means = DATASETS.get("ring8").means
    fig, axes = plt.subplots(1, len(samples), figsize=(4 * len(samples), 4.2))
    for ax, row in zip(axes, rows, strict=True):
        points = samples[row["seed"]].numpy()
        ax.scatter(points[:, 0], points[:, 1], s=2, alpha=0.4)
        ax.scatter(means[:, 0], means[:, 1], marker="x", color="red", s=40)
        ax.set(xlim=(-1.5, 1.5), ylim=(-1.5, 1.5), aspect="equal",
               title=f"seed {row['seed']}: {row['final_modes']:.0f}/8 modes, hq {row['final_hq_fraction']:.2f}")
    fig.suptitle("ring8 default, final generator, 2,500 samples (red x: true means)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    rows, samples = [], {}
    for seed in SEEDS:
        row, samples[seed] = run(seed)
        rows.append(row)
        print(row, flush=True)
    columns = [c for c in rows[0] if c not in ("seed", "threads")]
    mean = {c: round(statistics.mean(float(r[c]) for r in rows), 3) for c in columns}
    print(f"{'seed':>4} " + " ".join(f"{c:>17}" for c in columns))
    for r in [*rows, {"seed": "mean", **mean}]:
        print(f"{r['seed']:>4} " + " ".join(f"{float(r[c]):>17.3f}" for c in columns))
    met = {"modes": mean["final_modes"] >= TARGET_MODES, "hq_fraction": mean["final_hq_fraction"] >= TARGET_HQ,
           "time": max(r["wall_time_s"] for r in rows) < TARGET_SECONDS}
    print("targets met:", met)
    defaults = {k: v for k, v in to_flat(load_config(overrides=["data.name=ring8"])).items()
                if k.split(".")[0] in ("model", "optim", "train", "eval")}
    report = {"dataset": "ring8", "seeds": rows, "mean": mean, "targets_met": met, "config": defaults,
              "torch": torch.__version__}
    (OUT / "ring8_quality.json").write_text(json.dumps(report, indent=2) + "\n")
    plot(samples, rows, OUT / "ring8_samples.png")


if __name__ == "__main__":
    main()
