"""Drawing samples for evaluation with noise of its own, and scoring them with the configured metrics.

The noise comes from a generator seeded by the config alone, so evaluating more or less often never
changes training, and every evaluation of a run scores the same z. A conditional G is asked for every
class equally (``balanced_labels``: 0, 1, ..., C-1, 0, ...), unless the caller names the labels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from ganbench.data.base import Dataset
from ganbench.metrics.base import METRICS, Metric
from ganbench.models.base import sample_latent
from ganbench.models.conditioning import balanced_labels

if TYPE_CHECKING:
    from ganbench.config import Config

EVAL_SEED_OFFSET = 1_000_003  # keeps evaluation noise apart from training noise of nearby seeds
CHUNK = 1000


def generation_labels(generator: nn.Module, n: int) -> Tensor | None:
    """The labels ``generate`` asks G for by default: balanced over its classes, or None if unconditional."""
    num_classes = getattr(generator, "num_classes", 0)
    return balanced_labels(n, num_classes) if num_classes else None


@torch.no_grad()
def generate(generator: nn.Module, config: Config, n: int, seed: int, device: torch.device,
             labels: Tensor | None = None) -> Tensor:
    """``n`` samples on the CPU, from G in eval mode (BN uses its running statistics); a conditional G
    gets ``labels`` (default: ``generation_labels``)."""
    noise = torch.Generator().manual_seed(seed)
    if labels is None:
        labels = generation_labels(generator, n)
    was_training = generator.training
    generator.eval()
    try:
        chunks = []
        for start in range(0, n, CHUNK):
            z = sample_latent(min(CHUNK, n - start), config.model, device, noise)
            chunk_labels = None if labels is None else labels[start:start + CHUNK].to(device)
            chunks.append(generator(z, chunk_labels).cpu())
    finally:
        generator.train(was_training)
    return torch.cat(chunks)


class Evaluator:
    """Scores a generator with every configured metric; real-side work happens once, here (or is
    handed in as ``real_sides``, by metric name, from a driver that prepared it)."""

    def __init__(self, dataset: Dataset, config: Config, device: torch.device,
                 real_sides: dict[str, Any] | None = None) -> None:
        self.config, self.device = config, device
        self.metrics: list[Metric] = []
        self.unavailable: dict[str, str] = {}  # metric -> why it cannot be computed here (never faked)
        for name in config.eval.metrics:
            metric = METRICS.get(name)
            reason = metric.unavailable_reason()
            if reason:
                self.unavailable[name] = reason
            else:
                self.metrics.append(metric(dataset, config, (real_sides or {}).get(name), device))

    @property
    def keys(self) -> set[str]:
        return {key for metric in self.metrics for key in metric.directions}

    @property
    def protocol(self) -> dict[str, Any]:
        return {metric.name: metric.protocol(self.config.eval.n_samples) for metric in self.metrics}

    def __call__(self, generator: nn.Module, prefix: str = "") -> dict[str, float]:
        if not self.metrics:
            return {}
        samples = generate(generator, self.config, self.config.eval.n_samples,
                           self.config.seed + EVAL_SEED_OFFSET, self.device)
        scores: dict[str, float] = {}
        for metric in self.metrics:
            scores.update(metric(samples))
        return {prefix + key: value for key, value in scores.items()}

    def worst(self) -> dict[str, float]:
        scores: dict[str, float] = {}
        for metric in self.metrics:
            scores.update(metric.worst())
        return scores
