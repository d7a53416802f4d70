"""Discriminator penalties, orthogonal to the loss (compare_gan's penalty_lib).

A penalty gets D and both batches and returns an unweighted scalar; the loop multiplies it by
``loss.penalty_weight``. Gradient norms are taken per D decision, so a packed D (PacGAN) is
penalised per packed group, as the penalty's Lipschitz argument requires.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ganbench.models.base import DiscriminatorOutput
from ganbench.registry import Registry

Discriminator = Callable[..., DiscriminatorOutput]


class Penalty:
    """Base class: ``penalty(discriminator, real, fake, labels) -> scalar``."""

    name: str = ""
    # Per-sample penalties are wrong with batch norm in D (samples interact through batch stats).
    per_sample_gradient: bool = True

    def __call__(self, discriminator: Discriminator, real: Tensor, fake: Tensor, labels: Tensor | None) -> Tensor:
        raise NotImplementedError


PENALTIES: Registry[type[Penalty]] = Registry("penalty", Penalty, key="loss.penalty")


def _gradient_norms(discriminator: Discriminator, inputs: Tensor, labels: Tensor | None) -> Tensor:
    inputs = inputs.detach().requires_grad_(True)
    logits = discriminator(inputs, labels).logits
    (grad,) = torch.autograd.grad(logits.sum(), inputs, create_graph=True)
    return grad.reshape(logits.numel(), -1).norm(2, dim=1)


def _interpolate(a: Tensor, b: Tensor) -> Tensor:
    alpha = torch.rand((a.shape[0],) + (1,) * (a.dim() - 1), device=a.device, dtype=a.dtype)
    return a + alpha * (b - a)


@PENALTIES.register("none")
class NoPenalty(Penalty):
    """No penalty."""

    per_sample_gradient = False

    def __call__(self, discriminator: Discriminator, real: Tensor, fake: Tensor, labels: Tensor | None) -> Tensor:
        return real.new_zeros(())


@PENALTIES.register("gradient_penalty")
class GradientPenalty(Penalty):
    """WGAN-GP (Gulrajani et al. 2017): (||grad D(x_hat)|| - 1)^2 at real/fake interpolates."""

    def __call__(self, discriminator: Discriminator, real: Tensor, fake: Tensor, labels: Tensor | None) -> Tensor:
        norms = _gradient_norms(discriminator, _interpolate(real, fake.detach()), labels)
        return (norms - 1).pow(2).mean()


@PENALTIES.register("dragan")
class Dragan(Penalty):
    """DRAGAN (Kodali et al. 2017): the same penalty at reals perturbed by 0.5 * std(x) noise."""

    def __call__(self, discriminator: Discriminator, real: Tensor, fake: Tensor, labels: Tensor | None) -> Tensor:
        perturbed = real + 0.5 * real.std() * torch.rand_like(real)
        norms = _gradient_norms(discriminator, _interpolate(real, perturbed), labels)
        return (norms - 1).pow(2).mean()


@PENALTIES.register("r1")
class R1(Penalty):
    """R1 (Mescheder et al. 2018): 0.5 * ||grad D(x_real)||^2; the weight is gamma."""

    def __call__(self, discriminator: Discriminator, real: Tensor, fake: Tensor, labels: Tensor | None) -> Tensor:
        return 0.5 * _gradient_norms(discriminator, real, labels).pow(2).mean()
