"""PacGAN's 2-D mixture networks: G 4x400 with batch norm and ReLU, D 3x200 maxout (5 pieces)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import Tensor, nn

from ganbench.data.spec import DataSpec
from ganbench.models.base import MODELS, Discriminator, GANModel, Generator, finish_discriminator, norm_layer

if TYPE_CHECKING:
    from ganbench.config import ModelConfig

GENERATOR_LAYERS = 4
DISCRIMINATOR_LAYERS = 3
MAXOUT_PIECES = 5


class Maxout(nn.Module):
    def __init__(self, in_features: int, out_features: int, pieces: int = MAXOUT_PIECES) -> None:
        super().__init__()
        self.pieces = pieces
        self.linear = nn.Linear(in_features, out_features * pieces)

    def forward(self, x: Tensor) -> Tensor:
        # max(dim).values, not amax: the same maximum, but its backward scatters into the argmax instead of
        # building float masks of ties (about a quarter of a 64-unit step on the CPU).
        return self.linear(x).unflatten(1, (-1, self.pieces)).max(dim=2).values


class MLPGenerator(Generator):
    def __init__(self, config: ModelConfig, spec: DataSpec, num_classes: int = 0) -> None:
        super().__init__(num_classes)
        layers: list[nn.Module] = []
        width_in = config.latent_dim + self.label_dim
        for _ in range(GENERATOR_LAYERS):
            layers += [nn.Linear(width_in, config.g_width), norm_layer(config.g_norm, config.g_width, False), nn.ReLU()]
            width_in = config.g_width
        layers.append(nn.Linear(width_in, spec.shape[0]))
        self.body = nn.Sequential(*layers)


class MLPDiscriminator(Discriminator):
    def __init__(self, config: ModelConfig, spec: DataSpec, num_classes: int = 0) -> None:
        super().__init__(config.pack)
        layers: list[nn.Module] = []
        width_in = spec.shape[0] * config.pack
        for _ in range(DISCRIMINATOR_LAYERS):
            layers += [Maxout(width_in, config.d_width), norm_layer(config.d_norm, config.d_width, False)]
            width_in = config.d_width
        self.features = nn.Sequential(*layers)
        self.add_heads(width_in, config, num_classes)


@MODELS.register("mlp")
class MLP(GANModel):
    description = "PacGAN-like MLP for 2-D points: G 4 x g_width BN+ReLU, D 3 x d_width maxout"

    @classmethod
    def unsupported_reason(cls, spec: DataSpec) -> str | None:
        return None if len(spec.shape) == 1 else f"expects points (a 1-D shape), got {spec.shape_text}"

    @classmethod
    def build(cls, config: ModelConfig, spec: DataSpec, num_classes: int = 0) -> tuple[Generator, Discriminator]:
        return (MLPGenerator(config, spec, num_classes),
                finish_discriminator(MLPDiscriminator(config, spec, num_classes), config))
