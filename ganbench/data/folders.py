"""Image datasets read from folders of image files, resized and center-cropped to ``data.image_size``
and scaled to [-1, 1]: ``celeba`` (torchvision's aligned CelebA) and ``image_folder`` (any folder).

Both decode every image of a split into memory as float32 once: 3 x 64 x 64 images take 48 KiB each
(CelebA's 162,770 training images ~8 GB), so ``data.limit`` caps how many are read.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from filelock import FileLock
from PIL import Image
from torch import Tensor

from ganbench.data.base import DATASETS, Dataset, data_root
from ganbench.data.images import to_unit_range
from ganbench.data.spec import DataSpec
from ganbench.errors import DataError

if TYPE_CHECKING:
    from ganbench.config import Config

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff")
TEST_EVERY = 10  # image_folder holds out every 10th image (in sorted order) as its test split

# DCGAN on 64 x 64 faces (Radford et al. 2016): z 100-D, Adam 2e-4 / 0.5, batch 128, batch norm.
FACES_DEFAULTS: dict[str, Any] = {
    "model.name": "dcgan", "model.latent_dim": 100, "model.latent_distribution": "normal",
    "model.g_width": 64, "model.d_width": 64, "model.g_norm": "batch", "model.d_norm": "batch",
    "optim.name": "adam", "optim.lr_g": 2e-4, "optim.lr_d": 2e-4, "optim.beta1": 0.5, "optim.beta2": 0.999,
    "train.batch_size": 128, "train.steps": 20000, "eval.every": 2000, "eval.metrics": [], "eval.n_samples": 5000,
}


def transform(size: int) -> Any:
    """PIL image -> uint8 3 x size x size: resize the short side, then center-crop."""
    from torchvision import transforms  # torchvision: only when images are read

    return transforms.Compose([transforms.Lambda(lambda image: image.convert("RGB")), transforms.Resize(size),
                               transforms.CenterCrop(size), transforms.PILToTensor()])


def read_images(paths: list[Path], size: int) -> Tensor:
    """uint8 N x 3 x size x size from image files."""
    to_tensor = transform(size)
    images = torch.empty((len(paths), 3, size, size), dtype=torch.uint8)
    for index, path in enumerate(paths):
        try:
            with Image.open(path) as image:
                images[index] = to_tensor(image)
        except OSError as exc:
            raise DataError(f"cannot read image {path}: {exc}") from None
    return images


def limited(count: int, config: Config) -> int:
    return min(count, config.data.limit) if config.data.limit else count


CELEBA_FILES = ("list_eval_partition.txt", "identity_CelebA.txt", "list_attr_celeba.txt", "list_bbox_celeba.txt",
                "list_landmarks_align_celeba.txt", "img_align_celeba")


@DATASETS.register("celeba")
class CelebA(Dataset):
    description = "CelebA aligned faces from data.root/celeba (torchvision), resized and center-cropped to " \
                  "data.image_size (64), unlabelled"
    splits = ("train", "valid", "test")
    defaults = FACES_DEFAULTS

    @classmethod
    def spec(cls, config: Config) -> DataSpec:
        return DataSpec(shape=(3, config.data.image_size, config.data.image_size))

    @property
    def folder_path(self) -> Path:
        return data_root(self.config) / "celeba"

    def check_available(self) -> None:
        missing = [name for name in CELEBA_FILES if not (self.folder_path / name).exists()]
        if missing and not self.config.data.download:
            raise DataError(f"data.name=celeba: missing {', '.join(missing)} in {self.folder_path}; put the files "
                            "there (or point data.root / $GANBENCH_DATA at a folder that has them), or set "
                            "data.download=true")

    def load(self, split: str = "train") -> tuple[Tensor, Tensor | None]:
        from torchvision.datasets import CelebA as TorchvisionCelebA  # only when CelebA is read

        self.check_available()
        root = data_root(self.config)
        root.mkdir(parents=True, exist_ok=True)
        with FileLock(str(root / ".celeba.lock")):
            try:
                dataset = TorchvisionCelebA(str(root), split=split, target_type=[],
                                            download=self.config.data.download)
            except RuntimeError as exc:  # torchvision's "Dataset not found or corrupted"
                raise DataError(f"data.name=celeba: cannot read {self.folder_path}: {exc}") from None
        names = dataset.filename[:limited(len(dataset.filename), self.config)]
        paths = [self.folder_path / "img_align_celeba" / name for name in names]
        return to_unit_range(read_images(paths, self.config.data.image_size), 255.0), None


@DATASETS.register("image_folder")
class ImageFolder(Dataset):
    description = "any folder of images (data.folder), resized and center-cropped to data.image_size; one " \
                  "subfolder per class gives labels"
    splits = ("train", "test")
    defaults = FACES_DEFAULTS

    @classmethod
    def folder(cls, config: Config) -> Path:
        return Path(config.data.folder).expanduser().resolve()

    @classmethod
    def classes(cls, config: Config) -> list[str]:
        """Subfolder names, sorted: class c is the c-th (none: the images are unlabelled)."""
        folder = cls.folder(config)
        if not config.data.folder or not folder.is_dir():
            return []
        return sorted(child.name for child in folder.iterdir() if child.is_dir() and not child.name.startswith("."))

    @classmethod
    def spec(cls, config: Config) -> DataSpec:
        return DataSpec(shape=(3, config.data.image_size, config.data.image_size),
                        num_classes=len(cls.classes(config)))

    def files(self) -> list[tuple[Path, int]]:
        folder = self.folder(self.config)
        classes = self.classes(self.config)
        if not classes:
            return [(path, 0) for path in sorted(folder.iterdir()) if path.suffix.lower() in IMAGE_SUFFIXES]
        return [(path, index) for index, name in enumerate(classes) for path in sorted((folder / name).rglob("*"))
                if path.suffix.lower() in IMAGE_SUFFIXES]

    def check_available(self) -> None:
        folder = self.folder(self.config)
        if not self.config.data.folder:
            raise DataError("data.name=image_folder: set data.folder to a folder of images")
        if not folder.is_dir():
            raise DataError(f"data.name=image_folder: no such folder {folder}")
        if not self.files():
            raise DataError(f"data.name=image_folder: no images ({', '.join(IMAGE_SUFFIXES)}) in {folder} "
                            "or its class subfolders")

    def load(self, split: str = "train") -> tuple[Tensor, Tensor | None]:
        self.check_available()
        chosen = [item for index, item in enumerate(self.files()) if (index % TEST_EVERY == TEST_EVERY - 1)
                  == (split == "test")]
        chosen = chosen[:limited(len(chosen), self.config)]
        images = to_unit_range(read_images([path for path, _ in chosen], self.config.data.image_size), 255.0)
        labels = torch.tensor([label for _, label in chosen], dtype=torch.int64) if self.classes(self.config) else None
        return images, labels
