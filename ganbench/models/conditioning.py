"""Class conditioning for a run: which labels G and D see, built once from the config and data spec.

The training loop asks a ``Conditioning`` for labels and never checks whether the run is conditional:
an unconditional run's ``Conditioning`` hands out None and draws no random numbers, so unconditional
runs are bitwise what they were before conditioning existed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from ganbench.data.spec import DataSpec
from ganbench.models.base import MODELS
from ganbench.models.init import apply_model_settings

if TYPE_CHECKING:
    from ganbench.config import Config


def conditioning_classes(config: Config, spec: DataSpec) -> int:
    """How many classes G and D are conditioned on: the data's classes if ``data.conditional``, else 0."""
    return spec.num_classes if config.data.conditional else 0


def build_models(config: Config, spec: DataSpec) -> tuple[nn.Module, nn.Module]:
    """The (generator, discriminator) pair of ``model.name``, conditioned, initialised and with batch norms set as
    the config says."""
    generator, discriminator = MODELS.get(config.model.name).build(config.model, spec,
                                                                   conditioning_classes(config, spec))
    return apply_model_settings(generator, config.model), apply_model_settings(discriminator, config.model)


def balanced_labels(n: int, num_classes: int) -> Tensor:
    """0, 1, ..., C-1, 0, 1, ...: the labels evaluations ask a conditional G for (every class equally)."""
    return torch.arange(n) % num_classes


class Conditioning:
    """Labels for the training loop: real labels pass through to D; fake labels are drawn uniformly over
    the classes from the training RNG (torch's global RNG, which checkpoints already save)."""

    def __init__(self, num_classes: int, device: torch.device | str = "cpu") -> None:
        self.num_classes, self.device = num_classes, device

    @classmethod
    def of(cls, config: Config, spec: DataSpec, device: torch.device | str = "cpu") -> Conditioning:
        return cls(conditioning_classes(config, spec), device)

    def real(self, labels: Tensor | None) -> Tensor | None:
        return labels if self.num_classes else None

    def sample(self, n: int) -> Tensor | None:
        if not self.num_classes:
            return None
        return torch.randint(self.num_classes, (n,)).to(self.device)  # on the CPU, like the latent

    def evaluation(self, n: int) -> Tensor | None:
        return balanced_labels(n, self.num_classes) if self.num_classes else None
