"""Stacked digits: the offline analogue of Stacked MNIST (PacGAN / VEEGAN / Unrolled GAN).

Three independently drawn sklearn digits become the three channels of one 3 x 8 x 8 image, so the
data has 10^3 = 1000 modes (label triples), equally likely.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from ganbench.data.base import DATASETS, Dataset
from ganbench.data.images import Digits
from ganbench.data.spec import DataSpec

if TYPE_CHECKING:
    from ganbench.config import Config

DATA_SEED = {"train": 3, "test": 4}
MODES = 1000


@DATASETS.register("stacked_digits")
class StackedDigits(Dataset):
    description = "three independent sklearn digits stacked as RGB channels, 3x8x8, 1000 modes"
    splits = ("train", "test")
    # PacGAN's Stacked MNIST protocol, scaled: DCGAN, 26,000 samples for modes and KL.
    defaults = {
        "model.name": "dcgan", "model.latent_dim": 64, "model.latent_distribution": "normal",
        "model.g_width": 64, "model.d_width": 64, "model.g_norm": "batch", "model.d_norm": "batch",
        "optim.name": "adam", "optim.lr_g": 2e-4, "optim.lr_d": 2e-4, "optim.beta1": 0.5, "optim.beta2": 0.999,
        "data.size": 50000, "train.batch_size": 64, "train.steps": 5000, "eval.every": 1000,
        "eval.metrics": ["stacked_modes"], "eval.select": "kl_stacked_lenet_digits", "eval.n_samples": 26000,
        "eval.final_n_samples": 26000,
    }

    @classmethod
    def spec(cls, config: Config) -> DataSpec:
        return DataSpec(shape=(3, 8, 8), num_classes=MODES)

    def load(self, split: str = "train") -> tuple[Tensor, Tensor | None]:
        digits, labels = Digits(self.config).load(split)
        rng = np.random.default_rng(DATA_SEED[split])
        index = torch.from_numpy(rng.integers(len(digits), size=(self.config.data.size, 3)))
        stacked = digits[index].squeeze(2)  # N x 3 x 8 x 8: one digit per channel
        triples = labels[index]
        return stacked, triples[:, 0] * 100 + triples[:, 1] * 10 + triples[:, 2]
