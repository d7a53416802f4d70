"""Optimizers for G and D (separate learning rates) and an EMA copy of the generator."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from ganbench.config import OptimConfig


# Adam's fused kernel (one kernel over every parameter, instead of a Python loop of per-tensor ops) exists for
# these devices in torch >= 2.4; it computes the same update. RMSprop has no fused kernel: its foreach form is
# the multi-tensor one.
FUSED_ADAM_DEVICES = ("cpu", "cuda", "mps")


def build_optimizer(config: OptimConfig, parameters: list[nn.Parameter], lr: float) -> torch.optim.Optimizer:
    if config.name == "rmsprop":
        return torch.optim.RMSprop(parameters, lr=lr, foreach=True)
    fused = bool(parameters) and all(p.device.type in FUSED_ADAM_DEVICES and p.dtype.is_floating_point
                                     for p in parameters)
    return torch.optim.Adam(parameters, lr=lr, betas=(config.beta1, config.beta2), fused=fused or None,
                            foreach=None if fused else True)


def load_optimizer_state(optimizer: torch.optim.Optimizer, state: dict) -> None:
    """``load_state_dict``, keeping the kernel this optimizer was built with (the saved param groups carry the
    flags of whatever wrote them), so a resumed run steps as an uninterrupted one."""
    kernels = [(group.get("fused"), group.get("foreach")) for group in optimizer.param_groups]
    optimizer.load_state_dict(state)
    for group, (fused, foreach) in zip(optimizer.param_groups, kernels, strict=True):
        group["fused"], group["foreach"] = fused, foreach


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
