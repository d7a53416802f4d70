"""What every model family shares: D's output record, packing, norms, and the model registry."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ganbench.config import ModelConfig
from ganbench.data.spec import DataSpec
from ganbench.registry import Registry


@dataclass
class DiscriminatorOutput:
    """D's verdict on a batch: adversarial logits (one per D decision, i.e. per packed group),
    plus what auxiliary-classifier and autoencoding discriminators add."""

    logits: Tensor
    class_logits: Tensor | None = None
    reconstruction_error: Tensor | None = None


class Discriminator(nn.Module):
    """Base D: packs ``pack`` consecutive samples into one input (PacGAN), then runs ``body``.

    Subclasses build ``self.body`` for inputs with ``pack`` times the channels (or features).
    """

    def __init__(self, pack: int = 1) -> None:
        super().__init__()
        self.pack = pack

    def forward(self, x: Tensor, labels: Tensor | None = None) -> DiscriminatorOutput:
        # (B, C, ...) -> (B / pack, pack * C, ...): PacGAN concatenates samples along channels.
        packed = x.reshape(x.shape[0] // self.pack, self.pack * x.shape[1], *x.shape[2:])
        return DiscriminatorOutput(logits=self.body(packed).reshape(-1))


class Generator(nn.Module):
    """Base G: ``forward(z, labels=None) -> samples in [-1, 1]`` of the data spec's shape."""

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.body(z)


class GANModel:
    """A model family: builds a (generator, discriminator) pair sized from the data spec."""

    name: str = ""
    description: str = ""

    @classmethod
    def unsupported_reason(cls, spec: DataSpec) -> str | None:
        """Why this family cannot model data of this spec, or None if it can."""
        return None

    @classmethod
    def build(cls, config: ModelConfig, spec: DataSpec) -> tuple[Generator, Discriminator]:
        raise NotImplementedError


MODELS: Registry[type[GANModel]] = Registry("model", GANModel, key="model.name")


def norm_layer(kind: str, features: int, image: bool) -> nn.Module:
    """Batch, layer (GroupNorm(1) over C,H,W for images) or no normalisation."""
    if kind == "batch":
        return nn.BatchNorm2d(features) if image else nn.BatchNorm1d(features)
    if kind == "layer":
        return nn.GroupNorm(1, features) if image else nn.LayerNorm(features)
    return nn.Identity()


def apply_spectral_norm(module: nn.Module) -> nn.Module:
    """Wrap every linear and conv layer's weight in spectral normalisation (Miyato et al. 2018)."""
    for child in list(module.modules()):
        if isinstance(child, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.utils.parametrizations.spectral_norm(child)
    return module


def finish_discriminator(discriminator: Discriminator, config: ModelConfig) -> Discriminator:
    return apply_spectral_norm(discriminator) if config.d_spectral_norm else discriminator


def sample_latent(n: int, config: ModelConfig, device: torch.device | str = "cpu",
                  generator: torch.Generator | None = None) -> Tensor:
    """z ~ N(0, I) or U(-1, 1)^d, drawn on the CPU so that every device sees the same numbers."""
    if config.latent_distribution == "uniform":
        z = torch.rand(n, config.latent_dim, generator=generator) * 2 - 1
    else:
        z = torch.randn(n, config.latent_dim, generator=generator)
    return z.to(device)
