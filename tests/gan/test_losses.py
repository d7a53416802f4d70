"""Contract tests over every registered loss: finite scalars, gradients reach the right network,
and known values on fixed logits (computed here from the papers' formulas, not from the code)."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from ganbench.config import LossConfig
from ganbench.gan.losses import LOSSES
from ganbench.models.base import DiscriminatorOutput

REAL = [1.0, -0.5, 2.0]
FAKE = [0.2, -1.0, 0.7]
# What richer discriminators add (every loss gets them; most ignore them).
CLASS_LOGITS = {"real": [[2.0, 0.0, -1.0], [0.5, 0.5, 0.0], [-1.0, 3.0, 1.0]],
                "fake": [[0.0, 1.0, 0.0], [1.5, -0.5, 0.2], [0.3, 0.3, 2.0]]}
LABELS = {"real": [0, 2, 1], "fake": [1, 0, 0]}
ERRORS = {"real": [0.3, 0.1, 0.5], "fake": [0.6, 0.2, 0.4]}
CLASS_WEIGHT = 0.7


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


def log_sigmoid_mean(values) -> float:
    return mean(math.log(sigmoid(v)) for v in values)


def log_one_minus_sigmoid_mean(values) -> float:
    return mean(math.log(1 - sigmoid(v)) for v in values)


def cross_entropy(side: str) -> float:
    return mean(math.log(sum(math.exp(v) for v in row)) - row[label]
                for row, label in zip(CLASS_LOGITS[side], LABELS[side], strict=True))


MEAN_R, MEAN_F = mean(REAL), mean(FAKE)
NS_D, NS_G = -log_sigmoid_mean(REAL) - log_one_minus_sigmoid_mean(FAKE), -log_sigmoid_mean(FAKE)
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
    # ACGAN: non-saturating plus the weighted class term (D on both sides, G on its own samples).
    "auxiliary_classifier": (NS_D + CLASS_WEIGHT * (cross_entropy("real") + cross_entropy("fake")),
                             NS_G + CLASS_WEIGHT * cross_entropy("fake")),
    # BEGAN at its initial k = 0: L_D = L(x) - 0 * L(G(z)), L_G = L(G(z)).
    "boundary_equilibrium": (mean(ERRORS["real"]), mean(ERRORS["fake"])),
}


def outputs(values) -> DiscriminatorOutput:
    side = "real" if values is REAL else "fake"
    return DiscriminatorOutput(logits=torch.tensor(values, dtype=torch.float64),
                               class_logits=torch.tensor(CLASS_LOGITS[side], dtype=torch.float64),
                               reconstruction_error=torch.tensor(ERRORS[side], dtype=torch.float64),
                               labels=torch.tensor(LABELS[side]))


def make(name: str):
    return LOSSES.get(name)(LossConfig(name=name, class_weight=CLASS_WEIGHT))


def test_every_loss_has_known_values():
    assert set(KNOWN) == set(LOSSES.names())


@pytest.mark.parametrize("name", LOSSES.names())
def test_known_values(name):
    loss = make(name)
    expected_d, expected_g = KNOWN[name]
    assert float(loss.discriminator_loss(outputs(REAL), outputs(FAKE))) == pytest.approx(expected_d, rel=1e-9)
    assert float(loss.generator_loss(outputs(REAL), outputs(FAKE))) == pytest.approx(expected_g, rel=1e-9)


@pytest.mark.parametrize("name", LOSSES.names())
def test_gradients_reach_the_right_network(name):
    torch.manual_seed(0)
    generator = torch.nn.Linear(3, 2)
    discriminator = torch.nn.Linear(2, 1 + 3 + 2)  # logit, 3 class logits, a 2-D reconstruction
    loss = make(name)
    real, z, labels = torch.randn(8, 2), torch.randn(8, 3), torch.arange(8) % 3

    def judge(x):
        out = discriminator(x)
        return DiscriminatorOutput(logits=out[:, 0], class_logits=out[:, 1:4],
                                   reconstruction_error=(out[:, 4:] - x).abs().mean(1), labels=labels)

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
    loss = make(name)
    moved = outputs(REAL)
    moved.logits = moved.logits + 1.5  # other D(real), same D(fake)
    with_real = float(loss.generator_loss(outputs(REAL), outputs(FAKE)))
    if loss.generator_needs_real:  # the generator term really reads D(real): moving it moves the term
        assert float(loss.generator_loss(moved, outputs(FAKE))) != pytest.approx(with_real, rel=1e-6)
    else:  # the term ignores D(real) entirely, so the loop may skip that forward pass
        assert float(loss.generator_loss(None, outputs(FAKE))) == pytest.approx(KNOWN[name][1])
        assert float(loss.generator_loss(moved, outputs(FAKE))) == pytest.approx(with_real, rel=1e-12)


def test_the_relativistic_losses_declare_that_their_generator_needs_real():
    assert {name for name, cls in LOSSES.items() if cls.generator_needs_real} == {"relativistic",
                                                                                  "relativistic_average"}


@pytest.mark.parametrize("name", LOSSES.names())
def test_state_carries_what_the_next_step_depends_on(name):
    """A restored loss continues exactly like the one it was saved from; a loss that keeps no state says so."""
    trained = make(name)
    if name == "boundary_equilibrium":
        trained.load_state_dict({"k": 0.5})  # away from its clip at 0, so that steps move it
    real, fake = outputs(REAL), outputs(FAKE)
    for _ in range(3):
        trained.after_discriminator_step(real, fake)
    state = trained.state_dict()
    restored = make(name)
    restored.load_state_dict(copy.deepcopy(state))
    assert restored.after_discriminator_step(real, fake) == pytest.approx(trained.after_discriminator_step(real, fake))
    assert float(restored.discriminator_loss(real, fake)) == pytest.approx(float(trained.discriminator_loss(real, fake)))
    if state:
        assert state != make(name).state_dict()  # the steps above changed what is saved
    else:
        with pytest.raises(ValueError, match="keeps no state"):
            restored.load_state_dict({"k": 1.0})


def test_only_began_keeps_state():
    assert {name for name in LOSSES.names() if make(name).state_dict()} == {"boundary_equilibrium"}


def test_every_loss_declares_readable_requirements():
    fields = set(DiscriminatorOutput.__dataclass_fields__)
    for name, loss in LOSSES.items():
        assert loss.requires <= fields, name


def test_began_k_control_and_convergence_measure():
    config = LossConfig(name="boundary_equilibrium", began_gamma=0.5, began_lambda=0.1)
    loss = LOSSES.get("boundary_equilibrium")(config)
    real, fake = outputs(REAL), outputs(FAKE)  # L(x) = 0.3, L(G(z)) = 0.4
    balance = 0.5 * 0.3 - 0.4
    diagnostics = loss.after_discriminator_step(real, fake)
    assert loss.k == 0.0  # k + 0.1 * balance < 0: clipped at 0
    assert diagnostics == pytest.approx({"began_k": 0.0, "began_convergence": 0.3 + abs(balance)})
    loss.load_state_dict({"k": 0.5})
    loss.after_discriminator_step(real, fake)
    assert loss.k == pytest.approx(0.5 + 0.1 * balance)
    assert float(loss.discriminator_loss(real, fake)) == pytest.approx(0.3 - loss.k * 0.4)
    loss.load_state_dict({"k": 0.999})
    loss.after_discriminator_step(outputs(REAL), DiscriminatorOutput(logits=torch.zeros(3),
                                                                     reconstruction_error=torch.zeros(3)))
    assert loss.k == 1.0  # clipped at 1
    assert loss.state_dict() == {"k": 1.0}
