"""Metric base class and registry. A metric prepares its real side once, then scores samples."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import Tensor

from ganbench.data.base import Dataset
from ganbench.metrics.keys import Direction
from ganbench.registry import Registry

if TYPE_CHECKING:
    from ganbench.config import Config


class Metric:
    """``metric(samples) -> {key: value}``; ``directions`` says which way each key improves."""

    name: str = ""
    description: ClassVar[str] = ""
    directions: ClassVar[dict[str, str]] = {}  # key -> "min" | "max"

    @classmethod
    def unsupported_reason(cls, dataset: type[Dataset], config: Config) -> str | None:
        """Why this metric cannot score this dataset, or None."""
        return None

    @classmethod
    def reported_keys(cls, config: Config) -> set[str]:
        """The keys this metric reports under this config."""
        return set(cls.directions)

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Why this metric cannot be computed on this machine (e.g. missing weights), or None."""
        return None

    @classmethod
    def prepare_real(cls, dataset: Dataset, config: Config, split: str,
                     device: torch.device | None = None) -> dict[str, Any] | None:
        """The real-side statistics this metric needs to score against ``split``, or None if it needs none. A sweep's
        driver prepares them once per study and split, and hands them to every trial as ``real``."""
        return None

    def __init__(self, dataset: Dataset, config: Config, real: dict[str, Any] | None = None,
                 device: torch.device | None = None) -> None:
        self.dataset = dataset
        self.config = config
        self.device = device or torch.device("cpu")  # where samples are scored: the trial's device

    def protocol(self, n_fake: int) -> dict[str, Any]:
        """How the number was made: n_real, n_fake, split, extractor, weights hash."""
        return {"n_fake": n_fake}

    def __call__(self, samples: Tensor) -> dict[str, float]:
        raise NotImplementedError

    def worst(self) -> dict[str, float]:
        """Finite worst values: the sentinel reported for diverged runs."""
        raise NotImplementedError


METRICS: Registry[type[Metric]] = Registry("metric", Metric, key="eval.metrics")


def direction_of(key: str, metric_names: tuple[str, ...]) -> Direction:
    """Which way a metric key produced by one of the named metrics improves."""
    for name in metric_names:
        directions = METRICS.get(name).directions
        if key in directions:
            return Direction(directions[key])
    raise KeyError(key)


def known_direction(key: str) -> Direction | None:
    """Which way ``key`` improves by any registered metric's declaration; None if no metric declares it."""
    found = next((m.directions[key] for _, m in METRICS.items() if key in m.directions), None)
    return Direction(found) if found is not None else None
