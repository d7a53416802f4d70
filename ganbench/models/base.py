"""What every model family shares: D's output record, packing, conditioning heads, norms, and the
model registry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from ganbench.data.spec import DataSpec
from ganbench.registry import Registry

if TYPE_CHECKING:
    from ganbench.config import ModelConfig

MAX_LABEL_DIM = 64  # G's label embedding: one dimension per class, up to this many


@dataclass
class DiscriminatorOutput:
    """D's verdict on a batch: adversarial logits (one per D decision, i.e. per packed group),
    plus what auxiliary-classifier and autoencoding discriminators add. ``class_logits`` are per
    sample (B x classes); ``labels`` are the labels D was shown (None when unconditional), carried
    here so that a loss's class term sees them without seeing the data."""

    logits: Tensor
    class_logits: Tensor | None = None
    reconstruction_error: Tensor | None = None
    labels: Tensor | None = None

    def split(self, samples: int, pack: int) -> tuple[DiscriminatorOutput, DiscriminatorOutput]:
        """The verdicts on the first ``samples`` inputs and on the rest (``pack`` samples per decision)."""
        def halves(tensor: Tensor | None, at: int) -> tuple[Tensor | None, Tensor | None]:
            return (None, None) if tensor is None else (tensor[:at], tensor[at:])

        decisions = samples // pack
        logits, class_logits = halves(self.logits, decisions), halves(self.class_logits, samples)
        errors, labels = halves(self.reconstruction_error, decisions), halves(self.labels, samples)
        return tuple(DiscriminatorOutput(logits[i], class_logits[i], errors[i], labels[i]) for i in (0, 1))


class Discriminator(nn.Module):
    """Base D: packs ``pack`` consecutive samples into one input (PacGAN), maps them to a feature
    vector with ``features``, then scores it with ``head``.

    Subclasses build ``self.features`` for inputs with ``pack`` times the channels (or features), then
    call ``add_heads``. With labels, D either adds a projection term (Miyato & Koyama 2018) to its
    logits or classifies each sample with an auxiliary head (ACGAN, Odena et al. 2017).
    """

    def __init__(self, pack: int = 1) -> None:
        super().__init__()
        self.pack = pack
        self.projection: nn.Embedding | None = None
        self.class_head: nn.Linear | None = None

    def add_heads(self, feature_dim: int, config: ModelConfig, num_classes: int = 0) -> None:
        self.head = nn.Linear(feature_dim, 1)
        if num_classes and config.d_conditioning == "projection":
            self.projection = nn.Embedding(num_classes, feature_dim)
            nn.init.normal_(self.projection.weight, std=0.02)
        elif num_classes and config.d_conditioning == "classifier":
            self.class_head = nn.Linear(feature_dim, num_classes * self.pack)  # one verdict per packed sample

    def forward(self, x: Tensor, labels: Tensor | None = None) -> DiscriminatorOutput:
        # (B, C, ...) -> (B / pack, pack * C, ...): PacGAN concatenates samples along channels.
        packed = x.reshape(x.shape[0] // self.pack, self.pack * x.shape[1], *x.shape[2:])
        features = self.features(packed)
        logits = self.head(features).reshape(-1)
        if self.projection is not None and labels is not None:
            # A packed decision sees every label of its group: the projections add up.
            embedded = self.projection(labels.reshape(-1, self.pack)).sum(dim=1)
            logits = logits + (embedded * features).sum(dim=1)
        class_logits = None
        if self.class_head is not None:
            class_logits = self.class_head(features).reshape(x.shape[0], -1)
        return DiscriminatorOutput(logits=logits, class_logits=class_logits, labels=labels)


# Layers whose output on a sample depends on the rest of its batch, or that change state or draw random numbers on
# every call: one pass over real and fake together would not compute what two passes do.
BATCH_COUPLED = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm, nn.Dropout, nn.Dropout1d,
                 nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout)


def judges_each_sample_alone(discriminator: nn.Module) -> bool:
    """Whether D's verdict on a sample is independent of what else is in its batch and of how often D is called:
    no batch statistics, no dropout, no parametrization (spectral norm runs a power iteration per call)."""
    return not any(isinstance(m, BATCH_COUPLED) or parametrize.is_parametrized(m) for m in discriminator.modules())


def discriminate(discriminator: nn.Module, real: Tensor, fake: Tensor, real_labels: Tensor | None,
                 fake_labels: Tensor | None, together: bool) -> tuple[DiscriminatorOutput, DiscriminatorOutput]:
    """D's verdicts on a real and a fake batch: in one pass over both when ``together`` (half the kernel launches,
    larger GEMMs), which needs ``judges_each_sample_alone``; else in two."""
    if not together:
        return discriminator(real, real_labels), discriminator(fake, fake_labels)
    labels = None if real_labels is None else torch.cat([real_labels, fake_labels])
    return discriminator(torch.cat([real, fake]), labels).split(real.shape[0], discriminator.pack)


class Generator(nn.Module):
    """Base G: ``forward(z, labels=None) -> samples in [-1, 1]`` of the data spec's shape.

    A conditional G (``num_classes > 0``) appends a learned label embedding to z (Mirza & Osindero
    2014); subclasses size their first layer for ``latent_dim + label_dim`` inputs.
    """

    def __init__(self, num_classes: int = 0) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.label_dim = min(num_classes, MAX_LABEL_DIM)
        self.label_embedding = nn.Embedding(num_classes, self.label_dim) if num_classes else None

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        if self.label_embedding is not None:
            if labels is None:
                raise ValueError(f"this generator is conditional on {self.num_classes} classes: pass labels")
            z = torch.cat([z, self.label_embedding(labels)], dim=1)
        return self.body(z)


class GANModel:
    """A model family: builds a (generator, discriminator) pair sized from the data spec.

    ``build(config, spec, num_classes)`` conditions both networks on ``num_classes`` labels (0: none).
    """

    name: str = ""
    description: str = ""
    # Whether D can use labels (projection or class head); a D that cannot makes conditioning pointless.
    conditional_discriminator: ClassVar[bool] = True

    @classmethod
    def unsupported_reason(cls, spec: DataSpec) -> str | None:
        """Why this family cannot model data of this spec, or None if it can."""
        return None

    @classmethod
    def discriminator_outputs(cls, config: ModelConfig, num_classes: int) -> set[str]:
        """The DiscriminatorOutput fields this family's D fills under this config."""
        outputs = {"logits"}
        if num_classes:
            outputs.add("labels")
            if config.d_conditioning == "classifier":
                outputs.add("class_logits")
        return outputs

    @classmethod
    def build(cls, config: ModelConfig, spec: DataSpec, num_classes: int = 0) -> tuple[Generator, Discriminator]:
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
