"""Real-side features and statistics, computed once and cached on disk.

Keyed by dataset, split, extractor, weights hash and n, so that a retrained extractor or another
split never reuses stale numbers. Trials read; only drivers (``ganbench train`` alone, a sweep's
driver, ``ganbench evaluate``) write.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from ganbench.data import Dataset
from ganbench.metrics import fidelity
from ganbench.metrics.extractors import cache_dir


def cache_path(dataset: Dataset, split: str, extractor: str, n: int | None) -> Path:
    sha = fidelity.weights_sha256(extractor)[:12]
    return cache_dir() / "real" / f"{dataset.name}-{split}-{extractor}-{sha}-n{n or 'all'}.pt"


def compute(dataset: Dataset, split: str, extractor: str, n: int | None,
            device: torch.device | None = None) -> dict[str, Any]:
    samples, _ = dataset.load(split)
    if n is not None:
        samples = samples[torch.randperm(len(samples), generator=torch.Generator().manual_seed(0))[:n]]
    statistics = fidelity.real_statistics(fidelity.extract(extractor, samples, device)["features"])
    protocol = {"dataset": dataset.name, "split": split, "n_real": len(samples), "extractor": extractor,
                "weights_sha256": fidelity.weights_sha256(extractor)}
    return {**statistics, "protocol": protocol}


def real_side(dataset: Dataset, split: str, extractor: str, n: int | None = None, write: bool = True,
              device: torch.device | None = None) -> dict[str, Any]:
    """The cached real side, computing (and, if ``write``, storing) it on a miss. Features are extracted on
    ``device``; what is cached lives on the CPU, so any device reads it."""
    path = cache_path(dataset, split, extractor, n)
    if path.is_file():
        return torch.load(path, map_location="cpu", weights_only=True)
    side = compute(dataset, split, extractor, n, device)
    if write:
        # Written atomically: trials on other workers may read the cache while a driver fills it.
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        torch.save(side, partial)
        os.replace(partial, path)
    return side
