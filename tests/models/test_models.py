"""Contract tests over every model family and every data spec it supports."""

from __future__ import annotations

import pytest
import torch

from ganbench.config import ModelConfig
from ganbench.data import DataSpec
from ganbench.models import MODELS, DiscriminatorOutput
from ganbench.models.dcgan import upsamplings

SPECS = [DataSpec((2,)), DataSpec((1, 8, 8)), DataSpec((1, 28, 28)), DataSpec((3, 32, 32)), DataSpec((1, 64, 64)),
         DataSpec((3, 64, 64))]
EXPECTED_SUPPORT = {
    "mlp": {(2,)},
    "dcgan": {(1, 8, 8), (1, 28, 28), (3, 32, 32), (1, 64, 64), (3, 64, 64)},
    "infogan": {(1, 8, 8), (1, 28, 28), (3, 32, 32), (1, 64, 64), (3, 64, 64)},
    "began": {(2,), (1, 8, 8), (1, 28, 28), (3, 32, 32), (1, 64, 64), (3, 64, 64)},
}
SUPPORTED = [(n, s) for n in sorted(EXPECTED_SUPPORT) for s in SPECS if s.shape in EXPECTED_SUPPORT[n]]
CLASSES = 3
# Each D option appears at least once per model and spec, and with packing.
VARIANTS = [dict(d_norm="none", d_spectral_norm=False, pack=1), dict(d_norm="batch", d_spectral_norm=False, pack=2),
            dict(d_norm="layer", d_spectral_norm=True, pack=2)]


def test_every_model_declares_its_support():
    assert set(EXPECTED_SUPPORT) == set(MODELS.names())
    for name, model in MODELS.items():
        supported = {spec.shape for spec in SPECS if model.unsupported_reason(spec) is None}
        assert supported == EXPECTED_SUPPORT[name], name


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "-".join(f"{k}={x}" for k, x in v.items()))
@pytest.mark.parametrize(("name", "spec"), SUPPORTED, ids=str)
def test_output_shapes(name, spec, variant):
    torch.manual_seed(0)
    config = ModelConfig(name=name, latent_dim=5, g_width=8, d_width=8, **variant)
    generator, discriminator = MODELS.get(name).build(config, spec)
    batch = 4
    samples = generator(torch.randn(batch, config.latent_dim))
    assert samples.shape == (batch, *spec.shape)
    if spec.is_image:  # images live in [-1, 1]
        assert samples.abs().max() <= 1
    verdict = discriminator(samples)
    assert isinstance(verdict, DiscriminatorOutput)
    assert verdict.logits.shape == (batch // config.pack,)
    assert {k for k, v in vars(verdict).items() if v is not None} == MODELS.get(name).discriminator_outputs(config, 0)
    verdict.logits.sum().backward()
    assert all(p.grad is not None for p in generator.parameters())


CONDITIONAL = [(n, s) for n, s in SUPPORTED if MODELS.get(n).conditional_discriminator]


# The models whose D takes class labels (by projection or an auxiliary classifier); BEGAN's autoencoder D does not.
EXPECTED_CONDITIONAL = {"dcgan", "infogan", "mlp"}


def test_conditional_contract_runs_on_the_models_that_condition():
    assert {n for n, m in MODELS.items() if m.conditional_discriminator} == EXPECTED_CONDITIONAL
    assert {n for n, _ in CONDITIONAL} == EXPECTED_CONDITIONAL


@pytest.mark.parametrize("d_conditioning", ["projection", "classifier"])
@pytest.mark.parametrize("pack", [1, 2])
@pytest.mark.parametrize(("name", "spec"), CONDITIONAL, ids=str)
def test_conditional_outputs(name, spec, pack, d_conditioning):
    torch.manual_seed(0)
    config = ModelConfig(name=name, latent_dim=5, g_width=8, d_width=8, pack=pack, d_conditioning=d_conditioning)
    generator, discriminator = MODELS.get(name).build(config, spec, CLASSES)
    batch, labels = 4, torch.tensor([0, 1, 2, 1])
    z = torch.randn(batch, config.latent_dim)
    samples = generator(z, labels)
    assert samples.shape == (batch, *spec.shape)
    assert not torch.equal(generator.eval()(z, labels), generator(z, (labels + 1) % CLASSES))  # labels matter
    with pytest.raises(ValueError, match="conditional"):
        generator(z)
    verdict = discriminator(samples, labels)
    assert {k for k, v in vars(verdict).items() if v is not None} == \
        MODELS.get(name).discriminator_outputs(config, CLASSES)
    assert verdict.logits.shape == (batch // pack,) and torch.equal(verdict.labels, labels)
    if d_conditioning == "classifier":
        assert verdict.class_logits.shape == (batch, CLASSES)
    else:  # the projection term makes D's verdict depend on the labels
        with torch.no_grad():
            discriminator.projection.weight.normal_()
        assert not torch.equal(discriminator(samples, labels).logits, discriminator(samples, (labels + 1) % 3).logits)
    (verdict.logits.sum() + (0 if verdict.class_logits is None else verdict.class_logits.sum())).backward()
    assert generator.label_embedding.weight.grad.abs().sum() > 0


def test_spectral_norm_wraps_every_discriminator_layer():
    _, discriminator = MODELS.get("dcgan").build(ModelConfig(name="dcgan", d_spectral_norm=True), DataSpec((1, 28, 28)))
    layers = [m for m in discriminator.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert layers and all(hasattr(m, "parametrizations") for m in layers)


def test_batch_norm_switch_in_discriminator():
    for d_norm, present in (("batch", True), ("none", False)):
        _, discriminator = MODELS.get("infogan").build(ModelConfig(name="infogan", d_norm=d_norm), DataSpec((1, 8, 8)))
        assert any(isinstance(m, torch.nn.BatchNorm2d | torch.nn.BatchNorm1d) for m in discriminator.modules()) == present


def test_packing_concatenates_consecutive_samples():
    _, discriminator = MODELS.get("mlp").build(ModelConfig(name="mlp", pack=2, d_width=4), DataSpec((2,)))
    seen = []
    discriminator.features.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0]))
    x = torch.arange(8.0).reshape(4, 2)
    discriminator(x)
    assert torch.equal(seen[0], torch.tensor([[0.0, 1, 2, 3], [4, 5, 6, 7]]))


@pytest.mark.parametrize(("size", "n"), [(8, 1), (28, 2), (32, 3), (64, 4)])
def test_dcgan_upsamplings(size, n):
    assert upsamplings(size) == n


def test_lucic_widths_at_default_scale():
    generator, discriminator = MODELS.get("infogan").build(ModelConfig(name="infogan", g_width=64, d_width=64),
                                                           DataSpec((1, 28, 28)))
    convs = [m for m in discriminator.modules() if isinstance(m, torch.nn.Conv2d)]
    linears = [m for m in discriminator.modules() if isinstance(m, torch.nn.Linear)]
    assert [c.out_channels for c in convs] == [64, 128]
    assert [lin.out_features for lin in linears] == [1024, 1]
    assert [lin.out_features for lin in generator.modules() if isinstance(lin, torch.nn.Linear)] == [1024, 128 * 7 * 7]
