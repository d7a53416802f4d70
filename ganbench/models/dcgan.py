"""DCGAN (Radford et al. 2016) sized from the data spec: 8x8, 28x28, 32x32, 64x64; 1 or 3 channels.

The generator projects z to ``s0 x s0`` and doubles the resolution ``n`` times, where
``s0 = H / 2^n`` is the smallest size of at least 4 (8 -> 4, 28 -> 7, 32 -> 4, 64 -> 4).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import nn

from ganbench.data.spec import DataSpec
from ganbench.models.base import MODELS, Discriminator, GANModel, Generator, finish_discriminator, norm_layer

if TYPE_CHECKING:
    from ganbench.config import ModelConfig

SUPPORTED_SIZES = (8, 28, 32, 64)


def upsamplings(size: int) -> int:
    """How many stride-2 layers take the base resolution (>= 4) to ``size``."""
    n = 0
    while size % 2 == 0 and size // 2 >= 4:
        size //= 2
        n += 1
    return n


class DCGANGenerator(Generator):
    def __init__(self, config: ModelConfig, spec: DataSpec, num_classes: int = 0) -> None:
        super().__init__(num_classes)
        channels, size = spec.shape[0], spec.shape[1]
        n = upsamplings(size)
        base = size >> n
        width = config.g_width * 2 ** (n - 1)
        layers: list[nn.Module] = [
            nn.Linear(config.latent_dim + self.label_dim, width * base * base),
            nn.Unflatten(1, (width, base, base)),  # (g_width * 2^(n-1)) x s0 x s0
            norm_layer(config.g_norm, width, True), nn.ReLU(),
        ]
        for _ in range(n - 1):  # each block: (w) x s x s -> (w/2) x 2s x 2s
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                       norm_layer(config.g_norm, width // 2, True), nn.ReLU()]
            width //= 2
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1), nn.Tanh()]  # channels x H x W
        self.body = nn.Sequential(*layers)


def dcgan_encoder(config: ModelConfig, channels: int, size: int) -> tuple[nn.Sequential, int]:
    """DCGAN's D without its last layer: C x H x W -> a flat feature vector; returns it and its size."""
    n = upsamplings(size)
    width = config.d_width
    # No norm on the first layer, as in DCGAN.
    layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2)]  # (d_width) x H/2
    for _ in range(n - 1):  # (w) x s x s -> (2w) x s/2 x s/2
        layers += [nn.Conv2d(width, width * 2, 4, 2, 1), norm_layer(config.d_norm, width * 2, True),
                   nn.LeakyReLU(0.2)]
        width *= 2
    base = size >> n
    layers.append(nn.Flatten())  # (d_width * 2^(n-1)) * s0 * s0
    return nn.Sequential(*layers), width * base * base


class DCGANDiscriminator(Discriminator):
    def __init__(self, config: ModelConfig, spec: DataSpec, num_classes: int = 0) -> None:
        super().__init__(config.pack)
        self.features, feature_dim = dcgan_encoder(config, spec.shape[0] * config.pack, spec.shape[1])
        self.add_heads(feature_dim, config, num_classes)


@MODELS.register("dcgan")
class DCGAN(GANModel):
    description = "DCGAN conv G/D sized from the data (8/28/32/64 px, 1 or 3 channels)"

    @classmethod
    def unsupported_reason(cls, spec: DataSpec) -> str | None:
        if len(spec.shape) != 3 or spec.shape[1] != spec.shape[2] or spec.shape[1] not in SUPPORTED_SIZES:
            return f"expects square C x H x W images with H in {SUPPORTED_SIZES}, got {spec.shape_text}"
        return None

    @classmethod
    def build(cls, config: ModelConfig, spec: DataSpec, num_classes: int = 0) -> tuple[Generator, Discriminator]:
        return (DCGANGenerator(config, spec, num_classes),
                finish_discriminator(DCGANDiscriminator(config, spec, num_classes), config))
