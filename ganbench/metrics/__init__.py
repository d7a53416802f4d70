"""Metrics. Importing this package registers every metric in ``METRICS``."""

from ganbench.metrics import conditional, image, intra_class, modes2d, stacked  # noqa: F401  (registration)
from ganbench.metrics.base import METRICS, Metric

__all__ = ["METRICS", "Metric"]
