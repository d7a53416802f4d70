"""The faster training step computes what the plain one did: maxout by ``max`` instead of ``amax``, Adam's fused
kernel instead of its per-parameter loop, and one D pass over real and fake where D judges each sample alone.
Each is compared with the plain form it replaced; then a whole training step, new against old, for every model
family and a conditional, packed and penalised setup."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganbench.gan import optim
from ganbench.gan.optim import build_optimizer, load_optimizer_state
from ganbench.models import mlp
from ganbench.models.base import discriminate, judges_each_sample_alone
from ganbench.training.loop import train
from tests.conftest import tiny_config
from tests.training.test_loop import Recorder


def amax_maxout(self: mlp.Maxout, x: torch.Tensor) -> torch.Tensor:
    return self.linear(x).unflatten(1, (-1, self.pieces)).amax(dim=2)


def test_maxout_by_max_equals_amax_forward_and_backward():
    torch.manual_seed(0)
    layer, x = mlp.Maxout(6, 4), torch.randn(32, 6)
    outputs = []
    for forward in (mlp.Maxout.forward, amax_maxout):
        layer.zero_grad()
        out = forward(layer, x)
        (out ** 2).sum().backward()
        outputs.append((out.detach(), layer.linear.weight.grad.clone()))
    assert torch.equal(outputs[0][0], outputs[1][0])
    torch.testing.assert_close(outputs[0][1], outputs[1][1], rtol=0, atol=0)  # no ties: the same argmax gets it


def test_adam_is_fused_and_steps_as_the_per_parameter_loop():
    config = tiny_config().optim
    torch.manual_seed(0)
    fused_net = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 1))
    plain_net = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 1))
    plain_net.load_state_dict(fused_net.state_dict())
    fused = build_optimizer(config, list(fused_net.parameters()), 1e-3)
    plain = torch.optim.Adam(plain_net.parameters(), lr=1e-3, betas=(config.beta1, config.beta2), foreach=False)
    assert fused.param_groups[0]["fused"] is True
    for _ in range(5):
        batch = torch.randn(16, 5)
        for net, optimizer in ((fused_net, fused), (plain_net, plain)):
            optimizer.zero_grad()
            net(batch).pow(2).mean().backward()
            optimizer.step()
    for a, b in zip(fused_net.parameters(), plain_net.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)


def test_a_resumed_optimizer_keeps_its_kernel_whatever_wrote_the_state():
    net = nn.Linear(3, 1)
    old = torch.optim.Adam(net.parameters())  # as ganbench <= 0.2 built it
    net(torch.randn(4, 3)).sum().backward()
    old.step()
    resumed = build_optimizer(tiny_config().optim, list(net.parameters()), 1e-3)
    load_optimizer_state(resumed, old.state_dict())
    assert resumed.param_groups[0]["fused"] is True


@pytest.mark.parametrize("overrides", [(), ("model.pack=2",), ("data.conditional=true",),
                                       ("data.conditional=true", "model.d_conditioning=classifier",
                                        "loss.name=auxiliary_classifier"),
                                       ("model.name=began", "loss.name=boundary_equilibrium")])
def test_one_pass_over_real_and_fake_equals_two(overrides):
    from ganbench.data import DATASETS
    from ganbench.models import build_models

    config = tiny_config(*overrides)
    spec = DATASETS.get(config.data.name)(config).spec(config)
    torch.manual_seed(0)
    _, discriminator = build_models(config, spec)
    assert judges_each_sample_alone(discriminator)
    real, fake = torch.randn(8, *spec.shape), torch.randn(8, *spec.shape)
    labels = (torch.randint(0, spec.num_classes, (8,)), torch.randint(0, spec.num_classes, (8,))) \
        if spec.num_classes and config.data.conditional else (None, None)
    together = discriminate(discriminator, real, fake, *labels, together=True)
    apart = discriminate(discriminator, real, fake, *labels, together=False)
    for one, two in zip(together, apart, strict=True):
        for field in ("logits", "class_logits", "reconstruction_error", "labels"):
            a, b = getattr(one, field), getattr(two, field)
            assert (a is None) == (b is None), field
            if a is not None:
                torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("overrides", [("model.d_norm=batch",), ("model.d_spectral_norm=true",)])
def test_a_discriminator_with_batch_statistics_or_per_call_state_is_judged_in_two_passes(overrides):
    from ganbench.data import DATASETS
    from ganbench.models import build_models

    config = tiny_config(*overrides)
    _, discriminator = build_models(config, DATASETS.get(config.data.name)(config).spec(config))
    assert not judges_each_sample_alone(discriminator)


@pytest.mark.parametrize("overrides", [(), ("model.pack=2", "loss.penalty=gradient_penalty", "loss.name=wasserstein"),
                                       ("optim.ema=0.9",), ("model.name=began", "loss.name=boundary_equilibrium")])
def test_a_training_step_updates_the_parameters_as_the_plain_step_did(overrides, monkeypatch):
    """One step, new against old (amax maxout, Adam's per-parameter loop, two D passes). Adam's moments after
    the step are the step's gradients (m = (1 - beta1) g, v = (1 - beta2) g^2): they agree within float
    tolerance. So do the updated parameters, wherever the gradient is well above Adam's eps: where it is not
    (a bias before a batch norm, whose true gradient is zero, or terms that cancel), Adam's first update
    lr * g / (|g| + eps) turns rounding noise into a step of up to lr in either form."""
    config = tiny_config("train.steps=1", "eval.every=1", *overrides)
    new = Recorder()
    train(config, new)
    with monkeypatch.context() as patched:
        patched.setattr(mlp.Maxout, "forward", amax_maxout)
        patched.setattr(optim.torch.optim, "Adam", _plain_adam)
        patched.setattr("ganbench.training.loop.judges_each_sample_alone", lambda d: False)
        old = Recorder()
        train(config, old)
    (after, before), compared = (new.states[-1], old.states[-1]), 0
    for part, optimizer in (("generator", "optimizer_g"), ("discriminator", "optimizer_d")):
        names = [k for k, v in after[part].items() if v.is_floating_point() and "running_" not in k]
        moments_new, moments_old = after[optimizer]["state"], before[optimizer]["state"]
        for index, name in enumerate(names):
            torch.testing.assert_close(moments_new[index]["exp_avg"], moments_old[index]["exp_avg"],
                                       rtol=1e-4, atol=1e-7)
            torch.testing.assert_close(moments_new[index]["exp_avg_sq"], moments_old[index]["exp_avg_sq"],
                                       rtol=1e-4, atol=1e-10)
            gradient = moments_old[index]["exp_avg"] / (1 - config.optim.beta1)
            clear = gradient.abs() > 1e-5
            torch.testing.assert_close(after[part][name][clear], before[part][name][clear], rtol=1e-5, atol=1e-6)
            compared += int(clear.sum())
    assert compared > 1000


_ADAM = torch.optim.Adam


def _plain_adam(params, **options):
    return _ADAM(params, **{**options, "fused": None, "foreach": False})
