"""Modes of stacked digits: each channel labelled by ``lenet_digits``; modes captured (of 1000) and the
KL divergence of the label-triple histogram from uniform, on 26,000 samples (PacGAN Table 2's protocol)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from torch import Tensor

from ganbench.data.base import Dataset
from ganbench.metrics.base import METRICS, Metric
from ganbench.metrics.extractors import EXTRACTORS

if TYPE_CHECKING:
    from ganbench.config import Config

EXTRACTOR = "lenet_digits"
MODES = 1000


def triple_scores(labels: np.ndarray) -> dict[str, float]:
    """Modes captured and KL(generated || uniform) for N x 3 digit labels."""
    codes = labels[:, 0] * 100 + labels[:, 1] * 10 + labels[:, 2]
    counts = np.bincount(codes, minlength=MODES)
    p = counts[counts > 0] / counts.sum()
    return {f"modes_stacked_{EXTRACTOR}": float((counts > 0).sum()),
            f"kl_stacked_{EXTRACTOR}": float(np.sum(p * np.log(p * MODES)))}


@METRICS.register("stacked_modes")
class StackedModes(Metric):
    description = "stacked digits: modes captured (of 1000) and KL to uniform, channels labelled by lenet_digits"
    directions = {f"modes_stacked_{EXTRACTOR}": "max", f"kl_stacked_{EXTRACTOR}": "min"}

    @classmethod
    def unsupported_reason(cls, dataset: type[Dataset], config: Config) -> str | None:
        return None if dataset.name == "stacked_digits" else "needs stacked_digits"

    @classmethod
    def unavailable_reason(cls) -> str | None:
        return EXTRACTORS[EXTRACTOR].unavailable_reason()

    def __call__(self, samples: Tensor) -> dict[str, float]:
        from ganbench.metrics import fidelity  # torch-fidelity (~2 s) only when scoring

        channels = samples.reshape(-1, 1, *samples.shape[2:])  # (3N) x 1 x H x W, one digit each
        labels = fidelity.extract(EXTRACTOR, channels, self.device)["logits"].argmax(1).reshape(-1, 3).numpy()
        return triple_scores(labels)

    def worst(self) -> dict[str, float]:
        return {f"modes_stacked_{EXTRACTOR}": 0.0, f"kl_stacked_{EXTRACTOR}": math.log(MODES)}

    def protocol(self, n_fake: int) -> dict[str, Any]:
        from ganbench.metrics import fidelity  # torch-fidelity (~2 s) only when scoring

        return {"n_fake": n_fake, "extractor": EXTRACTOR, "weights_sha256": fidelity.weights_sha256(EXTRACTOR)}
