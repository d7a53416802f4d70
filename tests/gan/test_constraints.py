from __future__ import annotations

import pytest
import torch
from torch import nn

from ganbench.config import LossConfig
from ganbench.gan.constraints import CONSTRAINTS


def _random_module() -> nn.Module:
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 1))
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0, 1)
    return module


def _values(module: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten().clone() for p in module.parameters()])


@pytest.mark.parametrize("name", CONSTRAINTS.names())
def test_every_constraint_is_a_projection(name):
    """Applying a constraint twice changes nothing more than applying it once (it runs after every D step)."""
    module = _random_module()
    CONSTRAINTS.get(name)(LossConfig(constraint=name, clip_value=0.3)).apply(module)
    once = _values(module)
    CONSTRAINTS.get(name)(LossConfig(constraint=name, clip_value=0.3)).apply(module)
    assert torch.equal(_values(module), once)


def test_no_constraint_leaves_d_untouched():
    module = _random_module()
    before = _values(module)
    CONSTRAINTS.get("none")(LossConfig()).apply(module)
    assert torch.equal(_values(module), before)


def test_weight_clip_moves_only_weights_outside_the_bound():
    module = _random_module()
    before = _values(module)
    CONSTRAINTS.get("weight_clip")(LossConfig(constraint="weight_clip", clip_value=0.3)).apply(module)
    after = _values(module)
    inside = before.abs() <= 0.3
    assert inside.any() and (~inside).any()
    assert torch.equal(after[inside], before[inside])
    assert torch.equal(after[~inside], 0.3 * before[~inside].sign())


def test_weight_clip_bounds_every_weight():
    module = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 1))
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0, 1)
    CONSTRAINTS.get("weight_clip")(LossConfig(constraint="weight_clip", clip_value=0.05)).apply(module)
    values = torch.cat([p.detach().flatten() for p in module.parameters()])
    assert float(values.abs().max()) == pytest.approx(0.05)
