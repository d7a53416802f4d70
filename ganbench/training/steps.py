"""One training step, alternating or simultaneous, and how a step's fakes are drawn and packed.

The loop hands a step its inputs through ``StepInputs`` (real batches and noise, drawn when the step asks, so that
the random streams are consumed in the same order as they always were) and records what the step returns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from ganbench.gan.constraints import Constraint
from ganbench.gan.losses import Loss
from ganbench.gan.penalties import Penalty
from ganbench.models.base import DiscriminatorOutput, discriminate, judges_each_sample_alone


@dataclass
class StepInputs:
    """``real()`` -> (real batch, labels D sees); ``latent()`` -> (z, labels G is asked for)."""

    real: Callable[[], tuple[Tensor, Tensor | None]]
    latent: Callable[[], tuple[Tensor, Tensor | None]]


@dataclass
class Players:
    """The networks, their objective and their optimizers, as one step uses them."""

    generator: nn.Module
    discriminator: nn.Module
    loss: Loss
    penalty: Penalty
    constraint: Constraint
    optimizer_g: torch.optim.Optimizer
    optimizer_d: torch.optim.Optimizer
    penalty_weight: float
    slots: int = 1          # G runs once per slot on z[k::slots] (PacGAN's packing); 1 = one call
    together: bool = False  # D judges real and fake in one pass (see ``discriminate``)


@dataclass
class StepResult:
    discriminator_loss: Tensor
    generator_loss: Tensor
    penalty: Tensor | float
    real_out: DiscriminatorOutput   # D on the last real batch
    fake_out: DiscriminatorOutput   # D on the fakes G's gradient came through
    diagnostics: list[dict[str, float]] = field(default_factory=list)  # one per D step


def generator_slots(generator: nn.Module, pack: int, pack_mode: str) -> int:
    """How many separate G calls fill a step's fakes. PacGAN runs G once per pack slot on ``batch_size`` noise
    vectors (``bricks.py``), so each call's batch norm sees ``batch_size`` samples; for a G without batch statistics
    one call over all of them computes the same."""
    if pack_mode != "pacgan" or pack == 1 or judges_each_sample_alone(generator):
        return 1
    return pack


def draw_fakes(generator: nn.Module, z: Tensor, labels: Tensor | None, slots: int) -> Tensor:
    """G(z), with slot k drawn by its own call on rows k, k + slots, ...: the packed input i (rows i*pack ... of the
    result, as D packs consecutive samples) then holds one sample of every call, as PacGAN's concatenation does."""
    if slots == 1:
        return generator(z, labels)
    calls = [generator(z[k::slots], None if labels is None else labels[k::slots]) for k in range(slots)]
    return torch.stack(calls, dim=1).flatten(0, 1)


def alternating_step(players: Players, inputs: StepInputs, disc_steps: int) -> StepResult:
    """``disc_steps`` D steps on fakes drawn without G's graph, then a G step on fresh noise through the updated D."""
    p = players
    diagnostics = []
    for _ in range(disc_steps):
        real, real_labels = inputs.real()
        z, fake_labels = inputs.latent()
        with torch.no_grad():
            fake = draw_fakes(p.generator, z, fake_labels, p.slots)
        real_out, fake_out = discriminate(p.discriminator, real, fake, real_labels, fake_labels, p.together)
        discriminator_loss = p.loss.discriminator_loss(real_out, fake_out)
        penalty = p.penalty(p.discriminator, real, fake, real_labels)  # interpolates take real labels
        p.optimizer_d.zero_grad(set_to_none=True)
        (discriminator_loss + p.penalty_weight * penalty).backward()
        p.optimizer_d.step()
        p.constraint.apply(p.discriminator)
        diagnostics.append(p.loss.after_discriminator_step(real_out, fake_out))

    # Freezing D keeps the generator step from computing D's weight gradients.
    p.discriminator.requires_grad_(False)
    z, fake_labels = inputs.latent()
    fake_out = p.discriminator(draw_fakes(p.generator, z, fake_labels, p.slots), fake_labels)
    real_out_g = None
    if p.loss.generator_needs_real:
        with torch.no_grad():
            real_out_g = p.discriminator(real, real_labels)
    generator_loss = p.loss.generator_loss(real_out_g, fake_out)
    p.optimizer_g.zero_grad(set_to_none=True)
    generator_loss.backward()
    p.optimizer_g.step()
    p.discriminator.requires_grad_(True)
    return StepResult(discriminator_loss, generator_loss, penalty, real_out, fake_out, diagnostics)


def simultaneous_step(players: Players, inputs: StepInputs) -> StepResult:
    """ALI's and PacGAN's update: one forward pass over a real batch and one set of fakes; D's gradient of its loss
    (plus penalty) and G's gradient of its loss, both through D's weights as they were before this step; then both
    optimizers step. A penalty sees the fakes detached: it is a D term."""
    p = players
    real, real_labels = inputs.real()
    z, fake_labels = inputs.latent()
    fake = draw_fakes(p.generator, z, fake_labels, p.slots)
    real_out, fake_out = discriminate(p.discriminator, real, fake, real_labels, fake_labels, p.together)
    discriminator_loss = p.loss.discriminator_loss(real_out, fake_out)
    generator_loss = p.loss.generator_loss(real_out, fake_out)
    penalty = p.penalty(p.discriminator, real, fake.detach(), real_labels)
    p.optimizer_d.zero_grad(set_to_none=True)
    p.optimizer_g.zero_grad(set_to_none=True)
    # Each loss reaches only its own player's parameters: both backward passes run before either optimizer moves.
    (discriminator_loss + p.penalty_weight * penalty).backward(
        inputs=[w for w in p.discriminator.parameters() if w.requires_grad], retain_graph=True)
    generator_loss.backward(inputs=[w for w in p.generator.parameters() if w.requires_grad])
    p.optimizer_d.step()
    p.optimizer_g.step()
    p.constraint.apply(p.discriminator)
    diagnostics = [p.loss.after_discriminator_step(real_out, fake_out)]
    return StepResult(discriminator_loss, generator_loss, penalty, real_out, fake_out, diagnostics)
