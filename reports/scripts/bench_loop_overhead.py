"""Microbenchmark: the per-step work ganbench's training loop does beyond a plain PyTorch loop.

Times each extra piece in isolation (ring8 settings, 1 thread) and sums them into microseconds per
step, an estimate of the loop's overhead that does not depend on the networks or on machine load
as much as an end-to-end comparison does (see bench_step_time.py).

    python reports/scripts/bench_loop_overhead.py
"""

from __future__ import annotations

import timeit
from collections.abc import Callable

import torch

from ganbench.config import load_config
from ganbench.data import ShuffledBatches
from ganbench.gan.penalties import NoPenalty
from ganbench.models.base import sample_latent
from ganbench.training.loop import LossWindow, build, grad_norm

LOG_EVERY = 50


def microseconds(f: Callable[[], object], number: int = 20_000) -> float:
    return min(timeit.repeat(f, number=number, repeat=5)) / number * 1e6


def main() -> None:
    torch.set_num_threads(1)
    config = load_config(overrides=["data.name=ring8", "device=cpu"])
    device = torch.device("cpu")
    parts = build(config, device)
    samples, labels = parts.dataset.load("train")
    batches = ShuffledBatches(samples, labels, config.train.batch_size, config.seed, device)
    order, position = torch.randperm(len(samples)), [0]

    def plain_batch() -> torch.Tensor:
        if position[0] + config.train.batch_size > len(samples):
            position[0] = 0
        position[0] += config.train.batch_size
        return samples[order[position[0] - config.train.batch_size:position[0]]]

    weight = torch.randn(10, requires_grad=True)
    penalty = NoPenalty()

    def loss_backward() -> None:
        (weight * 2).sum().backward()

    def loss_with_penalty_backward() -> None:
        ((weight * 2).sum() + 10.0 * penalty(parts.discriminator, weight, weight, None)).backward()

    window, losses = LossWindow(), [torch.tensor(1.0) for _ in range(3)]
    for parameter in [*parts.generator.parameters(), *parts.discriminator.parameters()]:
        parameter.grad = torch.randn_like(parameter)

    def log_record() -> None:
        window.flush()
        grad_norm(parts.discriminator)
        grad_norm(parts.generator)

    rows = {
        "ShuffledBatches.next vs plain indexing": microseconds(batches.next) - microseconds(plain_batch),
        "2 x sample_latent vs torch.randn": 2 * (microseconds(lambda: sample_latent(100, config.model, device))
                                                 - microseconds(lambda: torch.randn(100, config.model.latent_dim))),
        "NoPenalty term in the D loss (+ backward)": microseconds(loss_with_penalty_backward)
        - microseconds(loss_backward),
        "LossWindow.add (3 losses)": microseconds(lambda: window.add(d_loss=losses[0], g_loss=losses[1],
                                                                     penalty=losses[2])),
        f"log record (flush, grad norms) / {LOG_EVERY}": microseconds(log_record, 500) / LOG_EVERY,
    }
    for name, value in rows.items():
        print(f"{name:45s} {value:7.1f} us/step")
    print(f"{'total extra work per step':45s} {sum(rows.values()):7.1f} us/step")


if __name__ == "__main__":
    main()
