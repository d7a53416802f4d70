"""Conditional metrics: the class-accuracy hook scores samples against the labels G was asked for."""

from __future__ import annotations

import pytest
import torch

from ganbench.config import load_config
from ganbench.data import DATASETS
from ganbench.errors import ConfigError
from ganbench.metrics.conditional import KEY, ClassAccuracy, class_accuracy
from ganbench.metrics.evaluator import generate
from ganbench.models import build_models
from ganbench.models.conditioning import balanced_labels


def oracle(samples):
    """A stub classifier that reads the class off the first pixel (class c is written as value c)."""
    return torch.nn.functional.one_hot(samples.flatten(1)[:, 0].round().long(), 10).float()


def test_class_accuracy_against_known_predictions():
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    samples = torch.tensor([0.0, 1, 0, 0, 1, 2]).reshape(6, 1, 1, 1)  # class 2 wrong once, class 0 right twice
    accuracy, per_class = class_accuracy(oracle, samples, labels)
    assert accuracy == pytest.approx(5 / 6) and per_class == pytest.approx([1.0, 1.0, 0.5])


class LabelEcho(torch.nn.Module):
    """A 'generator' that writes the requested label into every pixel."""

    num_classes = 10

    def forward(self, z, labels=None):
        return labels.float().reshape(-1, 1, 1, 1).expand(-1, 1, 8, 8)


def test_metric_scores_what_generate_asked_for():
    config = load_config(overrides=["data.name=digits", "data.conditional=true", "model.name=dcgan",
                                    "eval.metrics=[class_accuracy]", "eval.select="])
    metric = ClassAccuracy(DATASETS.get("digits")(config), config, classifier=oracle)
    samples = generate(LabelEcho(), config, 25, seed=0, device=torch.device("cpu"))
    assert metric(samples) == {KEY: 1.0}
    assert metric(samples.roll(1, dims=0)) == {KEY: 0.0}  # every sample now carries its neighbour's label
    assert metric.worst() == {KEY: 0.0}


def test_balanced_labels_cover_every_class():
    assert balanced_labels(23, 10).bincount().tolist() == [3, 3, 3] + [2] * 7


def test_conditional_generate_accepts_explicit_labels():
    config = load_config(overrides=["data.name=fake", "data.shape=[1,8,8]", "data.conditional=true"])
    generator, _ = build_models(config, DATASETS.get("fake").spec(config))
    labels = torch.full((6,), 3)
    assert not torch.equal(generate(generator, config, 6, 0, torch.device("cpu")),
                           generate(generator, config, 6, 0, torch.device("cpu"), labels))


@pytest.mark.parametrize(("overrides", "message"), [
    (["data.name=digits", "model.name=dcgan"], "needs data.conditional"),
    (["data.name=ring8", "data.conditional=true"], "needs digits"),
])
def test_metric_refuses_other_setups(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(overrides=[*overrides, "eval.metrics=[class_accuracy]", "eval.select="])


def test_unconditional_runs_draw_no_labels_and_no_random_numbers():
    from ganbench.models import Conditioning

    state = torch.get_rng_state()
    conditioning = Conditioning(0)
    assert conditioning.sample(8) is None and conditioning.real(torch.arange(8)) is None
    assert torch.equal(torch.get_rng_state(), state)
    labels = Conditioning(3).sample(1000)
    assert labels.bincount().tolist() == pytest.approx([333, 333, 333], abs=60) and not torch.equal(
        torch.get_rng_state(), state)


def test_per_class_draws_and_grid(tmp_path):
    from ganbench.training.plots import save_class_grid
    from ganbench.training.sampling import draw, draw_per_class

    config = load_config(overrides=["data.name=digits", "data.conditional=true", "model.name=dcgan"])
    per_class = draw_per_class(LabelEcho(), config, 4, seed=0)
    assert per_class.shape == (10, 4, 1, 8, 8)
    assert torch.equal(per_class[:, :, 0, 0, 0], torch.arange(10.0).unsqueeze(1).expand(10, 4))
    assert torch.equal(draw(LabelEcho(), config, 3, seed=0, class_index=7), torch.full((3, 1, 8, 8), 7.0))
    save_class_grid(per_class, tmp_path / "grid.png")
    assert (tmp_path / "grid.png").stat().st_size > 0
