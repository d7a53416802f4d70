"""The shape of a dataset, which models are sized from (kept free of torch)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DataSpec:
    """``shape`` is (features,) for points or (C, H, W) for images; ``num_classes`` 0 = unlabelled."""

    shape: tuple[int, ...]
    num_classes: int = 0

    @property
    def is_image(self) -> bool:
        return len(self.shape) == 3

    @property
    def shape_text(self) -> str:
        return "x".join(str(n) for n in self.shape)
