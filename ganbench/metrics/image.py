"""Image metrics, one registry entry per feature extractor: ``lenet_digits`` gives ``fid_lenet_digits``,
``kid_lenet_digits``, ``is_lenet_digits``, ``precision_/recall_/density_/coverage_lenet_digits``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import Tensor

from ganbench.data.base import Dataset
from ganbench.metrics.base import METRICS, Metric
from ganbench.metrics.extractors import EXTRACTORS

if TYPE_CHECKING:
    from ganbench.config import Config

FIDELITY = ("fid", "kid", "is", "precision", "recall", "density", "coverage")  # what eval.fidelity may name
# torch-fidelity (and torchvision) load only when a metric is built, so `ganbench list` stays fast.
DIRECTIONS = {"fid": "min", "kid": "min", "kid_std": "min", "is": "max", "is_std": "min", "precision": "max",
              "recall": "max", "density": "max", "coverage": "max"}
# Finite sentinels for diverged runs: FID/KID far beyond any real run (noise gives ~1e3 FID and ~1e4 KID in
# lenet_digits space), IS of a single class.
WORST = {"fid": 1e9, "kid": 1e9, "kid_std": 1e9, "is": 1.0, "is_std": 0.0, "precision": 0.0, "recall": 0.0,
         "density": 0.0, "coverage": 0.0}


class FidelityMetric(Metric):
    """FID, KID, IS, precision/recall and density/coverage in one extractor's feature space."""

    extractor: ClassVar[str]

    @classmethod
    def unsupported_reason(cls, dataset: type[Dataset], config: Config) -> str | None:
        domains = EXTRACTORS[cls.extractor].domains
        if "*" in domains:
            return None if len(dataset.spec(config).shape) == 3 else "needs image data"
        return None if dataset.name in domains else f"understands only {', '.join(domains)} images"

    @classmethod
    def unavailable_reason(cls) -> str | None:
        return EXTRACTORS[cls.extractor].unavailable_reason()

    @classmethod
    def reported_keys(cls, config: Config) -> set[str]:
        return {f"{key}_{cls.extractor}" for name in config.eval.fidelity for key in (name, f"{name}_std")
                if key in DIRECTIONS}

    @classmethod
    def prepare_real(cls, dataset: Dataset, config: Config, split: str,
                     device: torch.device | None = None) -> dict[str, Any]:
        from ganbench.metrics.real import real_side  # torch-fidelity loads only when a metric is built

        return real_side(dataset, split, cls.extractor, device=device)

    def __init__(self, dataset: Dataset, config: Config, real: dict[str, Any] | None = None,
                 device: torch.device | None = None) -> None:
        super().__init__(dataset, config, real, device)
        self.real = real if real is not None else self.prepare_real(dataset, config, config.eval.split, self.device)

    def __call__(self, samples: Tensor) -> dict[str, float]:
        from ganbench.metrics import fidelity  # torch-fidelity (~2 s) only when scoring

        fake = fidelity.extract(self.extractor, samples, self.device)
        return fidelity.scores(fake, self.real, self.extractor, seed=self.config.seed, which=self.config.eval.fidelity)

    def worst(self) -> dict[str, float]:
        requested = {k for name in self.config.eval.fidelity for k in (name, f"{name}_std")}
        return {f"{key}_{self.extractor}": value for key, value in WORST.items() if key in requested}

    def protocol(self, n_fake: int) -> dict[str, Any]:
        return {**self.real["protocol"], "n_fake": n_fake, "metrics": list(self.config.eval.fidelity)}


def _register(extractor: str) -> None:
    cls = type(f"Fidelity_{extractor}", (FidelityMetric,), {
        "extractor": extractor,
        "description": f"FID, KID, IS, precision/recall (k=3), density/coverage (k=5) in {extractor} features",
        "directions": {f"{key}_{extractor}": d for key, d in DIRECTIONS.items()},
    })
    METRICS.register(extractor)(cls)


for _name in EXTRACTORS:
    _register(_name)
