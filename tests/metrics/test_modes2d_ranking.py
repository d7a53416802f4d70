"""Which 2-D score can rank a study: a generator that learned nothing (uniform noise over the data's bounding box)
must rank last among generators that learned something, scored with the real metric code."""

from __future__ import annotations

import numpy as np
import pytest

from ganbench.data.toy2d import Grid25, Mixture2D, Ring8
from ganbench.metrics import known_direction
from ganbench.metrics.keys import Direction
from ganbench.metrics.modes2d import RANKING_KEY, mixture_scores

N = 2500  # PacGAN's evaluation size, the 2-D benchmarks' eval.final_n_samples


def around(means: np.ndarray, std: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points spread evenly over ``means``, Gaussian with ``std`` around each."""
    return means[rng.integers(len(means), size=n)] + std * rng.standard_normal((n, 2))


def uniform_box(mixture: type[Mixture2D], n: int, rng: np.random.Generator) -> np.ndarray:
    margin = 3 * mixture.std  # the training points' bounding box reaches a few std past the outer means
    low, high = mixture.means.min(axis=0) - margin, mixture.means.max(axis=0) + margin
    return rng.uniform(low, high, size=(n, 2))


def generators(mixture: type[Mixture2D], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Generators a study could produce: converged, blurry, partly collapsed, collapsed, half-converged; and uniform."""
    means, std = mixture.means, mixture.std
    k = len(means)
    return {
        "converged": around(means, std, N, rng),
        "blurry (2 std)": around(means, 2 * std, N, rng),
        "half the modes": around(means[: k // 2], std, N, rng),
        "one mode": around(means[:1], std, N, rng),
        "one mode, half diffuse": np.concatenate([around(means[:1], std, N // 2, rng), uniform_box(mixture, N // 2, rng)]),
        "30% on the modes, 70% diffuse": np.concatenate([around(means, std, 3 * N // 10, rng),
                                                         uniform_box(mixture, N - 3 * N // 10, rng)]),
        "uniform": uniform_box(mixture, N, rng),
    }


def ranked(scores: dict[str, dict[str, float]], key: str) -> list[str]:
    direction = known_direction(key)
    assert direction is not None, key
    return sorted(scores, key=lambda name: direction.rank_key(scores[name][key]))


@pytest.mark.parametrize("mixture", [Grid25, Ring8], ids=["grid25", "ring8"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_uniform_noise_ranks_last_on_the_ranking_key(mixture, seed):
    rng = np.random.default_rng(seed)
    scores = {name: mixture_scores(points, mixture.means, mixture.std) for name, points in generators(mixture, rng).items()}
    assert ranked(scores, RANKING_KEY)[-1] == "uniform"


def test_modes_and_reverse_kl_let_uniform_noise_beat_generators_that_learned():
    """Why neither of PacGAN's own scores can rank a study: uniform noise beats a collapsed generator on both."""
    rng = np.random.default_rng(0)
    scores = {name: mixture_scores(points, Grid25.means, Grid25.std) for name, points in generators(Grid25, rng).items()}
    for key in ("modes", "reverse_kl"):
        assert ranked(scores, key).index("uniform") < ranked(scores, key).index("one mode"), key


def test_ranking_key_is_a_fraction_that_improves_upwards():
    assert known_direction(RANKING_KEY) is Direction.MAX
    means, std = Ring8.means, Ring8.std
    # 300 samples on mode 0 (capped at an eighth of 1,000), 100 on mode 1, 600 far away.
    samples = np.concatenate([np.repeat(means[:1], 300, 0), np.repeat(means[1:2], 100, 0), np.full((600, 2), 5.0)])
    assert mixture_scores(samples, means, std)[RANKING_KEY] == pytest.approx(1 / 8 + 0.1)
    assert mixture_scores(around(means, std, N, np.random.default_rng(0)), means, std)[RANKING_KEY] > 0.95
