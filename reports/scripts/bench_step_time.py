"""Benchmark: ganbench's training step time vs a hand-written plain PyTorch GAN loop.

Both sides train the same G and D (built by ganbench's model registry from the same seed), with the
same loss, Adam settings, batch size, D steps per G step, data tensor and torch thread count. Only
the loop around them differs. Repetitions alternate (ABBA order, so drift cancels); each one builds
fresh networks, runs ``--warmup`` untimed steps, then times ``--steps`` steps. One-time setup (data
load, model build) and evaluation are outside the timed window: ganbench is timed with ``train()``'s
``progress`` callback (called every ``train.log_every`` steps) and stopped before its final evaluation.

    /work/venv/bin/python reports/scripts/bench_step_time.py --dataset ring8 --repeats 9 --steps 400

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
from ganbench.train import train

LOG_EVERY = 50  # ganbench's default train.log_every; the plain loop also reads its losses this often
OUT_DIR = Path(__file__).resolve().parents[1] / "perf"

# Hand-written losses on D's logits: (discriminator loss(real, fake), generator loss(fake)).
PLAIN_LOSSES: dict[str, tuple[Callable[[Tensor, Tensor], Tensor], Callable[[Tensor], Tensor]]] = {
    "non_saturating": (lambda r, f: F.softplus(-r).mean() + F.softplus(f).mean(), lambda f: F.softplus(-f).mean()),
    "hinge": (lambda r, f: F.relu(1 - r).mean() + F.relu(1 + f).mean(), lambda f: -f.mean()),
    "least_squares": (lambda r, f: 0.5 * ((r - 1).pow(2).mean() + f.pow(2).mean()), lambda f: 0.5 * (f - 1).pow(2).mean()),
}


class _WindowDone(Exception):
    """Raised from the progress callback to stop ``train()`` before its final evaluation."""


def clocks() -> tuple[float, float]:
    """(wall, CPU) seconds: CPU time is a cross-check that other processes on the machine barely move."""
    return time.perf_counter(), time.process_time()


def ms_per_step(start: tuple[float, float], end: tuple[float, float], steps: int) -> tuple[float, float]:
    return (end[0] - start[0]) / steps * 1e3, (end[1] - start[1]) / steps * 1e3


def ganbench_ms_per_step(config: Config, warmup: int, steps: int) -> tuple[float, float]:
    """(wall, CPU) ms per step of ``ganbench.train``, between its progress calls at ``warmup`` and the end."""
    marks: dict[int, tuple[float, float]] = {}

    def progress(step: int, record: dict[str, float]) -> None:
        marks[step] = clocks()
        if step == warmup + steps:
            raise _WindowDone

    try:
        train(config, progress=progress)
    except _WindowDone:
        pass
    return ms_per_step(marks[warmup], marks[warmup + steps], steps)


def plain_ms_per_step(config: Config, warmup: int, steps: int) -> tuple[float, float]:
    """(wall, CPU) ms per step of an idiomatic hand-written loop over the same networks, data and settings."""
    torch.manual_seed(config.seed)
    dataset = DATASETS.get(config.data.name)(config)
    generator, discriminator = MODELS.get(config.model.name).build(config.model, dataset.spec(config))
    data, _ = dataset.load("train")
    betas = (config.optim.beta1, config.optim.beta2)
    opt_g = torch.optim.Adam(generator.parameters(), lr=config.optim.lr_g, betas=betas)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=config.optim.lr_d, betas=betas)
    d_loss_fn, g_loss_fn = PLAIN_LOSSES[config.loss.name]
    batch, latent_dim, uniform = config.train.batch_size, config.model.latent_dim, \
        config.model.latent_distribution == "uniform"

    def noise() -> Tensor:
        return torch.rand(batch, latent_dim) * 2 - 1 if uniform else torch.randn(batch, latent_dim)

    order, position, start = torch.randperm(len(data)), 0, (0.0, 0.0)
    for step in range(1, warmup + steps + 1):
        for _ in range(config.train.disc_steps):
            if position + batch > len(data):
                order, position = torch.randperm(len(data)), 0
            real = data[order[position:position + batch]]
            position += batch
            with torch.no_grad():
                fake = generator(noise())
            d_loss = d_loss_fn(discriminator(real).logits, discriminator(fake).logits)
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
        discriminator.requires_grad_(False)  # as ganbench does: no D weight gradients in the G step
        g_loss = g_loss_fn(discriminator(generator(noise())).logits)
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        discriminator.requires_grad_(True)
        if step % LOG_EVERY == 0:
            _losses = (d_loss.item(), g_loss.item())  # what a researcher logs
            if step == warmup:
                start = clocks()
    return ms_per_step(start, clocks(), steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ring8", help="ring8 (mlp) or digits (infogan), or any dataset")
    parser.add_argument("--loss", default="non_saturating", choices=sorted(PLAIN_LOSSES))
    parser.add_argument("--steps", type=int, default=400, help="timed steps per repetition (multiple of 50)")
    parser.add_argument("--warmup", type=int, default=50, help="untimed steps first (multiple of 50)")
    parser.add_argument("--repeats", type=int, default=9, help="repetitions of each loop, interleaved")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads for both loops")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="extra config override")
    args = parser.parse_args()
    if args.steps % LOG_EVERY or args.warmup % LOG_EVERY or args.warmup < LOG_EVERY:
        parser.error(f"--steps and --warmup must be positive multiples of {LOG_EVERY}")

    total = args.warmup + args.steps
    config = load_config(overrides=[
        f"data.name={args.dataset}", f"loss.name={args.loss}", f"train.threads={args.threads}", "device=cpu",
        f"train.steps={total}", f"train.log_every={LOG_EVERY}", f"eval.every={total + 1}", *args.set])
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    runs: list[dict[str, float]] = []
    for i in range(args.repeats):
        run: dict[str, float] = {}
        for name in ("ganbench", "plain") if i % 2 == 0 else ("plain", "ganbench"):
            measure = ganbench_ms_per_step if name == "ganbench" else plain_ms_per_step
            run[f"{name}_ms"], run[f"{name}_cpu_ms"] = measure(config, args.warmup, args.steps)
        run["ratio"], run["cpu_ratio"] = run["ganbench_ms"] / run["plain_ms"], run["ganbench_cpu_ms"] / run["plain_cpu_ms"]
        runs.append(run)
        print(f"rep {i + 1:2d}: ganbench {run['ganbench_ms']:.3f} ms  plain {run['plain_ms']:.3f} ms  "
              f"ratio {run['ratio']:.3f}  (CPU-time ratio {run['cpu_ratio']:.3f})", flush=True)

    def median(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    def iqr(key: str) -> list[float]:
        return statistics.quantiles([r[key] for r in runs], n=4, method="inclusive")[::2]

    summary = {
        "dataset": args.dataset, "model": config.model.name, "loss": args.loss,
        "batch_size": config.train.batch_size, "disc_steps": config.train.disc_steps, "threads": args.threads,
        "steps": args.steps, "warmup": args.warmup, "repeats": args.repeats,
        **{f"median_{key}": median(key) for key in runs[0]}, "ratio_iqr": iqr("ratio"), "cpu_ratio_iqr": iqr("cpu_ratio"),
        "target": 1.03, "met": median("ratio") <= 1.03,
        "load_before": load_before, "load_after": os.getloadavg(), "cpus": os.cpu_count(),
        "torch": torch.__version__, "python": platform.python_version(),
        "command": " ".join(["/work/venv/bin/python", *sys.argv]), "runs": runs,
    }
    print(f"\n{'':9s} {'wall ms/step':>12s} {'CPU ms/step':>12s}")
    for name in ("ganbench", "plain"):
        print(f"{name:9s} {median(name + '_ms'):12.3f} {median(name + '_cpu_ms'):12.3f}")
    print(f"{'ratio':9s} {median('ratio'):12.3f} {median('cpu_ratio'):12.3f}   (median of per-repetition ratios)")
    print(f"{'IQR':9s} {'{:.3f}-{:.3f}'.format(*iqr('ratio')):>12s} {'{:.3f}-{:.3f}'.format(*iqr('cpu_ratio')):>12s}")
    print(f"target <= 1.03: {'met' if summary['met'] else 'NOT met'}; "
          f"load average before {load_before[0]:.2f}, after {summary['load_after'][0]:.2f}")
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / f"step_time_{args.dataset}.json"
    path.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
