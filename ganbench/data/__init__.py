"""Datasets. Importing this package registers every dataset in ``DATASETS``."""

from ganbench.data import folders, images, stacked, toy2d  # noqa: F401  (registration)
from ganbench.data.base import DATASETS, Dataset, ShuffledBatches
from ganbench.data.spec import DataSpec

__all__ = ["DATASETS", "DataSpec", "Dataset", "ShuffledBatches"]
