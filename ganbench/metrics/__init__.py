"""Metrics. ``METRICS`` holds every metric family, registered on first use of the registry (PEP 562), so that a
module that needs only ``ganbench.metrics.keys`` (a sweep file's parse) imports no torch."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ganbench.metrics.base import METRICS, Metric, direction_of, known_direction

__all__ = ["METRICS", "Metric", "direction_of", "known_direction"]
FAMILIES = ("conditional", "image", "intra_class", "modes2d", "stacked")


def registered() -> Any:
    """The metric registry with every family in it."""
    for family in FAMILIES:
        importlib.import_module(f"ganbench.metrics.{family}")
    from ganbench.metrics.base import METRICS  # (torch: only once the registry is used)

    return METRICS


def __getattr__(name: str) -> Any:
    if name == "METRICS":
        return registered()
    if name in ("Metric", "direction_of", "known_direction"):  # these read the registry: fill it first
        registered()
        from ganbench.metrics import base  # (as above)

        return getattr(base, name)
    raise AttributeError(f"module 'ganbench.metrics' has no attribute {name!r}")
