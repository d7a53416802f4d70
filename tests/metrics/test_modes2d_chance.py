"""The uniform reference and the not-converged rule for 2-D mixtures."""

from __future__ import annotations

import math

import pytest

from ganbench.config import load_config
from ganbench.data.toy2d import Grid25, Ring8
from ganbench.metrics.chance import MIN_HQ_FRACTION, not_converged_reason, uniform_scores


def test_uniform_points_on_grid25_capture_most_modes_with_two_percent_high_quality():
    scores = uniform_scores(Grid25(load_config(overrides=["data.name=grid25"])), n=2500)
    # 25 discs of radius 3 std (0.15) in a square of side ~8.4: 2.5% of the area, ~2.5 hits per mode, e^-2.5 missed.
    assert scores["modes"] == pytest.approx(22.8, abs=1.2)
    assert scores["hq_fraction"] == pytest.approx(0.025, abs=0.006)
    assert 0.2 < scores["reverse_kl"] < 0.4
    assert scores["draws"] == 20 and scores["n_fake"] == 2500
    assert not_converged_reason(scores["hq_fraction"]) is not None


def test_uniform_reference_is_seeded():
    dataset = Ring8(load_config(overrides=["data.size=5000"]))
    assert uniform_scores(dataset, 500, draws=3, seed=1) == uniform_scores(dataset, 500, draws=3, seed=1)
    assert uniform_scores(dataset, 500, draws=3, seed=1) != uniform_scores(dataset, 500, draws=3, seed=2)


@pytest.mark.parametrize(("hq", "d_loss", "loss", "flagged"), [
    (0.02, 0.9, "non_saturating", True),        # diffuse, whatever D did
    (0.5, 1.383, "non_saturating", True),       # D at chance: it never learned (grid25 PacGAN2 rows)
    (0.5, 1.383, "minimax", True),
    (0.5, 1.383, "hinge", False),               # hinge's chance value is 2, not 2 ln 2
    (0.5, 1.24, "non_saturating", False),       # the highest final D loss of a run that learned
    (0.5, None, "non_saturating", False),
    (MIN_HQ_FRACTION, 1.0, "non_saturating", False),
    (math.nan, 1.0, "non_saturating", True),
])
def test_not_converged_rule(hq, d_loss, loss, flagged):
    assert (not_converged_reason(hq, d_loss, loss) is not None) == flagged
