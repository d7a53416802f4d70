"""Intra-class metrics for class-conditional digits, in ``lenet_digits`` space: does each requested class look
like that class's real images, in all their variety? Class accuracy cannot tell: a generator that draws one
perfect image per class scores 100% on it. Per class c, the generated samples asked for c are compared with
the real images of class c in ``eval.split``; each key is the mean over classes:

- ``intra_fid_lenet_digits``: StudioGAN's iFID (per-class FID), when every class has more real images than the
  128 feature dimensions; otherwise per-class covariances are singular and ``intra_kid_lenet_digits`` (per-class
  KID, unbiased, which needs no covariance) is reported instead. Digits' test split has about 36 images per
  class, so digits get iKID; the protocol names the split and the count per class.
- ``intra_recall_lenet_digits`` (Kynkaanniemi et al. 2019, k=3) and ``intra_coverage_lenet_digits`` (Naeem et
  al. 2020, k=5): the fraction of a class's real images that its samples reach.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from ganbench.data import DATASETS
from ganbench.data.base import Dataset
from ganbench.metrics.base import METRICS
from ganbench.metrics.conditional import EXTRACTOR, ConditionalDigitsMetric
from ganbench.metrics.lenet import FEATURE_DIM
from ganbench.models.conditioning import balanced_labels

if TYPE_CHECKING:
    from ganbench.config import Config

KEYS = {"fid": "min", "kid": "min", "recall": "max", "coverage": "max"}
WORST = {"fid": 1e9, "kid": 1e9, "recall": 0.0, "coverage": 0.0}


def key(name: str) -> str:
    return f"intra_{name}_{EXTRACTOR}"


def class_counts(config: Config, split: str) -> list[int]:
    """Real images per class in ``split`` (digits' labels load in milliseconds)."""
    _, labels = DATASETS.get(config.data.name)(config).load(split)
    return [int(n) for n in torch.bincount(labels)]


def distance(config: Config) -> str:
    """"fid" where every class has more real images than feature dimensions, in both the split trials are
    evaluated on and the final split (so that one key names the metric in both stages), else "kid"."""
    fewest = min(min(class_counts(config, split)) for split in {config.eval.split, config.eval.final_split})
    return "fid" if fewest > FEATURE_DIM else "kid"


@METRICS.register("intra_class")
class IntraClass(ConditionalDigitsMetric):
    description = (f"conditional digits: per-class FID (iFID) or, below {FEATURE_DIM} real images a class, per-class "
                   f"KID; per-class recall and coverage; means over classes, in {EXTRACTOR} features")
    directions = {key(name): direction for name, direction in KEYS.items()}

    @classmethod
    def reported_keys(cls, config: Config) -> set[str]:
        return {key(distance(config)), key("recall"), key("coverage")}

    @classmethod
    def prepare_real(cls, dataset: Dataset, config: Config, split: str,
                     device: torch.device | None = None) -> dict[str, Any]:
        return real_classes(dataset, split, device)

    def __init__(self, dataset: Dataset, config: Config, real: dict[str, Any] | None = None,
                 device: torch.device | None = None) -> None:
        super().__init__(dataset, config, real, device)
        self.distance = distance(config)
        self.real = real if real is not None else self.prepare_real(dataset, config, config.eval.split, self.device)

    def __call__(self, samples: Tensor) -> dict[str, float]:
        from ganbench.metrics import fidelity  # torch-fidelity (~2 s) only when scoring

        features = fidelity.extract(EXTRACTOR, samples, self.device)["features"]
        labels = balanced_labels(len(samples), len(self.real["classes"]))
        return per_class_means(features, labels, self.real, self.distance, self.config.seed)

    def worst(self) -> dict[str, float]:
        return {key(name): WORST[name] for name in (self.distance, "recall", "coverage")}

    def protocol(self, n_fake: int) -> dict[str, Any]:
        counts = [len(c["features"]) for c in self.real["classes"]]
        return {**self.real["protocol"], "n_fake": n_fake, "n_fake_per_class": n_fake // len(counts),
                "n_real_per_class": counts, "labels": "balanced", "distance": self.distance,
                "why": (f"per-class FID (iFID): every class has more than {FEATURE_DIM} real images"
                        if self.distance == "fid" else
                        f"per-class KID instead of iFID: a class has {min(counts)} real images, fewer than the "
                        f"{FEATURE_DIM} feature dimensions, so its covariance is singular"),
                "recall_k": 3, "coverage_k": 5, "aggregate": "mean over classes"}


def real_classes(dataset: Dataset, split: str, device: torch.device | None = None) -> dict[str, Any]:
    """Per class, the real side's features and statistics (real images of ``split``), on the CPU."""
    from ganbench.metrics import fidelity  # torch-fidelity (~2 s) only when scoring

    samples, labels = dataset.load(split)
    features = fidelity.extract(EXTRACTOR, samples, device)["features"]
    classes = [fidelity.real_statistics(features[labels == c]) for c in range(int(labels.max()) + 1)]
    protocol = {"dataset": dataset.name, "split": split, "n_real": len(samples), "extractor": EXTRACTOR,
                "weights_sha256": fidelity.weights_sha256(EXTRACTOR)}
    return {"classes": classes, "protocol": protocol}


def per_class_means(features: Tensor, labels: Tensor, real: dict[str, Any], distance: str,
                    seed: int = 0) -> dict[str, float]:
    """The means over classes of the per-class distance, recall and coverage."""
    from ganbench.metrics import fidelity  # torch-fidelity (~2 s) only when scoring

    totals = dict.fromkeys((distance, "recall", "coverage"), 0.0)
    for c, real_class in enumerate(real["classes"]):
        fake = features[labels == c]
        if distance == "fid":
            totals["fid"] += fidelity.fid(fake, real_class)
        else:
            totals["kid"] += fidelity.kid(fake, real_class["features"], seed)[0]
        totals["recall"] += fidelity.precision_recall(fake, real_class["features"])[1]
        totals["coverage"] += fidelity.density_coverage(fake, real_class)[1]
    return {key(name): total / len(real["classes"]) for name, total in totals.items()}
