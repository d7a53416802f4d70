"""Contract tests over every registered loss: finite scalars, gradients reach the right network,
and known values on fixed logits (computed here from the papers' formulas, not from the code)."""

from __future__ import annotations

import math

import pytest
import torch

from ganbench.config import LossConfig
from ganbench.losses import LOSSES
from ganbench.models.base import DiscriminatorOutput

REAL = [1.0, -0.5, 2.0]
FAKE = [0.2, -1.0, 0.7]


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


def log_sigmoid_mean(values) -> float:
    return mean(math.log(sigmoid(v)) for v in values)


def log_one_minus_sigmoid_mean(values) -> float:
    return mean(math.log(1 - sigmoid(v)) for v in values)


MEAN_R, MEAN_F = mean(REAL), mean(FAKE)
# name -> (discriminator loss, generator loss) on (REAL, FAKE), from each paper's definition.
KNOWN = {
    "minimax": (-log_sigmoid_mean(REAL) - log_one_minus_sigmoid_mean(FAKE), log_one_minus_sigmoid_mean(FAKE)),
    "non_saturating": (-log_sigmoid_mean(REAL) - log_one_minus_sigmoid_mean(FAKE), -log_sigmoid_mean(FAKE)),
    "least_squares": (0.5 * (mean((r - 1) ** 2 for r in REAL) + mean(f ** 2 for f in FAKE)),
                      0.5 * mean((f - 1) ** 2 for f in FAKE)),
    "wasserstein": (MEAN_F - MEAN_R, -MEAN_F),
    "hinge": (mean(max(0.0, 1 - r) for r in REAL) + mean(max(0.0, 1 + f) for f in FAKE), -MEAN_F),
    "relativistic": (-log_sigmoid_mean(r - f for r, f in zip(REAL, FAKE, strict=True)),
                     -log_sigmoid_mean(f - r for r, f in zip(REAL, FAKE, strict=True))),
    "relativistic_average": (
        -log_sigmoid_mean(r - MEAN_F for r in REAL) - log_one_minus_sigmoid_mean(f - MEAN_R for f in FAKE),
        -log_sigmoid_mean(f - MEAN_R for f in FAKE) - log_one_minus_sigmoid_mean(r - MEAN_F for r in REAL),
    ),
}


def outputs(values) -> DiscriminatorOutput:
    return DiscriminatorOutput(logits=torch.tensor(values, dtype=torch.float64))


def test_every_loss_has_known_values():
    assert set(KNOWN) == set(LOSSES.names())


@pytest.mark.parametrize("name", LOSSES.names())
def test_known_values(name):
    loss = LOSSES.get(name)(LossConfig(name=name))
    expected_d, expected_g = KNOWN[name]
    assert float(loss.discriminator_loss(outputs(REAL), outputs(FAKE))) == pytest.approx(expected_d, rel=1e-9)
    assert float(loss.generator_loss(outputs(REAL), outputs(FAKE))) == pytest.approx(expected_g, rel=1e-9)


@pytest.mark.parametrize("name", LOSSES.names())
def test_gradients_reach_the_right_network(name):
    torch.manual_seed(0)
    generator = torch.nn.Linear(3, 2)
    discriminator = torch.nn.Linear(2, 1)
    loss = LOSSES.get(name)(LossConfig(name=name))
    real, z = torch.randn(8, 2), torch.randn(8, 3)

    def judge(x):
        return DiscriminatorOutput(logits=discriminator(x).reshape(-1))

    d_loss = loss.discriminator_loss(judge(real), judge(generator(z).detach()))
    assert d_loss.dim() == 0 and torch.isfinite(d_loss)
    d_loss.backward()
    assert discriminator.weight.grad is not None and discriminator.weight.grad.abs().sum() > 0
    assert generator.weight.grad is None

    discriminator.zero_grad()
    discriminator.requires_grad_(False)
    real_out = judge(real) if loss.generator_needs_real else None
    g_loss = loss.generator_loss(real_out, judge(generator(z)))
    assert g_loss.dim() == 0 and torch.isfinite(g_loss)
    g_loss.backward()
    assert generator.weight.grad is not None and generator.weight.grad.abs().sum() > 0
    assert discriminator.weight.grad is None or discriminator.weight.grad.abs().sum() == 0


@pytest.mark.parametrize("name", LOSSES.names())
def test_generator_needs_real_is_declared_truthfully(name):
    loss = LOSSES.get(name)(LossConfig(name=name))
    if not loss.generator_needs_real:  # the generator term must then ignore D(real) entirely
        assert float(loss.generator_loss(None, outputs(FAKE))) == pytest.approx(KNOWN[name][1])


@pytest.mark.parametrize("name", LOSSES.names())
def test_state_round_trips(name):
    loss = LOSSES.get(name)(LossConfig(name=name))
    state = loss.state_dict()
    loss.load_state_dict(state)
    assert loss.state_dict() == state
