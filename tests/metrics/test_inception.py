"""The Inception path: plumbing with a randomly initialised state_dict (its numbers mean nothing and are
never asserted), and the offline "unavailable" path, which must answer within seconds."""

from __future__ import annotations

import time

import pytest
import torch

from ganbench.config import load_config
from ganbench.data import DATASETS
from ganbench.metrics import METRICS, fidelity
from ganbench.metrics.evaluator import Evaluator
from ganbench.metrics.extractors import EXTRACTORS, INCEPTION_FILE


@pytest.fixture
def offline(tmp_path, monkeypatch):
    monkeypatch.delenv("GANBENCH_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.delenv("GANBENCH_ALLOW_DOWNLOAD", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    fidelity.load_extractor.cache_clear()
    yield tmp_path
    fidelity.load_extractor.cache_clear()


@pytest.fixture
def random_inception_weights(offline, monkeypatch):
    from torch_fidelity import feature_extractor_inceptionv3 as inception

    # Build the real architecture without its weights: no download, no file.
    with monkeypatch.context() as patch:
        patch.setattr(inception, "load_state_dict_from_url", lambda *a, **k: {})
        patch.setattr(inception.FeatureExtractorInceptionV3, "load_state_dict", lambda self, state: None)
        model = inception.FeatureExtractorInceptionV3("random", ["2048"], feature_extractor_weights_path=None)
    path = offline / "random-inception.pth"
    torch.save(model.state_dict(), path)
    monkeypatch.setenv("GANBENCH_INCEPTION_WEIGHTS", str(path))
    return path


def test_unavailable_offline_names_the_file_and_returns_fast(offline):
    started = time.perf_counter()
    reason = EXTRACTORS["inception"].unavailable_reason()
    assert time.perf_counter() - started < 5
    assert INCEPTION_FILE in reason and str(offline / "torch_home") in reason and "\n" not in reason


def test_download_attempt_offline_fails_fast(offline, monkeypatch):
    monkeypatch.setenv("GANBENCH_ALLOW_DOWNLOAD", "1")
    started = time.perf_counter()
    assert EXTRACTORS["inception"].unavailable_reason() is not None  # this machine has no route out
    assert time.perf_counter() - started < 15


def test_training_reports_inception_as_unavailable_never_substituted(offline):
    config = load_config(overrides=["data.name=fake", "data.shape=[3,32,32]", "eval.metrics=[inception]",
                                    "train.steps=2", "eval.every=2", "eval.n_samples=8", "train.threads=1"])
    evaluator = Evaluator(DATASETS.get("fake")(config), config, torch.device("cpu"))
    assert evaluator.metrics == [] and INCEPTION_FILE in evaluator.unavailable["inception"]


def test_inception_plumbing_with_random_weights(random_inception_weights):
    config = load_config(overrides=["data.name=fake", "data.shape=[3,32,32]", "eval.metrics=[inception]",
                                    "eval.n_samples=12", "device=cpu",
                                    "eval.fidelity=[fid,kid,is,precision,recall,density,coverage]"])
    dataset = DATASETS.get("fake")(config)
    real = fidelity.real_statistics(fidelity.extract("inception", dataset.load("test")[0][:12])["features"])
    real["protocol"] = {"dataset": "fake", "split": "test", "n_real": 12}
    metric = METRICS.get("inception")(dataset, config, real)
    values = metric(torch.rand(12, 3, 32, 32) * 2 - 1)
    assert set(values) == set(metric.directions)  # fid_inception, kid_inception, ... (values mean nothing)
    assert all(key.endswith("_inception") for key in values)
    assert real["features"].shape == (12, 2048)
    assert fidelity.weights_sha256("inception") == fidelity._file_sha256(random_inception_weights)
