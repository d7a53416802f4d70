"""Image metrics inside training and evaluation: names, protocol, cache, stacked digits."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from ganbench.cli.main import main
from ganbench.config import load_config
from ganbench.data import DATASETS
from ganbench.metrics import METRICS
from ganbench.metrics.real import cache_path, real_side
from ganbench.metrics.stacked import triple_scores
from ganbench.training.loop import train

DIGITS_RUN = ["data.name=digits", "eval.metrics=[lenet_digits]", "eval.select=fid_lenet_digits", "train.steps=4",
              "eval.every=2", "eval.n_samples=200", "train.threads=1", "model.g_width=8", "model.d_width=8",
              "device=cpu"]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANBENCH_CACHE", str(tmp_path / "cache"))


def test_training_reports_named_metrics_and_their_protocol():
    result = train(load_config(overrides=[*DIGITS_RUN, "eval.fidelity=[fid,kid,is,precision,recall,density,coverage]"]))
    for key in ("fid", "kid", "is", "precision", "recall", "density", "coverage"):
        assert math.isfinite(result[f"final_{key}_lenet_digits"])
    trial_sized = train(load_config(overrides=DIGITS_RUN))  # during training: FID and IS only, by default
    assert {k for k in trial_sized if k.startswith("final_") and k.endswith("_lenet_digits")} == {
        "final_fid_lenet_digits", "final_is_lenet_digits", "final_is_std_lenet_digits"}
    protocol = result["protocol"]["lenet_digits"]
    assert protocol["n_fake"] == 200 and protocol["n_real"] == 1437 and protocol["split"] == "train"
    assert protocol["extractor"] == "lenet_digits" and len(protocol["weights_sha256"]) == 64


def test_real_side_is_cached_by_dataset_split_extractor_hash_and_n():
    config = load_config(overrides=["data.name=digits"])
    dataset = DATASETS.get("digits")(config)
    path = cache_path(dataset, "test", "lenet_digits", None)
    assert not path.exists()
    first = real_side(dataset, "test", "lenet_digits", write=False)
    assert not path.exists()  # a trial never writes the shared cache
    real_side(dataset, "test", "lenet_digits")
    assert path.exists() and "digits-test-lenet_digits-" in path.name
    again = real_side(dataset, "test", "lenet_digits")
    assert torch.equal(first["mu"], again["mu"]) and again["protocol"]["n_real"] == 360
    assert cache_path(dataset, "test", "lenet_digits", 100) != path


def test_a_trial_with_a_handed_in_real_side_extracts_only_generated_features(monkeypatch):
    config = load_config(overrides=DIGITS_RUN)
    dataset = DATASETS.get("digits")(config)
    real = real_side(dataset, "train", "lenet_digits", write=False)
    import ganbench.metrics.real as real_module

    def refuse(*args, **kwargs):
        raise AssertionError("the real side was recomputed inside the trial")

    monkeypatch.setattr(real_module, "compute", refuse)
    monkeypatch.setattr(real_module, "real_side", refuse)
    result = train(config, real_sides={"lenet_digits": real})
    assert math.isfinite(result["final_fid_lenet_digits"])


def test_evaluate_command_uses_final_protocol(tmp_path, capsys):
    out = tmp_path / "run"
    args = [a for key in DIGITS_RUN for a in ("--set", key)]
    assert main(["train", *args, "--out", str(out), "--json"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(out / "checkpoint.pt"), "--n", "300", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["protocol"]["lenet_digits"]["split"] == "test"  # held out, not the training split
    assert report["protocol"]["lenet_digits"]["n_fake"] == 300
    assert math.isfinite(report["metrics"]["fid_lenet_digits"]) and "coverage_lenet_digits" in report["metrics"]


def test_stacked_digits_have_1000_equally_likely_modes():
    config = load_config(overrides=["data.name=stacked_digits", "data.size=20000"])
    samples, modes = DATASETS.get("stacked_digits")(config).load("train")
    assert samples.shape == (20000, 3, 8, 8)
    assert len(torch.unique(modes)) == 1000


def test_stacked_metric_known_values_and_real_data():
    uniform = np.array([[i // 100, (i // 10) % 10, i % 10] for i in range(1000)] * 3)
    assert triple_scores(uniform) == {"modes_stacked_lenet_digits": 1000.0, "kl_stacked_lenet_digits": 0.0}
    collapsed = np.zeros((50, 3), dtype=int)
    assert triple_scores(collapsed)["kl_stacked_lenet_digits"] == pytest.approx(math.log(1000))
    config = load_config(overrides=["data.name=stacked_digits", "data.size=26000"])
    dataset = DATASETS.get("stacked_digits")(config)
    scores = METRICS.get("stacked_modes")(dataset, config)(dataset.load("test")[0])
    assert scores["modes_stacked_lenet_digits"] >= 990  # real data covers nearly every mode
    assert scores["kl_stacked_lenet_digits"] < 0.15
