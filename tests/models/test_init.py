"""model.init and the batch-norm settings reach every layer of G and D, in every model family."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganbench.data import DATASETS
from ganbench.models import build_models
from ganbench.models.init import BATCH_NORMS, WEIGHTED
from tests.conftest import tiny_config

FAMILIES = [("mlp",), ("model.name=dcgan", "data.name=fake", "data.shape=3,32,32"),
            ("model.name=infogan", "data.name=fake", "data.shape=1,28,28"), ("model.name=began",)]


def built(*overrides: str) -> tuple[nn.Module, nn.Module]:
    config = tiny_config(*[o for o in overrides if "=" in o])
    torch.manual_seed(0)
    return build_models(config, DATASETS.get(config.data.name)(config).spec(config))


def weights_of(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, WEIGHTED)]


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f[0].split("=")[-1])
def test_normal_init_draws_every_weight_from_n_0_002_and_zeroes_biases(family):
    generator, discriminator = built(*family, "model.init=normal_0.02", "model.g_width=64", "model.d_width=64")
    for network in (generator, discriminator):
        weights = torch.cat([m.weight.detach().flatten() for m in weights_of(network)])
        assert weights.numel() > 5000
        assert float(weights.mean()) == pytest.approx(0.0, abs=1e-3)
        assert float(weights.std()) == pytest.approx(0.02, rel=0.03)
        for layer in weights_of(network):
            # every layer alone, so that no layer keeps PyTorch's fan-in scaled init (the first ring8 layer's std 0.41)
            assert float(layer.weight.detach().abs().max()) < 0.02 * 7
            if layer.bias is not None:
                assert torch.count_nonzero(layer.bias) == 0


def test_default_init_is_pytorchs():
    generator, _ = built("model.g_width=64")
    first = weights_of(generator)[0]
    # nn.Linear(2, 64): U(-1/sqrt(2), 1/sqrt(2)), std 0.41; biases non-zero
    assert float(first.weight.detach().std()) == pytest.approx(1 / 6 ** 0.5, rel=0.2)
    assert torch.count_nonzero(first.bias) > 0


def test_normal_init_reaches_weights_under_spectral_norm():
    _, discriminator = built("model.init=normal_0.02", "model.d_spectral_norm=true", "model.d_width=64")
    originals = torch.cat([m.parametrizations.weight.original.detach().flatten() for m in weights_of(discriminator)])
    assert float(originals.std()) == pytest.approx(0.02, rel=0.05)


def test_batch_norm_settings_reach_every_batch_norm_of_g_and_d():
    generator, discriminator = built("model.bn_eps=1e-4", "model.bn_momentum=0.05", "model.d_norm=batch")
    norms = [m for net in (generator, discriminator) for m in net.modules() if isinstance(m, BATCH_NORMS)]
    assert len(norms) == 4 + 3
    assert all(m.eps == 1e-4 and m.momentum == 0.05 for m in norms)
    (default,) = {(m.eps, m.momentum) for m in built("model.d_norm=batch")[0].modules() if isinstance(m, BATCH_NORMS)}
    assert default == (1e-5, 0.1)
