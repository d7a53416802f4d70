"""train.compile: the compiled step computes what the eager one does, and a missing backend falls back to eager."""

from __future__ import annotations

import pytest
import torch

from ganbench.training import compile as compile_module
from ganbench.training.loop import train
from tests.conftest import tiny_config
from tests.training.test_loop import Recorder


def test_unavailable_compilation_trains_eager_with_a_warning(monkeypatch):
    compile_module.compile_unavailable.cache_clear()
    monkeypatch.setattr(compile_module, "compile_unavailable", lambda device: "RuntimeError: no compiler")
    with pytest.warns(RuntimeWarning, match="train.compile: torch.compile is unavailable on cpu .*training eager"):
        result = train(tiny_config("train.compile=true", "train.steps=2", "eval.every=2"))
    assert result["compiled"] is False and result["steps"] == 2


# G's Linear biases that feed a batch norm (mlp's G: body = Linear, BN, ReLU, ...).
BIASES_BEFORE_BATCH_NORM = {f"body.{3 * layer}.bias" for layer in range(4)}


@pytest.mark.slow
@pytest.mark.parametrize("overrides", [(), ("train.update=simultaneous", "model.pack=2", "model.pack_mode=pacgan",
                                           "model.init=normal_0.02")])
def test_a_compiled_step_updates_the_parameters_as_the_eager_step(overrides):
    """One step, compiled against eager: Adam's moments (the gradients) within float tolerance of the network's
    largest gradient (terms that cancel, such as D's output bias, keep only rounding noise), and the parameters
    wherever the gradient is well above that noise (see test_fast_step for why not everywhere). One step only: from
    N(0, 0.02) weights maxout's near-ties let rounding pick other pieces within three steps, and the runs part."""
    if compile_module.compile_unavailable("cpu"):
        pytest.skip(f"torch.compile unavailable: {compile_module.compile_unavailable('cpu')}")
    eager, compiled = Recorder(), Recorder()
    train(tiny_config("train.steps=1", "eval.every=1", *overrides), eager)
    result = train(tiny_config("train.steps=1", "eval.every=1", "train.compile=true", *overrides), compiled)
    assert result["compiled"] is True
    after, before = compiled.states[-1], eager.states[-1]
    checked = 0
    for part, optimizer in (("generator", "optimizer_g"), ("discriminator", "optimizer_d")):
        names = [k for k, v in before[part].items() if v.is_floating_point() and "running_" not in k]
        moments_c, moments_e = after[optimizer]["state"], before[optimizer]["state"]
        scale = max(float(moments_e[index]["exp_avg"].abs().max()) for index in range(len(names)))
        for index, name in enumerate(names):
            if name in BIASES_BEFORE_BATCH_NORM:  # their true gradient is zero: both hold rounding noise
                continue
            expected = moments_e[index]["exp_avg"]
            torch.testing.assert_close(moments_c[index]["exp_avg"], expected, rtol=1e-3, atol=1e-5 * scale)
            clear = expected.abs() > 1e-3 * scale
            torch.testing.assert_close(after[part][name][clear], before[part][name][clear], rtol=1e-4, atol=1e-5)
            checked += int(clear.sum())
    assert checked > 1000
    assert compiled.metrics[-1]["modes"] == eager.metrics[-1]["modes"]
