"""Image metrics against independent computations, on the shipped lenet_digits extractor."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from ganbench.config import load_config
from ganbench.data import DATASETS
from ganbench.metrics import fidelity
from ganbench.metrics.extractors import EXTRACTORS
from ganbench.metrics.lenet import weights_hash


def scipy_fid(a: np.ndarray, b: np.ndarray) -> float:
    mu_a, mu_b = a.mean(0), b.mean(0)
    sigma_a, sigma_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(sigma_a @ sigma_b).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(sigma_a + sigma_b - 2 * root))


@pytest.fixture(scope="module")
def digits():
    config = load_config(overrides=["data.name=digits"])
    dataset = DATASETS.get("digits")(config)
    return {split: dataset.load(split)[0] for split in ("train", "test", "all")}


def test_fid_matches_scipy_on_the_same_features():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(600, 12))
    b = rng.normal(size=(500, 12)) @ rng.normal(size=(12, 12)) * 0.5 + 0.3
    ours = fidelity.fid(torch.from_numpy(a), fidelity.real_statistics(torch.from_numpy(b)))
    assert ours == pytest.approx(scipy_fid(a, b), rel=1e-4)


@pytest.mark.parametrize("seed", range(3))
def test_kid_of_one_distribution_is_zero_within_its_noise(seed):
    # Under the null, unbiased MMD^2 is degenerate (variance ~ 1/n^2): the mean over subsets of 1,000 drawn from
    # 10,000 has about a tenth of one subset's spread, which the 3 std / sqrt(subsets) bound asks for.
    rng = np.random.default_rng(seed)
    a, b = torch.from_numpy(rng.normal(size=(10000, 16))), torch.from_numpy(rng.normal(size=(10000, 16)))
    mean, std = fidelity.kid(a, b, seed=seed)
    assert abs(mean) < 3 * std / np.sqrt(fidelity.KID_SUBSETS)
    if seed == 0:
        shifted_mean, _ = fidelity.kid(a + 0.5, b, seed=seed)
        assert shifted_mean > 10 * abs(mean)  # and it does see a real difference


def test_density_coverage_known_values():
    real = fidelity.real_statistics(torch.arange(10.0).reshape(-1, 1))  # radius of the 5th neighbour is 3..5
    density, coverage = fidelity.density_coverage(torch.tensor([[4.5]], dtype=torch.float64), real)
    inside = int((torch.abs(torch.arange(10.0) - 4.5) <= real["radii_k5"].float()).sum())
    assert density == pytest.approx(inside / 5) and coverage == pytest.approx(inside / 10)


def test_lenet_digits_separates_real_from_noise_and_collapse(digits):
    real = fidelity.real_statistics(fidelity.extract("lenet_digits", digits["train"])["features"])

    def fid_to_train(samples):
        return fidelity.fid(fidelity.extract("lenet_digits", samples)["features"], real)

    held_out = fid_to_train(digits["test"])
    noise = fid_to_train(torch.rand(360, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1)
    collapsed = fid_to_train(digits["train"][:3].repeat(120, 1, 1, 1))
    assert held_out * 10 < noise and held_out * 10 < collapsed


def test_inception_score_of_real_digits(digits):
    mean, _ = fidelity.inception_score(fidelity.extract("lenet_digits", digits["all"])["logits"])
    assert 9.0 <= mean <= 10.0  # at most the number of classes


def test_shipped_weights_match_their_record():
    saved = torch.load(EXTRACTORS["lenet_digits"].weights_path(), weights_only=True)
    assert saved["record"]["test_accuracy"] >= 0.97
    assert weights_hash(saved["state_dict"]) == saved["record"]["sha256"]
    assert EXTRACTORS["lenet_digits"].weights_path().stat().st_size < 400_000


def test_uint8_conversion_repeats_grayscale():
    images = torch.tensor([-1.0, 0.0, 1.0]).reshape(1, 1, 1, 3)
    converted = fidelity.to_uint8_rgb(images)
    assert converted.dtype == torch.uint8 and converted.shape == (1, 3, 1, 3)
    assert converted[0, :, 0].tolist() == [[0, 128, 255]] * 3
