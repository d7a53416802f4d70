from __future__ import annotations

import math

import numpy as np
import pytest

from ganbench.config import load_config
from ganbench.data.toy2d import Grid25, Ring8
from ganbench.metrics import METRICS
from ganbench.metrics.modes2d import mixture_scores


def test_true_distribution_scores_perfectly():
    config = load_config(overrides=["data.size=2500"])
    points, _ = Ring8(config).load("test")
    scores = mixture_scores(points.double().numpy(), Ring8.means, Ring8.std)
    assert scores["modes"] == 8
    assert scores["hq_fraction"] > 0.98  # 3 sigma in 2-D keeps 98.9% of the mass
    assert scores["reverse_kl"] < 0.01


def test_known_values():
    means, std = Ring8.means, Ring8.std
    # 30 samples on mode 0, 10 on mode 1, 60 far from every mode.
    samples = np.concatenate([np.repeat(means[:1], 30, 0), np.repeat(means[1:2], 10, 0), np.full((60, 2), 5.0)])
    scores = mixture_scores(samples, means, std)
    assert scores["modes"] == 2
    assert scores["hq_fraction"] == pytest.approx(0.4)
    expected_kl = 0.75 * math.log(0.75 * 8) + 0.25 * math.log(0.25 * 8)
    assert scores["reverse_kl"] == pytest.approx(expected_kl)


def test_boundary_is_three_sigma():
    inside = Grid25.means[:1] + np.array([[2.99 * Grid25.std, 0]])
    outside = Grid25.means[:1] + np.array([[3.01 * Grid25.std, 0]])
    assert mixture_scores(inside, Grid25.means, Grid25.std)["hq_fraction"] == 1
    assert mixture_scores(outside, Grid25.means, Grid25.std)["hq_fraction"] == 0


def test_no_high_quality_samples_and_nans_give_the_worst_values():
    worst = {"modes": 0.0, "hq_fraction": 0.0, "reverse_kl": math.log(8), "balanced_hq_fraction": 0.0}
    assert mixture_scores(np.full((10, 2), np.nan), Ring8.means, Ring8.std) == worst
    config = load_config()
    assert METRICS.get("modes2d")(Ring8(config), config).worst() == worst
