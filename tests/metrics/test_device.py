"""Evaluation on the trial's device: sampling and feature extraction run there in bounded batches, the
statistics and the cached real side stay on the CPU. The CUDA tests run where a GPU exists."""

from __future__ import annotations

import pytest
import torch

from ganbench.config import load_config
from ganbench.data import DATASETS
from ganbench.metrics import METRICS, fidelity
from ganbench.metrics.real import real_side
from ganbench.training.final import final_evaluation
from ganbench.training.loop import train

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (none on this machine)")
DIGITS = ["data.name=digits", "train.steps=20", "eval.every=20", "eval.n_samples=300", "eval.final_n_samples=300",
          "train.threads=1", "device=cpu"]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANBENCH_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def trained_state():
    states = []
    config = load_config(overrides=DIGITS)
    train(config, lambda metrics, state: states.append(state) if state is not None else None)
    return states[-1], config


def test_extraction_runs_in_bounded_batches_on_the_requested_device(monkeypatch):
    seen = []
    real_extractor = fidelity.extractor_on("lenet_digits", "cpu")

    class Watching(torch.nn.Module):
        def get_requested_features_list(self):
            return real_extractor.get_requested_features_list()

        def get_default_feature_layer_for_metric(self, metric):
            return real_extractor.get_default_feature_layer_for_metric(metric)

        def forward(self, images):
            seen.append((images.device.type, len(images)))
            return real_extractor(images)

    monkeypatch.setattr(fidelity, "BATCH", 64)
    monkeypatch.setattr(fidelity, "extractor_on", lambda name, device: Watching())
    samples = torch.rand(300, 1, 8, 8) * 2 - 1
    out = fidelity.extract("lenet_digits", samples, torch.device("cpu"))
    assert [n for _, n in seen] == [64, 64, 64, 64, 44] and {d for d, _ in seen} == {"cpu"}
    assert out["features"].device.type == "cpu" and out["features"].shape[0] == 300


# A dataset each metric scores (the first that its unsupported_reason accepts).
DATASET_CHOICES = [["data.name=digits"], ["data.name=digits", "data.conditional=true"], ["data.name=ring8"],
                   ["data.name=stacked_digits"], ["data.name=mnist"], ["data.name=fashion_mnist"]]


@pytest.mark.parametrize("name", METRICS.names())
def test_every_metric_scores_on_the_device_it_is_given(name):
    """On "meta", a device no default would pick: a metric that dropped its device would score on the CPU. Its real
    side is handed in (as a sweep's driver does), so nothing is computed."""
    metric = METRICS.get(name)
    configs = (load_config(overrides=[*choice, "device=cpu"]) for choice in DATASET_CHOICES)
    config = next((c for c in configs if metric.unsupported_reason(DATASETS.get(c.data.name), c) is None), None)
    assert config is not None, f"no dataset in DATASET_CHOICES that {name} scores"
    built = metric(DATASETS.get(config.data.name)(config), config, {}, torch.device("meta"))
    assert built.device == torch.device("meta")


@CUDA
def test_final_evaluation_on_the_gpu_matches_the_cpu(trained_state):
    state, config = trained_state
    on_cpu = final_evaluation(state, config, device=torch.device("cpu"))
    on_gpu = final_evaluation(state, config, device=torch.device("cuda"))
    assert on_gpu.scores == pytest.approx(on_cpu.scores, rel=1e-3, abs=1e-4)


@CUDA
def test_features_come_back_to_the_cpu_and_the_cached_real_side_is_device_independent():
    config = load_config(overrides=DIGITS)
    dataset = DATASETS.get("digits")(config)
    side = real_side(dataset, "test", "lenet_digits", device=torch.device("cuda"))
    assert all(t.device.type == "cpu" for t in side.values() if isinstance(t, torch.Tensor))
    again = real_side(dataset, "test", "lenet_digits")  # the cache, read by a CPU trial
    assert torch.allclose(again["mu"], side["mu"])
    out = fidelity.extract("lenet_digits", torch.rand(10, 1, 8, 8) * 2 - 1, torch.device("cuda"))
    assert out["features"].device.type == "cpu"
