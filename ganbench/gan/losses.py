"""Adversarial losses on discriminator outputs (logits), one small class each.

A loss never sees a model or an optimizer: it gets D's outputs on a real and a fake batch. Both
terms receive both outputs so relativistic losses fit; ``generator_needs_real`` tells the loop
whether to pay for D(real) in the generator step; ``requires`` names the D outputs beyond logits it
reads (class logits and labels, a reconstruction error), which config validation checks the model gives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import torch.nn.functional as F
from torch import Tensor

from ganbench.models.base import DiscriminatorOutput
from ganbench.registry import Registry

if TYPE_CHECKING:
    from ganbench.config import LossConfig


class Loss:
    """Base class. Subclasses implement both terms; stateful losses override the state hooks."""

    name: str = ""
    generator_needs_real: bool = False
    requires: ClassVar[frozenset[str]] = frozenset()  # DiscriminatorOutput fields read besides logits

    def __init__(self, config: LossConfig) -> None:
        self.config = config

    def discriminator_loss(self, real: DiscriminatorOutput, fake: DiscriminatorOutput) -> Tensor:
        raise NotImplementedError

    def generator_loss(self, real: DiscriminatorOutput | None, fake: DiscriminatorOutput) -> Tensor:
        raise NotImplementedError

    def after_discriminator_step(self, real: DiscriminatorOutput, fake: DiscriminatorOutput) -> dict[str, float]:
        """Update internal state after a D step (BEGAN's k); returns diagnostics for the loop to log
        (averaged between records like the losses)."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state:
            raise ValueError(f"loss {self.name!r} keeps no state, got {sorted(state)}")


LOSSES: Registry[type[Loss]] = Registry("loss", Loss, key="loss.name")


@LOSSES.register("minimax")
class Minimax(Loss):
    """The original saturating game: G minimises log(1 - D(G(z)))."""

    def discriminator_loss(self, real: DiscriminatorOutput, fake: DiscriminatorOutput) -> Tensor:
        return F.softplus(-real.logits).mean() + F.softplus(fake.logits).mean()

    def generator_loss(self, real: DiscriminatorOutput | None, fake: DiscriminatorOutput) -> Tensor:
        return -F.softplus(fake.logits).mean()


@LOSSES.register("non_saturating")
class NonSaturating(Minimax):
    """Goodfellow et al.'s practical variant: G maximises log D(G(z))."""

    def generator_loss(self, real: DiscriminatorOutput | None, fake: DiscriminatorOutput) -> Tensor:
        return F.softplus(-fake.logits).mean()


@LOSSES.register("least_squares")
class LeastSquares(Loss):
    """LSGAN with targets a=0 (fake), b=1 (real), c=1 (what G wants)."""

    def discriminator_loss(self, real: DiscriminatorOutput, fake: DiscriminatorOutput) -> Tensor:
        return 0.5 * ((real.logits - 1).pow(2).mean() + fake.logits.pow(2).mean())

    def generator_loss(self, real: DiscriminatorOutput | None, fake: DiscriminatorOutput) -> Tensor:
        return 0.5 * (fake.logits - 1).pow(2).mean()


@LOSSES.register("wasserstein")
class Wasserstein(Loss):
    """The WGAN critic loss; needs a Lipschitz control (weight_clip or a gradient penalty)."""

    def discriminator_loss(self, real: DiscriminatorOutput, fake: DiscriminatorOutput) -> Tensor:
        return fake.logits.mean() - real.logits.mean()

    def generator_loss(self, real: DiscriminatorOutput | None, fake: DiscriminatorOutput) -> Tensor:
        return -fake.logits.mean()


@LOSSES.register("hinge")
class Hinge(Loss):
    """Hinge loss of Lim & Ye / Miyato et al. (SNGAN)."""

    def discriminator_loss(self, real: DiscriminatorOutput, fake: DiscriminatorOutput) -> Tensor:
        return F.relu(1 - real.logits).mean() + F.relu(1 + fake.logits).mean()

    def generator_loss(self, real: DiscriminatorOutput | None, fake: DiscriminatorOutput) -> Tensor:
        return -fake.logits.mean()


@LOSSES.register("relativistic")
class Relativistic(Loss):
    """RSGAN (Jolicoeur-Martineau 2018): D says how much more real a real sample is than a fake."""

    generator_needs_real = True

    def discriminator_loss(self, real: DiscriminatorOutput, fake: DiscriminatorOutput) -> Tensor:
        return F.softplus(-(real.logits - fake.logits)).mean()

    def generator_loss(self, real: DiscriminatorOutput | None, fake: DiscriminatorOutput) -> Tensor:
        assert real is not None
        return F.softplus(-(fake.logits - real.logits)).mean()


@LOSSES.register("relativistic_average")
class RelativisticAverage(Loss):
    """RaGAN: each sample is compared with the average of the other side."""

    generator_needs_real = True

    def discriminator_loss(self, real: DiscriminatorOutput, fake: DiscriminatorOutput) -> Tensor:
        real_vs_fake = real.logits - fake.logits.mean()
        fake_vs_real = fake.logits - real.logits.mean()
        return F.softplus(-real_vs_fake).mean() + F.softplus(fake_vs_real).mean()

    def generator_loss(self, real: DiscriminatorOutput | None, fake: DiscriminatorOutput) -> Tensor:
        assert real is not None
        real_vs_fake = real.logits - fake.logits.mean()
        fake_vs_real = fake.logits - real.logits.mean()
        return F.softplus(-fake_vs_real).mean() + F.softplus(real_vs_fake).mean()


@LOSSES.register("auxiliary_classifier")
class AuxiliaryClassifier(NonSaturating):
    """ACGAN (Odena et al. 2017): the non-saturating game plus a class term. D classifies real and fake
    samples; G wants its samples classified as the class it was asked for. Both terms weigh
    ``loss.class_weight``."""

    requires = frozenset({"class_logits", "labels"})

    def class_term(self, output: DiscriminatorOutput) -> Tensor:
        assert output.class_logits is not None and output.labels is not None, "ACGAN needs class logits and labels"
        return self.config.class_weight * F.cross_entropy(output.class_logits, output.labels)

    def discriminator_loss(self, real: DiscriminatorOutput, fake: DiscriminatorOutput) -> Tensor:
        return super().discriminator_loss(real, fake) + self.class_term(real) + self.class_term(fake)

    def generator_loss(self, real: DiscriminatorOutput | None, fake: DiscriminatorOutput) -> Tensor:
        return super().generator_loss(real, fake) + self.class_term(fake)


@LOSSES.register("boundary_equilibrium")
class BoundaryEquilibrium(Loss):
    """BEGAN (Berthelot et al. 2017) on an autoencoding D's reconstruction errors L:
    L_D = L(x) - k L(G(z)), L_G = L(G(z)), and after each D step
    k <- clip(k + lambda_k (gamma L(x) - L(G(z))), 0, 1). Reports k and the convergence measure
    M = L(x) + |gamma L(x) - L(G(z))|."""

    requires = frozenset({"reconstruction_error"})

    def __init__(self, config: LossConfig) -> None:
        super().__init__(config)
        self.k = 0.0

    @staticmethod
    def error(output: DiscriminatorOutput) -> Tensor:
        assert output.reconstruction_error is not None, "BEGAN needs an autoencoding discriminator"
        return output.reconstruction_error.mean()

    def discriminator_loss(self, real: DiscriminatorOutput, fake: DiscriminatorOutput) -> Tensor:
        return self.error(real) - self.k * self.error(fake)

    def generator_loss(self, real: DiscriminatorOutput | None, fake: DiscriminatorOutput) -> Tensor:
        return self.error(fake)

    def after_discriminator_step(self, real: DiscriminatorOutput, fake: DiscriminatorOutput) -> dict[str, float]:
        real_error, fake_error = float(self.error(real).detach()), float(self.error(fake).detach())
        balance = self.config.began_gamma * real_error - fake_error
        self.k = min(max(self.k + self.config.began_lambda * balance, 0.0), 1.0)
        return {"began_k": self.k, "began_convergence": real_error + abs(balance)}

    def state_dict(self) -> dict[str, Any]:
        return {"k": self.k}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.k = float(state["k"])


def build_loss(config: LossConfig) -> Loss:
    return LOSSES.get(config.name)(config)


