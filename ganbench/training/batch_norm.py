"""Re-estimating G's batch-norm population statistics before an evaluation, as PacGAN's monitor pass does."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from ganbench.models.init import BATCH_NORMS
from ganbench.training.steps import draw_fakes


@torch.no_grad()
def reestimate_batch_norm(generator: nn.Module, batches: int, latent: Callable[[], tuple[Tensor, Tensor | None]],
                          slots: int = 1) -> None:
    """Set every batch norm's running mean and variance to their average over ``batches`` batches drawn with G
    frozen (``latent()`` gives each batch's z and labels; ``slots`` G calls per batch, as in training).

    A cumulative average (PyTorch's ``momentum=None``) weighs every batch alike, so the result is the population
    estimate over those batches, whatever the statistics were before. The running variance is the mean of the
    batches' unbiased variances, as PyTorch's running statistics always are."""
    norms = [m for m in generator.modules() if isinstance(m, BATCH_NORMS) and m.track_running_stats]
    if not norms or batches == 0:
        return
    momenta, was_training = [m.momentum for m in norms], generator.training
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
    generator.train()
    try:
        for _ in range(batches):
            z, labels = latent()
            draw_fakes(generator, z, labels, slots)
    finally:
        for norm, momentum in zip(norms, momenta, strict=True):
            norm.momentum = momentum
        generator.train(was_training)
