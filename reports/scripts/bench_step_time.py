"""Benchmark: ganbench's training step time vs a hand-written plain PyTorch GAN loop.

Both sides train the same G and D (built by ganbench's model registry from the same seed), with the
same loss, Adam settings, batch size, D steps per G step, data tensor and torch thread count; only
the loop around them differs. One-time setup (data load, model build) and evaluation are never
timed: ganbench is timed through ``train()``'s ``progress`` callback (called every ``train.log_every``
steps) and stopped before its final evaluation.

The two loops are interleaved finely, so that load from other processes hits both alike: inside each
progress call, the plain loop runs the same number of steps (one block each), then ganbench resumes.
Each repetition builds both sides afresh, runs ``--warmup`` untimed steps of each, then times
``--steps`` steps of each; its ratio is ganbench's total time over the plain loop's.

    python reports/scripts/bench_step_time.py --dataset ring8 --repeats 9 --steps 400

Prints a table and writes ``reports/perf/step_time_<dataset>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from ganbench.config import Config, load_config
from ganbench.data import DATASETS
from ganbench.models import MODELS
from ganbench.training.loop import train

BLOCK = 50  # ganbench's default train.log_every: steps per timed block of each loop
TARGET = 1.03
OUT_DIR = Path(__file__).resolve().parents[1] / "perf"

# Hand-written losses on D's logits: (discriminator loss(real, fake), generator loss(fake)).
PLAIN_LOSSES: dict[str, tuple[Callable[[Tensor, Tensor], Tensor], Callable[[Tensor], Tensor]]] = {
    "non_saturating": (lambda r, f: F.softplus(-r).mean() + F.softplus(f).mean(), lambda f: F.softplus(-f).mean()),
    "hinge": (lambda r, f: F.relu(1 - r).mean() + F.relu(1 + f).mean(), lambda f: -f.mean()),
    "least_squares": (lambda r, f: 0.5 * ((r - 1).pow(2).mean() + f.pow(2).mean()), lambda f: 0.5 * (f - 1).pow(2).mean()),
}


class PlainGAN:
    """An idiomatic hand-written GAN loop over ganbench's networks, data and settings."""

    def __init__(self, config: Config) -> None:
        torch.manual_seed(config.seed)
        dataset = DATASETS.get(config.data.name)(config)
        self.generator, self.discriminator = MODELS.get(config.model.name).build(config.model, dataset.spec(config))
        self.data, _ = dataset.load("train")
        betas = (config.optim.beta1, config.optim.beta2)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=config.optim.lr_g, betas=betas)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=config.optim.lr_d, betas=betas)
        self.d_loss, self.g_loss = PLAIN_LOSSES[config.loss.name]
        self.batch, self.disc_steps, self.model = config.train.batch_size, config.train.disc_steps, config.model
        self.order, self.position = torch.randperm(len(self.data)), 0

    def noise(self) -> Tensor:
        shape = (self.batch, self.model.latent_dim)
        return torch.rand(shape) * 2 - 1 if self.model.latent_distribution == "uniform" else torch.randn(shape)

    def run(self, steps: int) -> tuple[float, float]:
        """Train ``steps`` generator steps; returns the last losses (as a researcher would log them)."""
        G, D = self.generator, self.discriminator  # noqa: N806
        for _ in range(steps):
            for _ in range(self.disc_steps):
                if self.position + self.batch > len(self.data):
                    self.order, self.position = torch.randperm(len(self.data)), 0
                real = self.data[self.order[self.position:self.position + self.batch]]
                self.position += self.batch
                with torch.no_grad():
                    fake = G(self.noise())
                d_loss = self.d_loss(D(real).logits, D(fake).logits)
                self.opt_d.zero_grad(set_to_none=True)
                d_loss.backward()
                self.opt_d.step()
            D.requires_grad_(False)  # as ganbench does: no D weight gradients in the G step
            g_loss = self.g_loss(D(G(self.noise())).logits)
            self.opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            self.opt_g.step()
            D.requires_grad_(True)
        return d_loss.item(), g_loss.item()


