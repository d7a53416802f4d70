"""Optimizers for G and D (separate learning rates) and an EMA copy of the generator."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from ganbench.config import OptimConfig


def build_optimizer(config: OptimConfig, parameters: list[nn.Parameter], lr: float) -> torch.optim.Optimizer:
    if config.name == "rmsprop":
        return torch.optim.RMSprop(parameters, lr=lr)
    return torch.optim.Adam(parameters, lr=lr, betas=(config.beta1, config.beta2))


def build_optimizers(config: OptimConfig, generator: nn.Module,
                     discriminator: nn.Module) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    return (build_optimizer(config, list(generator.parameters()), config.lr_g),
            build_optimizer(config, list(discriminator.parameters()), config.lr_d))


class GeneratorEMA:
    """An exponential moving average of G's weights (buffers such as BN statistics are copied)."""

    def __init__(self, generator: nn.Module, decay: float) -> None:
        self.decay = decay
        self.module = copy.deepcopy(generator).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, generator: nn.Module) -> None:
        for averaged, current in zip(self.module.parameters(), generator.parameters(), strict=True):
            averaged.lerp_(current, 1 - self.decay)
        for averaged, current in zip(self.module.buffers(), generator.buffers(), strict=True):
            averaged.copy_(current)
