"""What chance scores on a 2-D mixture, and when a run has learned too little for its scores to mean anything.

Points drawn uniformly over grid25's square capture 20-23 of the 25 modes with a reverse KL near 0.3, better
than many trained generators, because a mode counts with one high-quality sample and reverse KL only reads the
high-quality samples. Such scores mean something only beside the high-quality fraction, so a report carries the
uniform reference row and flags the runs that are not distinguishable from a diffuse or untrained generator.
"""

from __future__ import annotations

import math

import numpy as np

from ganbench.data.toy2d import Mixture2D
from ganbench.metrics.modes2d import HIGH_QUALITY_STDS, mixture_scores

REFERENCE_DRAWS = 20
REFERENCE_SEED = 0

# Under 10% of samples within 3 std of a mode: uniform noise gets 2.6% on grid25 and 0.5% on ring8, every row of
# PacGAN's Table 1 is above 90%, and no mode count or reverse KL of such a generator says it learned the modes.
MIN_HQ_FRACTION = 0.10

# D's loss at chance (both logits 0) for losses whose D loss is softplus(-real) + softplus(fake): 2 ln 2 = 1.386.
CHANCE_D_LOSS = {"non_saturating": 2 * math.log(2), "minimax": 2 * math.log(2)}
# Runs whose D never learned end within 0.009 of it (PacGAN2 on grid25: 1.377-1.393, 20 runs); runs that learned
# end at 1.24 or below in every committed PacGAN benchmark result.
D_LOSS_CHANCE_TOLERANCE = 0.015


def bounding_box(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(low corner, high corner) of the points' axis-aligned bounding box."""
    return points.min(axis=0), points.max(axis=0)


def uniform_scores(dataset: Mixture2D, n: int, draws: int = REFERENCE_DRAWS,
                   seed: int = REFERENCE_SEED) -> dict[str, float]:
    """The modes2d scores of ``n`` points uniform over the bounding box of the dataset's training points, averaged
    over ``draws`` seeded draws, with the same metric code as evaluations (``mixture_scores``). Also gives each
    score's standard deviation over the draws (``*_std``) and the protocol (n, draws)."""
    low, high = bounding_box(dataset.load("train")[0].double().numpy())
    rng = np.random.default_rng(seed)
    runs = [mixture_scores(rng.uniform(low, high, size=(n, 2)), dataset.means, dataset.std) for _ in range(draws)]
    scores = {key: float(np.mean([run[key] for run in runs])) for key in runs[0]}
    spread = {f"{key}_std": float(np.std([run[key] for run in runs])) for key in runs[0]}
    return {**scores, **spread, "n_fake": float(n), "draws": float(draws), "high_quality_stds": HIGH_QUALITY_STDS}


def not_converged_reason(hq_fraction: float, final_d_loss: float | None = None, loss_name: str = "") -> str | None:
    """Why a 2-D run's scores cannot be read as a result (its HQ fraction is below ``MIN_HQ_FRACTION``, or its D
    ended at chance for a loss with a known chance value), or None if neither holds."""
    if not hq_fraction >= MIN_HQ_FRACTION:  # NaN too
        return f"high-quality fraction {hq_fraction:.1%} < {MIN_HQ_FRACTION:.0%}"
    chance = CHANCE_D_LOSS.get(loss_name)
    if chance is not None and final_d_loss is not None and abs(final_d_loss - chance) < D_LOSS_CHANCE_TOLERANCE:
        return f"final D loss {final_d_loss:.3f} within {D_LOSS_CHANCE_TOLERANCE} of chance (2 ln 2 = {chance:.3f})"
    return None