class _Done(Exception):
    """Raised from the progress callback to stop ``train()`` before its final evaluation."""


def repetition(config: Config, warmup: int, steps: int) -> dict[str, float]:
    """One interleaved repetition: ms per step of each loop over ``steps`` timed steps."""
    plain = PlainGAN(config)
    plain.run(warmup)
    total = {"ganbench": 0.0, "plain": 0.0}
    resumed = 0.0

    def progress(step: int, record: dict[str, float]) -> None:
        nonlocal resumed
        if step > warmup:
            total["ganbench"] += time.perf_counter() - resumed
        if step == warmup + steps:
            raise _Done
        if step >= warmup:
            start = time.perf_counter()
            plain.run(BLOCK)
            total["plain"] += time.perf_counter() - start
            resumed = time.perf_counter()

    try:
        train(config, progress=progress)
    except _Done:
        pass
    run = {f"{name}_ms": seconds / steps * 1e3 for name, seconds in total.items()}
    return {**run, "ratio": run["ganbench_ms"] / run["plain_ms"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ring8", help="ring8 (mlp), digits (infogan), or any dataset")
    parser.add_argument("--loss", default="non_saturating", choices=sorted(PLAIN_LOSSES))
    parser.add_argument("--steps", type=int, default=400, help=f"timed steps per repetition (multiple of {BLOCK})")
    parser.add_argument("--warmup", type=int, default=BLOCK, help=f"untimed steps first (multiple of {BLOCK})")
    parser.add_argument("--repeats", type=int, default=9, help="repetitions (each builds both loops afresh)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads for both loops")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="extra config override")
    args = parser.parse_args()
    if args.steps % BLOCK or args.warmup % BLOCK or min(args.steps, args.warmup) <= 0:
        parser.error(f"--steps and --warmup must be positive multiples of {BLOCK}")

    total = args.warmup + args.steps
    config = load_config(overrides=[
        f"data.name={args.dataset}", f"loss.name={args.loss}", f"train.threads={args.threads}", "device=cpu",
        f"train.steps={total}", f"train.log_every={BLOCK}", f"eval.every={total + 1}", *args.set])
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    runs = []
    for i in range(args.repeats):
        runs.append(repetition(config, args.warmup, args.steps))
        print(f"rep {i + 1:2d}: ganbench {runs[-1]['ganbench_ms']:.3f} ms/step  plain {runs[-1]['plain_ms']:.3f} ms/step"
              f"  ratio {runs[-1]['ratio']:.3f}", flush=True)

    def median(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    ratios = [r["ratio"] for r in runs]
    q1, _, q3 = statistics.quantiles(ratios, n=4, method="inclusive") if len(runs) > 1 else (ratios[0],) * 3
    summary = {
        "dataset": args.dataset, "model": config.model.name, "loss": args.loss,
        "batch_size": config.train.batch_size, "disc_steps": config.train.disc_steps, "threads": args.threads,
        "steps": args.steps, "warmup": args.warmup, "repeats": args.repeats, "block": BLOCK,
        "median_ganbench_ms": median("ganbench_ms"), "median_plain_ms": median("plain_ms"),
        "median_ratio": median("ratio"), "ratio_iqr": [q1, q3], "target": TARGET, "met": median("ratio") <= TARGET,
        "load_before": load_before, "load_after": os.getloadavg(), "cpus": os.cpu_count(),
        "torch": torch.__version__, "python": platform.python_version(),
        "command": " ".join(["python", *sys.argv]), "runs": runs,
    }
    print(f"\n{'':9s} {'ms/step (median)':>16s}\n{'ganbench':9s} {summary['median_ganbench_ms']:16.3f}\n"
          f"{'plain':9s} {summary['median_plain_ms']:16.3f}\n"
          f"ratio ganbench/plain: median {summary['median_ratio']:.3f}, IQR {q1:.3f}-{q3:.3f}; "
          f"target <= {TARGET}: {'met' if summary['met'] else 'NOT met'}\n"
          f"load average (1 min) before {load_before[0]:.2f}, after {summary['load_after'][0]:.2f}")
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / f"step_time_{args.dataset}.json"
    path.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
