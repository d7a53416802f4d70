"""PacGAN's 2-D mixture protocol: modes captured, high-quality fraction, reverse KL; and the score a study ranks on.

A sample is high quality if its distance to the nearest mean is below 3 standard deviations; a
mode is captured if at least one high-quality sample is nearest to it; reverse KL compares the
histogram of high-quality samples over modes with the uniform distribution.

Neither mode count nor reverse KL can rank a study: both read only the high-quality samples, so uniform noise over
grid25's square (2.5% high quality, a few hits on every mode) captures 20-23 modes with a reverse KL near 0.3 and
beats a generator that learned modes but not all of them. ``balanced_hq_fraction`` is what 2-D studies rank on: the
fraction of all samples that are high quality, each mode counted up to its even share 1/K. It is 1 for the true
mixture, 1/K for a generator collapsed onto one mode, and at most its own high-quality fraction for a diffuse one.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from ganbench.data.base import Dataset
from ganbench.data.toy2d import Mixture2D
from ganbench.metrics.base import METRICS, Metric

if TYPE_CHECKING:
    from ganbench.config import Config

HIGH_QUALITY_STDS = 3.0
RANKING_KEY = "balanced_hq_fraction"  # what a 2-D study should rank on (see the module's docstring)


def mixture_scores(samples: np.ndarray, means: np.ndarray, std: float) -> dict[str, float]:
    """The PacGAN scores of ``samples`` (N x 2) against a mixture with ``means`` (K x 2)."""
    num_modes = len(means)
    distances = np.linalg.norm(samples[:, None, :] - means[None, :, :], axis=2) / std  # N x K
    distances = np.nan_to_num(distances, nan=np.inf)
    nearest = distances.argmin(axis=1)
    high_quality = distances.min(axis=1) < HIGH_QUALITY_STDS
    counts = np.bincount(nearest[high_quality], minlength=num_modes)
    if counts.sum() == 0:
        reverse_kl = math.log(num_modes)  # no mass on any mode: as bad as collapse onto one
    else:
        p = counts[counts > 0] / counts.sum()
        reverse_kl = float(np.sum(p * np.log(p * num_modes)))
    # A mode's high-quality samples count up to an even share of all samples: over-filled modes cannot make up for
    # missing ones, and samples off every mode count for nothing.
    balanced = float(np.minimum(counts / len(samples), 1 / num_modes).sum())
    return {"modes": float((counts > 0).sum()), "hq_fraction": float(high_quality.mean()), "reverse_kl": reverse_kl,
            RANKING_KEY: balanced}


@METRICS.register("modes2d")
class Modes2D(Metric):
    description = ("PacGAN protocol on 2-D mixtures: modes, hq_fraction (3 sigma), reverse_kl; and balanced_hq_fraction "
                   "(high quality, each mode counted up to 1/K), which a diffuse generator cannot win")
    directions = {"modes": "max", "hq_fraction": "max", "reverse_kl": "min", RANKING_KEY: "max"}

    @classmethod
    def unsupported_reason(cls, dataset: type[Dataset], config: Config) -> str | None:
        return None if issubclass(dataset, Mixture2D) else "needs a 2-D Gaussian mixture (ring8, grid25)"

    def __call__(self, samples: Tensor) -> dict[str, float]:
        dataset = self.dataset
        assert isinstance(dataset, Mixture2D)
        return mixture_scores(samples.detach().to("cpu", torch.float64).numpy(), dataset.means, dataset.std)

    def protocol(self, n_fake: int) -> dict[str, object]:
        return {"n_fake": n_fake, "high_quality_stds": HIGH_QUALITY_STDS, "dataset": self.dataset.name}

    def worst(self) -> dict[str, float]:
        assert isinstance(self.dataset, Mixture2D)
        return {"modes": 0.0, "hq_fraction": 0.0, "reverse_kl": math.log(len(self.dataset.means)), RANKING_KEY: 0.0}
