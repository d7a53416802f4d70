"""BEGAN's autoencoding discriminator (Berthelot et al. 2017): D reconstructs its input, and its
score is the reconstruction error. G is the DCGAN generator for images, the MLP one for points.

D = DCGAN encoder -> code -> DCGAN-style decoder (``d_width`` channels, ``d_norm``); for points,
maxout MLP encoder -> ``latent_dim`` code -> ReLU MLP decoder. The adversarial logits are the negated
error (higher = more real), so penalties and logs work as for any D.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

from torch import Tensor, nn

from ganbench.data.spec import DataSpec
from ganbench.models.base import (
    MODELS,
    Discriminator,
    DiscriminatorOutput,
    GANModel,
    Generator,
    finish_discriminator,
    norm_layer,
)
from ganbench.models.dcgan import DCGAN, DCGANGenerator, dcgan_encoder
from ganbench.models.mlp import DISCRIMINATOR_LAYERS, Maxout, MLPGenerator

if TYPE_CHECKING:
    from ganbench.config import ModelConfig

# D's code has at most one number per this many input values. The paper squeezes 64x64x3 faces through a
# 64-number code; a ``latent_dim`` (64) code on 8x8 digits is as wide as the image, so D could reconstruct
# anything, blank images best (L1 0.022 against 0.048 for real digits), and G drew blanks. An 8-number code
# reconstructs digits, not blanks. From 28x28 up, the code stays ``latent_dim`` wide.
CODE_COMPRESSION = 8


def code_size(config: ModelConfig, spec: DataSpec) -> int:
    """The width of an image D's code: ``latent_dim``, capped at one number per ``CODE_COMPRESSION`` inputs."""
    return max(1, min(config.latent_dim, math.prod(spec.shape) // CODE_COMPRESSION))


class AutoencodingDiscriminator(Discriminator):
    def __init__(self, config: ModelConfig, spec: DataSpec) -> None:
        super().__init__(config.pack)
        packed = DataSpec((spec.shape[0] * config.pack, *spec.shape[1:]))
        if spec.is_image:
            code = code_size(config, packed)
            encoder, feature_dim = dcgan_encoder(config, packed.shape[0], packed.shape[1])
            self.encoder = nn.Sequential(*encoder, nn.Linear(feature_dim, code))
            decoder_config = dataclasses.replace(config, latent_dim=code, g_width=config.d_width, g_norm=config.d_norm)
            self.decoder = DCGANGenerator(decoder_config, packed)  # packed channels x H x W in [-1, 1]
        else:
            code = config.latent_dim
            layers: list[nn.Module] = []
            width_in = packed.shape[0]
            for _ in range(DISCRIMINATOR_LAYERS):
                layers += [Maxout(width_in, config.d_width), norm_layer(config.d_norm, config.d_width, False)]
                width_in = config.d_width
            self.encoder = nn.Sequential(*layers, nn.Linear(width_in, code))
            self.decoder = nn.Sequential(nn.Linear(code, config.d_width), nn.ReLU(),
                                         nn.Linear(config.d_width, config.d_width), nn.ReLU(),
                                         nn.Linear(config.d_width, packed.shape[0]))

    def forward(self, x: Tensor, labels: Tensor | None = None) -> DiscriminatorOutput:
        packed = x.reshape(x.shape[0] // self.pack, self.pack * x.shape[1], *x.shape[2:])
        error = (self.decoder(self.encoder(packed)) - packed).abs().flatten(1).mean(dim=1)  # L1, per decision
        return DiscriminatorOutput(logits=-error, reconstruction_error=error, labels=labels)


@MODELS.register("began")
class BEGAN(GANModel):
    description = "BEGAN: autoencoding D (score = L1 reconstruction error); DCGAN G for images, MLP G for points"
    conditional_discriminator = False

    @classmethod
    def unsupported_reason(cls, spec: DataSpec) -> str | None:
        return None if len(spec.shape) == 1 else DCGAN.unsupported_reason(spec)

    @classmethod
    def discriminator_outputs(cls, config: ModelConfig, num_classes: int) -> set[str]:
        return {"logits", "reconstruction_error"} | ({"labels"} if num_classes else set())

    @classmethod
    def build(cls, config: ModelConfig, spec: DataSpec, num_classes: int = 0) -> tuple[Generator, Discriminator]:
        generator = DCGANGenerator(config, spec, num_classes) if spec.is_image else MLPGenerator(config, spec,
                                                                                                 num_classes)
        return generator, finish_discriminator(AutoencodingDiscriminator(config, spec), config)
