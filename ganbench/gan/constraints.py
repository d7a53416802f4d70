"""Constraints applied to D after each discriminator step (not losses)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from ganbench.registry import Registry

if TYPE_CHECKING:
    from ganbench.config import LossConfig


class Constraint:
    name: str = ""

    def __init__(self, config: LossConfig) -> None:
        self.config = config

    def apply(self, discriminator: nn.Module) -> None:
        raise NotImplementedError


CONSTRAINTS: Registry[type[Constraint]] = Registry("constraint", Constraint, key="loss.constraint")


@CONSTRAINTS.register("none")
class NoConstraint(Constraint):
    """No constraint."""

    def apply(self, discriminator: nn.Module) -> None:
        return None


@CONSTRAINTS.register("weight_clip")
class WeightClip(Constraint):
    """WGAN's weight clipping to [-c, c], c = ``loss.clip_value`` (Arjovsky et al.: 0.01)."""

    @torch.no_grad()
    def apply(self, discriminator: nn.Module) -> None:
        for parameter in discriminator.parameters():
            parameter.clamp_(-self.config.clip_value, self.config.clip_value)
