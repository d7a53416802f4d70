"""Metrics for class-conditional generation: does an independent classifier recognise the requested class?

Samples come from ``evaluation.generate``, which asks a conditional G for ``balanced_labels`` (0, 1, ...,
C-1, 0, ...); the metric scores them against those same labels.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from ganbench.data.base import Dataset
from ganbench.metrics.base import METRICS, Metric
from ganbench.metrics.extractors import EXTRACTORS, load_lenet
from ganbench.models.conditioning import balanced_labels

if TYPE_CHECKING:
    from ganbench.config import Config

EXTRACTOR = "lenet_digits"
KEY = f"class_accuracy_{EXTRACTOR}"
BATCH = 1000
Classifier = Callable[[Tensor], Tensor]  # samples in [-1, 1] -> logits N x classes


@torch.no_grad()
def class_accuracy(classifier: Classifier, samples: Tensor, labels: Tensor) -> tuple[float, list[float]]:
    """The fraction of samples classified as their requested label, overall and per class."""
    predicted = torch.cat([classifier(batch).argmax(dim=1) for batch in samples.split(BATCH)])
    hits = (predicted == labels).double()
    per_class = [float(hits[labels == c].mean()) for c in range(int(labels.max()) + 1)]
    return float(hits.mean()), per_class


def lenet_classifier(device: torch.device | None = None) -> Classifier:
    """lenet_digits on ``device``; logits come back to the CPU."""
    model, _ = load_lenet(EXTRACTORS[EXTRACTOR])
    device = torch.device(device or "cpu")
    model = model.to(device)
    return lambda samples: model(samples.float().to(device))[1].cpu()


class ConditionalDigitsMetric(Metric):
    """A metric of class-conditional digits, scored with ``lenet_digits``."""

    @classmethod
    def unsupported_reason(cls, dataset: type[Dataset], config: Config) -> str | None:
        if dataset.name not in EXTRACTORS[EXTRACTOR].domains or dataset.name == "stacked_digits":
            return f"needs digits ({EXTRACTOR}'s classes)"
        return None if config.data.conditional else "needs data.conditional: true"

    @classmethod
    def unavailable_reason(cls) -> str | None:
        return EXTRACTORS[EXTRACTOR].unavailable_reason()


@METRICS.register("class_accuracy")
class ClassAccuracy(ConditionalDigitsMetric):
    description = "conditional digits: accuracy of lenet_digits on samples of balanced requested classes"
    directions = {KEY: "max"}

    def __init__(self, dataset: Dataset, config: Config, real: dict[str, Any] | None = None,
                 device: torch.device | None = None, classifier: Classifier | None = None) -> None:
        super().__init__(dataset, config, real, device)
        self.num_classes = dataset.spec(config).num_classes
        self.classifier = classifier or lenet_classifier(self.device)

    def __call__(self, samples: Tensor) -> dict[str, float]:
        accuracy, _ = class_accuracy(self.classifier, samples, balanced_labels(len(samples), self.num_classes))
        return {KEY: accuracy}

    def worst(self) -> dict[str, float]:
        return {KEY: 0.0}

    def protocol(self, n_fake: int) -> dict[str, Any]:
        from ganbench.metrics import fidelity  # torch-fidelity (~2 s) only when scoring

        return {"n_fake": n_fake, "labels": "balanced", "extractor": EXTRACTOR,
                "weights_sha256": fidelity.weights_sha256(EXTRACTOR)}
