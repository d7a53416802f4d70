"""Image datasets, scaled to [-1, 1]: sklearn digits (offline), torchvision MNIST, Fashion-MNIST and
CIFAR-10 from ``data.root``, and ``fake`` noise images for smoke and dry runs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from filelock import FileLock
from torch import Tensor

from ganbench.data.base import DATASETS, Dataset, data_root
from ganbench.data.spec import DataSpec
from ganbench.errors import DataError

if TYPE_CHECKING:
    from ganbench.config import Config

# Lucic et al. 2018's setup for MNIST-like data: InfoGAN-style net, z 64-D U(-1, 1), batch 64.
LUCIC_DEFAULTS: dict[str, Any] = {
    "model.name": "infogan", "model.latent_dim": 64, "model.latent_distribution": "uniform",
    "model.g_width": 64, "model.d_width": 64, "model.g_norm": "batch", "model.d_norm": "batch",
    "optim.name": "adam", "optim.lr_g": 2e-4, "optim.lr_d": 2e-4, "optim.beta1": 0.5, "optim.beta2": 0.999,
    "train.batch_size": 64, "train.disc_steps": 1, "eval.metrics": [], "eval.n_samples": 2000,
}

DIGITS_TEST_FRACTION = 0.2  # a fixed, stratified hold-out for metrics (1,437 train / 360 test)


def to_unit_range(pixels: Tensor, max_value: float) -> Tensor:
    """uint8-like pixels in [0, max_value] -> float32 in [-1, 1]."""
    return pixels.float() / (max_value / 2) - 1


@DATASETS.register("digits")
class Digits(Dataset):
    description = "sklearn's 1,797 8x8 handwritten digits (bundled, offline), 10 classes"
    splits = ("train", "test", "all")
    # Lucic et al.'s MNIST setup unchanged (infogan net, Adam 2e-4, beta1 0.5, batch 64, z 64-D uniform); only the
    # length differs: 3,000 steps (~134 epochs of the 1,437 training digits, a few minutes on CPU) instead of 20 MNIST
    # epochs. An SVC's mean max-probability on samples is ~0.80 by step 500 and ~0.84 at 3,000, with all 10 classes;
    # an EMA of G (0.999) was no better at 3,000 steps (seeds 0, 1, 1 thread; reports/scripts/quality_digits.py).
    defaults = {**LUCIC_DEFAULTS, "train.steps": 3000, "eval.every": 500, "eval.metrics": ["lenet_digits"],
                "eval.select": "fid_lenet_digits", "eval.final_n_samples": 5000}

    @classmethod
    def spec(cls, config: Config) -> DataSpec:
        return DataSpec(shape=(1, 8, 8), num_classes=10)

    def load(self, split: str = "train") -> tuple[Tensor, Tensor | None]:
        from sklearn.datasets import load_digits  # scikit-learn (~0.5 s): only when digits are read
        from sklearn.model_selection import train_test_split  # (as above)

        digits = load_digits()
        images = torch.from_numpy(digits.images.astype(np.float32)).unsqueeze(1)  # N x 1 x 8 x 8, 0..16
        labels = torch.from_numpy(digits.target.astype(np.int64))
        if split != "all":
            train_index, test_index = train_test_split(np.arange(len(labels)), test_size=DIGITS_TEST_FRACTION,
                                                       stratify=digits.target, random_state=0)
            index = torch.from_numpy(train_index if split == "train" else test_index)
            images, labels = images[index], labels[index]
        return to_unit_range(images, 16.0), labels


class TorchvisionDataset(Dataset):
    """A torchvision dataset read from ``data.root``; downloads (if allowed) happen under a file lock."""

    folder: ClassVar[str]          # torchvision's subfolder of root
    required: ClassVar[tuple[str, ...]]  # files that must exist inside it
    max_value: ClassVar[float] = 255.0
    splits = ("train", "test")

    @property
    def folder_path(self) -> Path:
        return data_root(self.config) / self.folder

    def missing_files(self) -> list[str]:
        return [name for name in self.required if not (self.folder_path / name).exists()]

    def check_available(self) -> None:
        missing = self.missing_files()
        if missing and not self.config.data.download:
            raise DataError(
                f"data.name={self.name}: missing {', '.join(missing)} in {self.folder_path}; put the files there "
                f"(or point data.root / $GANBENCH_DATA at a folder that has them), or set data.download=true"
            )

    def _open(self, split: str) -> Any:
        raise NotImplementedError

    def load(self, split: str = "train") -> tuple[Tensor, Tensor | None]:
        self.check_available()
        root = data_root(self.config)
        root.mkdir(parents=True, exist_ok=True)
        # Concurrent trials must not download into the same folder at once.
        with FileLock(str(root / f".{self.name}.lock")):
            try:
                dataset = self._open(split)
            except RuntimeError as exc:  # torchvision's "Dataset not found or corrupted"
                raise DataError(f"data.name={self.name}: cannot read {self.folder_path}: {exc}") from None
        pixels = torch.as_tensor(np.asarray(dataset.data))
        if pixels.dim() == 3:
            pixels = pixels.unsqueeze(1)  # N x 1 x H x W
        elif pixels.shape[-1] == 3:
            pixels = pixels.permute(0, 3, 1, 2)  # N x H x W x 3 -> N x 3 x H x W
        labels = torch.as_tensor(np.asarray(dataset.targets), dtype=torch.int64)
        return to_unit_range(pixels, self.max_value), labels


MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
               "t10k-labels-idx1-ubyte")


@DATASETS.register("mnist")
class MNIST(TorchvisionDataset):
    description = "MNIST 28x28 from data.root/MNIST/raw (torchvision)"
    folder = "MNIST/raw"
    required = MNIST_FILES
    # Lucic et al.: 15,625 steps = 20 epochs at batch 64.
    defaults = {**LUCIC_DEFAULTS, "train.steps": 15625, "eval.every": 1000}

    @classmethod
    def spec(cls, config: Config) -> DataSpec:
        return DataSpec(shape=(1, 28, 28), num_classes=10)

    def _open(self, split: str) -> Any:
        from torchvision.datasets import MNIST as TorchvisionMNIST  # torchvision datasets: only when read

        return TorchvisionMNIST(str(data_root(self.config)), train=split == "train", download=self.config.data.download)


@DATASETS.register("fashion_mnist")
class FashionMNIST(MNIST):
    description = "Fashion-MNIST 28x28 from data.root/FashionMNIST/raw (torchvision)"
    folder = "FashionMNIST/raw"

    def _open(self, split: str) -> Any:
        from torchvision.datasets import FashionMNIST as TorchvisionFashionMNIST  # only when read

        return TorchvisionFashionMNIST(str(data_root(self.config)), train=split == "train",
                                       download=self.config.data.download)


@DATASETS.register("cifar10")
class CIFAR10(TorchvisionDataset):
    description = "CIFAR-10 32x32x3 from data.root/cifar-10-batches-py (torchvision; checks MD5 sums)"
    folder = "cifar-10-batches-py"
    required = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch", "batches.meta")
    defaults = {
        "model.name": "dcgan", "model.latent_dim": 128, "model.latent_distribution": "normal",
        "model.g_width": 64, "model.d_width": 64, "model.g_norm": "batch", "model.d_norm": "batch",
        "optim.name": "adam", "optim.lr_g": 2e-4, "optim.lr_d": 2e-4, "optim.beta1": 0.5, "optim.beta2": 0.999,
        "train.batch_size": 64, "train.steps": 50000, "eval.every": 2500, "eval.metrics": [],
        "eval.n_samples": 10000,
    }

    @classmethod
    def spec(cls, config: Config) -> DataSpec:
        return DataSpec(shape=(3, 32, 32), num_classes=10)

    def _open(self, split: str) -> Any:
        from torchvision.datasets import CIFAR10 as TorchvisionCIFAR10  # only when read

        return TorchvisionCIFAR10(str(data_root(self.config)), train=split == "train", download=self.config.data.download)


FAKE_SIZE = 512


@DATASETS.register("fake")
class Fake(Dataset):
    description = "uniform noise images of data.shape with 10 random labels, for smoke runs and dry runs"
    splits = ("train", "test")
    defaults = {
        "model.name": "dcgan", "model.latent_dim": 16, "model.g_width": 8, "model.d_width": 8,
        "optim.lr_g": 2e-4, "optim.lr_d": 2e-4, "train.batch_size": 16, "train.steps": 20, "eval.every": 10,
        "eval.metrics": [], "eval.n_samples": 64,
    }

    @classmethod
    def spec(cls, config: Config) -> DataSpec:
        return DataSpec(shape=tuple(config.data.shape), num_classes=10)

    def load(self, split: str = "train") -> tuple[Tensor, Tensor | None]:
        generator = torch.Generator().manual_seed(0 if split == "train" else 1)
        samples = torch.rand((FAKE_SIZE, *self.config.data.shape), generator=generator) * 2 - 1
        return samples, torch.randint(10, (FAKE_SIZE,), generator=generator)
