from __future__ import annotations

import pytest
import torch
from torch import nn

from ganbench.config import LossConfig
from ganbench.constraints import CONSTRAINTS


@pytest.mark.parametrize("name", CONSTRAINTS.names())
def test_every_constraint_runs_and_keeps_shapes(name):
    module = nn.Linear(4, 3)
    shapes = [p.shape for p in module.parameters()]
    CONSTRAINTS.get(name)(LossConfig(constraint=name)).apply(module)
    assert [p.shape for p in module.parameters()] == shapes


def test_weight_clip_bounds_every_weight():
    module = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 1))
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0, 1)
    CONSTRAINTS.get("weight_clip")(LossConfig(constraint="weight_clip", clip_value=0.05)).apply(module)
    values = torch.cat([p.detach().flatten() for p in module.parameters()])
    assert float(values.abs().max()) == pytest.approx(0.05)
