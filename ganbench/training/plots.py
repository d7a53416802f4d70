"""Sample figures: a 2-D scatter over the true means, or an image grid."""

from __future__ import annotations

import os
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window; before pyplot loads a backend

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from torch import Tensor  # noqa: E402

from ganbench.data import Dataset  # noqa: E402


def make_grid(samples: Tensor, **options: Any) -> Tensor:
    """torchvision's image grid, imported on first use: torchvision loads torch._dynamo, seconds of every
    command's start-up, and 2-D data never draws a grid."""
    from torchvision.utils import make_grid as torchvision_grid  # lazy: loads torch._dynamo (see above)

    return torchvision_grid(samples, **options)


def save_samples(samples: Tensor, dataset: Dataset, path: str | os.PathLike, title: str = "") -> None:
    fig = samples_figure(samples, dataset, title)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def samples_image(samples: Tensor, dataset: Dataset, title: str = "") -> np.ndarray:
    """The sample figure as an RGB array (H x W x 3, uint8), e.g. for ``mlflow.log_image``."""

    fig = samples_figure(samples, dataset, title, size=4)
    fig.canvas.draw()
    image = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return image


def samples_raster(samples: Tensor, dataset: Dataset, size: int = 256) -> np.ndarray:
    """A quick RGB array of samples without matplotlib (a few ms): an image grid, or a 2-D density raster with
    the true means in red. Used for the per-evaluation grids a trial logs, where plotting time would add up."""
    if samples.dim() == 4:

        grid = make_grid(samples[:100].clamp(-1, 1), nrow=10, normalize=True, value_range=(-1, 1), pad_value=1.0)
        image = (grid.permute(1, 2, 0).numpy() * 255).astype(np.uint8)
        scale = max(1, size // max(image.shape[:2]))
        return image.repeat(scale, axis=0).repeat(scale, axis=1)
    means = getattr(dataset, "means", None)
    span = float(np.abs(means).max() * 1.5) if means is not None else float(samples.abs().max()) or 1.0
    points = samples.numpy()
    counts, _, _ = np.histogram2d(points[:, 1], points[:, 0], bins=size, range=[[-span, span], [-span, span]])
    shade = np.where(counts > 0, 160 - np.clip(counts * 32, 0, 160), 255).astype(np.uint8)[::-1]  # y axis up
    image = np.stack([shade] * 3, axis=-1)
    if means is not None:
        for x, y in means:
            col, row = int((x + span) / (2 * span) * (size - 1)), int((span - y) / (2 * span) * (size - 1))
            for dr in range(-4, 5):  # a hollow red square, so the samples at the mean stay visible
                for dc in (-4, 4):
                    for r, c in ((row + dr, col + dc), (row + dc, col + dr)):
                        if 0 <= r < size and 0 <= c < size:
                            image[r, c] = (220, 30, 30)
    return image


def samples_figure(samples: Tensor, dataset: Dataset, title: str = "", size: float = 5) -> Any:
    means = getattr(dataset, "means", None)
    if samples.dim() == 2:
        fig, ax = plt.subplots(figsize=(size, size))
        points = samples.numpy()
        ax.scatter(points[:, 0], points[:, 1], s=2, alpha=0.4, label=f"generated ({len(points)})")
        if means is not None:
            ax.scatter(means[:, 0], means[:, 1], marker="x", color="red", s=40, label="true means")
            span = np.abs(means).max() * 1.5
            ax.set_xlim(-span, span)
            ax.set_ylim(-span, span)
        ax.set_aspect("equal")
        ax.set_xlabel("x1")
        ax.set_ylabel("x2")
        ax.legend(loc="upper right", fontsize=8)
    else:

        count = min(len(samples), 100)
        grid = make_grid(samples[:count].clamp(-1, 1), nrow=10, normalize=True, value_range=(-1, 1), pad_value=1.0)
        fig, ax = plt.subplots(figsize=(size, size))
        ax.imshow(grid.permute(1, 2, 0).numpy(), interpolation="nearest")
        ax.axis("off")
    ax.set_title(title or dataset.name)
    fig.tight_layout()
    return fig


def save_class_grid(per_class: Tensor, path: str | os.PathLike, title: str = "") -> None:
    """A conditional G's samples, one row per class: images as a grid (row c = class c), points as a
    scatter coloured by class. ``per_class`` is classes x n x sample shape (``sampling.draw_per_class``)."""

    classes, per_row = per_class.shape[:2]
    if per_class.dim() == 3:  # points
        fig, ax = plt.subplots(figsize=(5, 5))
        for index in range(classes):
            ax.scatter(per_class[index, :, 0].numpy(), per_class[index, :, 1].numpy(), s=3, label=str(index))
        ax.set_aspect("equal")
        ax.legend(loc="upper right", fontsize=6, markerscale=3, title="class")
    else:

        grid = make_grid(per_class.flatten(0, 1).clamp(-1, 1), nrow=per_row, normalize=True, value_range=(-1, 1),
                         pad_value=1.0)
        fig, ax = plt.subplots(figsize=(max(4, per_row * 0.5), max(4, classes * 0.5)))
        ax.imshow(grid.permute(1, 2, 0).numpy(), interpolation="nearest")
        ax.set_yticks([(index + 0.5) * grid.shape[1] / classes for index in range(classes)],
                      [str(index) for index in range(classes)])
        ax.set_xticks([])
        ax.set_ylabel("requested class")
    ax.set_title(title or "samples per class")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
