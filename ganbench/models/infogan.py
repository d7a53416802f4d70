"""The InfoGAN-style network of Lucic et al. 2018 ("Are GANs Created Equal?", compare_gan v1).

D: conv64 4x4 s2, lrelu; conv128 4x4 s2 (+norm), lrelu; fc1024 (+norm), lrelu; fc1.
G: fc1024, BN, lrelu; fc 128*h/4*w/4, BN, lrelu; deconv64 4x4 s2, BN, lrelu; deconv c 4x4 s2.
The paper's G ends in a sigmoid for data in [0, 1]; ours ends in tanh because ganbench's data lives
in [-1, 1]. Widths scale with ``g_width`` / ``d_width`` (64 gives the paper's 64/128/1024).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import nn

from ganbench.data.spec import DataSpec
from ganbench.models.base import MODELS, Discriminator, GANModel, Generator, finish_discriminator, norm_layer

if TYPE_CHECKING:
    from ganbench.config import ModelConfig


class InfoGANGenerator(Generator):
    def __init__(self, config: ModelConfig, spec: DataSpec, num_classes: int = 0) -> None:
        super().__init__(num_classes)
        channels, height, width = spec.shape
        w = config.g_width
        self.body = nn.Sequential(
            nn.Linear(config.latent_dim + self.label_dim, 16 * w), norm_layer(config.g_norm, 16 * w, False),
            nn.LeakyReLU(0.2),
            nn.Linear(16 * w, 2 * w * (height // 4) * (width // 4)),
            norm_layer(config.g_norm, 2 * w * (height // 4) * (width // 4), False), nn.LeakyReLU(0.2),
            nn.Unflatten(1, (2 * w, height // 4, width // 4)),  # (2 g_width) x H/4 x W/4
            nn.ConvTranspose2d(2 * w, w, 4, 2, 1), norm_layer(config.g_norm, w, True), nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(w, channels, 4, 2, 1), nn.Tanh(),  # channels x H x W
        )


class InfoGANDiscriminator(Discriminator):
    def __init__(self, config: ModelConfig, spec: DataSpec, num_classes: int = 0) -> None:
        super().__init__(config.pack)
        channels, height, width = spec.shape
        w = config.d_width
        self.features = nn.Sequential(
            nn.Conv2d(channels * config.pack, w, 4, 2, 1), nn.LeakyReLU(0.2),  # (d_width) x H/2 x W/2
            nn.Conv2d(w, 2 * w, 4, 2, 1), norm_layer(config.d_norm, 2 * w, True), nn.LeakyReLU(0.2),
            nn.Flatten(),  # (2 d_width) x H/4 x W/4
            nn.Linear(2 * w * (height // 4) * (width // 4), 16 * w), norm_layer(config.d_norm, 16 * w, False),
            nn.LeakyReLU(0.2),
        )
        self.add_heads(16 * w, config, num_classes)


@MODELS.register("infogan")
class InfoGAN(GANModel):
    description = "Lucic et al. 2018's InfoGAN-style net (tanh output for [-1, 1] data)"

    @classmethod
    def unsupported_reason(cls, spec: DataSpec) -> str | None:
        if len(spec.shape) != 3 or spec.shape[1] % 4 or spec.shape[2] % 4:
            return f"expects C x H x W images with H and W divisible by 4, got {spec.shape_text}"
        return None

    @classmethod
    def build(cls, config: ModelConfig, spec: DataSpec, num_classes: int = 0) -> tuple[Generator, Discriminator]:
        return (InfoGANGenerator(config, spec, num_classes),
                finish_discriminator(InfoGANDiscriminator(config, spec, num_classes), config))
