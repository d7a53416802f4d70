"""PacGAN's protocol in the training step: packing as PacGAN packs, simultaneous updates, batch-norm re-estimation."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganbench.data import DATASETS
from ganbench.errors import ConfigError
from ganbench.gan.constraints import CONSTRAINTS
from ganbench.gan.losses import build_loss
from ganbench.gan.optim import build_optimizers
from ganbench.gan.penalties import PENALTIES
from ganbench.models import build_models
from ganbench.models.init import BATCH_NORMS
from ganbench.training.batch_norm import reestimate_batch_norm
from ganbench.training.loop import train
from ganbench.training.steps import Players, StepInputs, draw_fakes, simultaneous_step
from tests.conftest import tiny_config
from tests.training.test_loop import Recorder, assert_same_tensors


def networks(config):
    torch.manual_seed(0)
    return build_models(config, DATASETS.get(config.data.name)(config).spec(config))


@pytest.mark.parametrize(("pack_mode", "decisions", "g_calls", "g_rows"),
                         [("within_batch", 25, 1, 50), ("pacgan", 50, 2, 50)])
def test_decisions_and_samples_per_step_at_pack_2(pack_mode, decisions, g_calls, g_rows, monkeypatch):
    """One alternating step at batch 50: within the batch, D makes 25 decisions on 50 samples; PacGAN's way, D makes
    50 decisions on 100 samples, G drawing them in two calls of 50 (its batch norm sees 50, as PacGAN's does)."""
    config = tiny_config("train.steps=1", "eval.metrics=[]", "eval.select=", "model.pack=2",
                         f"model.pack_mode={pack_mode}")
    d_calls, g_rows_seen = [], []

    def spy(build):
        def built(*args):
            generator, discriminator = build(*args)
            discriminator.register_forward_hook(lambda m, args, out: d_calls.append((args[0].shape[0],
                                                                                      out.logits.shape[0])))
            generator.register_forward_hook(lambda m, args, out: m.training and g_rows_seen.append(out.shape[0]))
            return generator, discriminator
        return built

    monkeypatch.setattr("ganbench.training.loop.build_models", spy(build_models))
    train(config)
    # D step: real and fake in one pass; G step: the fakes alone.
    assert d_calls == [(4 * decisions, 2 * decisions), (2 * decisions, decisions)]
    assert g_rows_seen == [g_rows] * (2 * g_calls)


def test_pacgan_packing_puts_one_sample_of_every_generator_call_in_each_pack():
    calls = []
    generator = lambda z, labels: calls.append(z.clone()) or z * 10  # noqa: E731
    z = torch.arange(12.0).reshape(6, 2)
    fakes = draw_fakes(generator, z, None, slots=2)
    torch.testing.assert_close(fakes, z * 10)  # row i*2+k comes from call k, so the rows stay where z put them
    torch.testing.assert_close(calls[0], z[0::2])
    torch.testing.assert_close(calls[1], z[1::2])


def test_simultaneous_update_takes_both_gradients_from_one_pass_through_ds_pre_step_weights():
    config = tiny_config("train.update=simultaneous", "optim.lr_d=0.1")
    generator, discriminator = networks(config)
    optimizer_g, optimizer_d = build_optimizers(config.optim, generator, discriminator)
    players = Players(generator, discriminator, build_loss(config.loss), PENALTIES.get("none")(),
                      CONSTRAINTS.get("none")(config.loss), optimizer_g, optimizer_d, 0.0)
    torch.manual_seed(1)
    real, z = torch.randn(50, 2), torch.randn(50, 2)
    g_before, d_before = copy.deepcopy(generator), copy.deepcopy(discriminator)
    g_calls = []
    generator.register_forward_hook(lambda m, args, out: g_calls.append(out.detach().clone()))

    simultaneous_step(players, StepInputs(lambda: (real, None), lambda: (z, None)))

    # By hand: one set of fakes, D's loss on it for D, G's non-saturating loss through the same, pre-step D.
    fake = g_before(z)
    real_logits, fake_logits = d_before(real).logits, d_before(fake).logits
    d_loss = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
    d_grads = torch.autograd.grad(d_loss, list(d_before.parameters()), retain_graph=True)
    g_grads = torch.autograd.grad(F.softplus(-fake_logits).mean(), list(g_before.parameters()))
    assert len(g_calls) == 1
    torch.testing.assert_close(g_calls[0], fake.detach())
    for got, want in zip(discriminator.parameters(), d_grads, strict=True):
        torch.testing.assert_close(got.grad, want, rtol=1e-5, atol=1e-7)
    for got, want in zip(generator.parameters(), g_grads, strict=True):
        torch.testing.assert_close(got.grad, want, rtol=1e-5, atol=1e-7)
    # Both stepped, and G's gradient through the post-step D (what alternating would give) is another one.
    assert not torch.equal(discriminator.head.weight, d_before.head.weight)
    assert not torch.equal(generator.body[0].weight, g_before.body[0].weight)
    after = torch.autograd.grad(F.softplus(-discriminator(g_before(z)).logits).mean(), list(g_before.parameters()))
    assert not torch.allclose(after[-1], g_grads[-1], rtol=1e-2)


def test_simultaneous_updates_train_with_a_penalty_and_packing():
    result = train(tiny_config("train.update=simultaneous", "model.pack=2", "model.pack_mode=pacgan",
                               "loss.name=wasserstein", "loss.penalty=gradient_penalty"))
    assert result["diverged"] is False and result["steps"] == 20


def test_reestimated_statistics_equal_a_batch_computation():
    config = tiny_config()
    generator, _ = networks(config)
    norms = [m for m in generator.modules() if isinstance(m, BATCH_NORMS)]
    with torch.no_grad():  # running statistics far from G's: re-estimation must forget them
        generator(torch.randn(50, 2) * 30 + 7)
    torch.manual_seed(2)
    batches = [torch.randn(50, 2) for _ in range(5)]

    inputs: dict[nn.Module, list[torch.Tensor]] = {m: [] for m in norms}
    reference = copy.deepcopy(generator)
    for norm, copied in zip(norms, [m for m in reference.modules() if isinstance(m, BATCH_NORMS)], strict=True):
        copied.register_forward_hook(lambda m, args, out, norm=norm: inputs[norm].append(args[0].detach()))
    with torch.no_grad():
        for z in batches:
            reference(z)

    feed = iter(batches)
    generator.eval()
    reestimate_batch_norm(generator, len(batches), lambda: (next(feed), None))
    assert not generator.training
    for norm in norms:
        seen = torch.stack(inputs[norm])  # batches x 50 x features
        torch.testing.assert_close(norm.running_mean, seen.mean(dim=1).mean(dim=0))
        torch.testing.assert_close(norm.running_var, seen.var(dim=1, unbiased=True).mean(dim=0))
        assert norm.momentum == 0.1  # restored


def test_reestimation_changes_evaluations_but_not_training():
    plain, reestimated = Recorder(), Recorder()
    train(tiny_config(), plain)
    train(tiny_config("eval.bn_reestimate_batches=5"), reestimated)
    def weights(state):
        return {k: v for k, v in state["generator"].items() if "running" not in k and "num_batches" not in k}

    assert_same_tensors(weights(plain.states[-1]), weights(reestimated.states[-1]))
    assert_same_tensors(plain.states[-1]["discriminator"], reestimated.states[-1]["discriminator"])
    assert not torch.equal(plain.states[-1]["generator"]["body.1.running_mean"],
                           reestimated.states[-1]["generator"]["body.1.running_mean"])


def test_a_checkpoint_from_before_the_protocol_keys_resumes():
    from ganbench.training import checkpoint

    recorder = Recorder()
    config = tiny_config()
    train(config, recorder)
    state = recorder.states[0]
    for section, key in (("model", "init"), ("model", "pack_mode"), ("train", "update"), ("train", "compile"),
                         ("eval", "bn_reestimate_batches")):
        del state["config"][section][key]
    checkpoint.check_resumable(state, config)
    with pytest.raises(ConfigError, match="model.init: differs from the checkpoint"):
        checkpoint.check_resumable(state, tiny_config("model.init=normal_0.02"))
