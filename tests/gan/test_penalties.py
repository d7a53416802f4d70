"""Contract tests over every penalty, with known values on a linear D whose input gradient is known."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganbench.gan.penalties import PENALTIES
from ganbench.models.base import Discriminator

# D(x) = w . x with ||w|| = 5 has input gradient w everywhere.
KNOWN = {"none": 0.0, "gradient_penalty": (5 - 1) ** 2, "dragan": (5 - 1) ** 2, "r1": 0.5 * 5 ** 2}


class LinearD(Discriminator):
    def __init__(self, pack: int = 1) -> None:
        super().__init__(pack)
        self.features = nn.Identity()
        self.head = nn.Linear(2 * pack, 1, bias=False)
        with torch.no_grad():
            self.head.weight.copy_(torch.tensor([[3.0, 4.0] + [0.0, 0.0] * (pack - 1)]))


def test_every_penalty_has_known_values():
    assert set(KNOWN) == set(PENALTIES.names())


@pytest.mark.parametrize("pack", [1, 2])
@pytest.mark.parametrize("name", PENALTIES.names())
def test_known_values(name, pack):
    torch.manual_seed(0)
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    value = PENALTIES.get(name)()(LinearD(pack), real, fake, None)
    assert value.dim() == 0
    assert float(value) == pytest.approx(KNOWN[name], rel=1e-6)


@pytest.mark.parametrize("name", PENALTIES.names())
def test_gradients_reach_only_the_discriminator(name):
    torch.manual_seed(0)
    generator = nn.Linear(3, 2)
    discriminator = Discriminator()
    discriminator.features = nn.Sequential(nn.Linear(2, 8), nn.Tanh())
    discriminator.head = nn.Linear(8, 1)
    value = PENALTIES.get(name)()(discriminator, torch.randn(8, 2), generator(torch.randn(8, 3)), None)
    assert torch.isfinite(value)
    if name == "none":
        assert not value.requires_grad
        return
    value.backward()
    # Input gradients do not depend on the last bias, so check the weights.
    assert discriminator.features[0].weight.grad.abs().sum() > 0 and discriminator.head.weight.grad.abs().sum() > 0
    assert generator.weight.grad is None  # the fake batch enters detached
