"""Dataset base class, registry, and the shuffled batch stream the training loop draws from."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import Tensor

from ganbench.data.spec import DataSpec
from ganbench.registry import Registry

if TYPE_CHECKING:
    from ganbench.config import Config


class Dataset:
    """A dataset scaled to [-1, 1] (images) or in its own coordinates (2-D mixtures).

    ``defaults`` holds the documented per-dataset settings (dotted config keys) that
    ``ganbench train --set data.name=...`` starts from.
    """

    name: str = ""
    description: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}
    splits: ClassVar[tuple[str, ...]] = ("train",)

    def __init__(self, config: Config) -> None:
        self.config = config

    @classmethod
    def spec(cls, config: Config) -> DataSpec:
        """The data spec, known without loading any file."""
        raise NotImplementedError

    def check_available(self) -> None:
        """Raise ``DataError`` naming the missing files and their folder; cheap, loads nothing."""

    def load(self, split: str = "train") -> tuple[Tensor, Tensor | None]:
        """All samples of a split as float32 (N, *shape), and int64 labels or None."""
        raise NotImplementedError


DATASETS: Registry[type[Dataset]] = Registry("dataset", Dataset, key="data.name")


class ShuffledBatches:
    """Endless batches, reshuffled every epoch (last partial batch dropped), with a checkpointable
    state of its own so that data order does not depend on model code drawing random numbers."""

    def __init__(self, samples: Tensor, labels: Tensor | None, batch_size: int, seed: int,
                 device: torch.device | str = "cpu") -> None:
        if batch_size > len(samples):
            raise ValueError(f"batch size {batch_size} exceeds the {len(samples)} samples of the dataset")
        self.samples, self.labels, self.batch_size, self.device = samples, labels, batch_size, device
        self.generator = torch.Generator().manual_seed(seed)
        self.order = torch.randperm(len(samples), generator=self.generator)
        self.position = 0

    def next(self) -> tuple[Tensor, Tensor | None]:
        if self.position + self.batch_size > len(self.order):
            self.order = torch.randperm(len(self.samples), generator=self.generator)
            self.position = 0
        index = self.order[self.position:self.position + self.batch_size]
        self.position += self.batch_size
        labels = None if self.labels is None else self.labels[index].to(self.device)
        return self.samples[index].to(self.device), labels

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state(), "order": self.order.clone(), "position": self.position}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.order = state["order"].clone()
        self.position = int(state["position"])


def data_root(config: Config) -> Path:
    """``data.root`` as an absolute path (Ray trials run in their own working directories)."""
    root = config.data.root or os.environ.get("GANBENCH_DATA") or "~/.cache/ganbench/data"
    return Path(root).expanduser().resolve()
