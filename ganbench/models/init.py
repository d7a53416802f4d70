"""Weight init and batch-norm settings, applied to a built G or D of any family.

Applied after a family builds its networks, so that every family gets them without init code of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import nn
from torch.nn.utils import parametrize

if TYPE_CHECKING:
    from ganbench.config import ModelConfig

WEIGHTED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
NORMAL_STD = 0.02


def initialize(module: nn.Module, scheme: str) -> None:
    """``default``: leave PyTorch's per-layer init. ``normal_0.02``: every Linear and Conv weight from N(0, 0.02),
    every bias 0, as PacGAN's ``config.py`` (IsotropicGaussian(0.02), Constant(0)) and DCGAN do; norms, embeddings
    and the rest keep their own init (PacGAN's batch norm starts at scale 1, shift 0, as PyTorch's does)."""
    if scheme == "default":
        return
    for layer in module.modules():
        if not isinstance(layer, WEIGHTED):
            continue
        # Under spectral norm the trained tensor is the parametrization's original, not the computed weight.
        weight = layer.parametrizations.weight.original if parametrize.is_parametrized(layer, "weight") \
            else layer.weight
        nn.init.normal_(weight, mean=0.0, std=NORMAL_STD)
        if layer.bias is not None:
            nn.init.zeros_(layer.bias)


def configure_batch_norm(module: nn.Module, eps: float, momentum: float) -> None:
    """Every batch norm's eps and running-statistics momentum (torch: running = (1 - momentum) running +
    momentum batch, so PacGAN's ``0.05 m + 0.95 p`` is momentum 0.05)."""
    for layer in module.modules():
        if isinstance(layer, BATCH_NORMS):
            layer.eps, layer.momentum = eps, momentum


def apply_model_settings(module: nn.Module, config: ModelConfig) -> nn.Module:
    initialize(module, config.init)
    configure_batch_norm(module, config.bn_eps, config.bn_momentum)
    return module
