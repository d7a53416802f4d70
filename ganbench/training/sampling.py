"""Rebuilding a generator from a checkpoint, and exporting samples in their natural dtype."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ganbench.config import Config
from ganbench.data import DATASETS, Dataset, DataSpec
from ganbench.errors import GanbenchError
from ganbench.metrics.evaluator import generate
from ganbench.models import build_models

WEIGHTS = ("best", "final", "ema")


def load_generator(state: dict[str, Any], config: Config, weights: str = "best") -> nn.Module:
    """G from a checkpoint: the best generator (or the final one if nothing was selected), the final
    weights, or the EMA copy."""
    spec = DATASETS.get(config.data.name).spec(config)
    # Fresh weights are drawn from the global random stream, and the weights loaded next replace them: a forked
    # stream leaves training's untouched. A sweep trial draws its sample image here at every evaluation; from the
    # global stream it drew other numbers than `ganbench train` of the same config from its second evaluation on.
    with torch.random.fork_rng(devices=[]):
        generator, _ = build_models(config, spec)
    chosen = {"best": state.get("best_generator") or state["generator"], "final": state["generator"],
              "ema": state.get("ema_generator")}[weights]
    if chosen is None:
        raise GanbenchError("--weights ema: this run kept no EMA generator (optim.ema was 0)")
    generator.load_state_dict(chosen)
    return generator


def to_export(samples: Tensor, spec: DataSpec) -> np.ndarray:
    """Points as float32 N x D; images as uint8 N x C x H x W (from [-1, 1])."""
    if not spec.is_image:
        return samples.float().numpy().astype(np.float32)
    return ((samples.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()


def draw(generator: nn.Module, config: Config, n: int, seed: int, class_index: int | None = None) -> Tensor:
    """``n`` samples; a conditional G draws every class equally, or only ``class_index`` if given."""
    num_classes = getattr(generator, "num_classes", 0)
    if class_index is None:
        return generate(generator, config, n, seed, torch.device("cpu"))
    if not num_classes:
        raise GanbenchError("--class: this generator is not conditional (data.conditional was false)")
    if not 0 <= class_index < num_classes:
        raise GanbenchError(f"--class: {class_index} is not a class of this generator (0..{num_classes - 1})")
    return generate(generator, config, n, seed, torch.device("cpu"), torch.full((n,), class_index))


def draw_per_class(generator: nn.Module, config: Config, per_class: int, seed: int) -> Tensor:
    """classes x per_class samples of a conditional G, class by class (row c holds class c)."""
    num_classes = getattr(generator, "num_classes", 0)
    if not num_classes:
        raise GanbenchError("per-class samples need a conditional generator (data.conditional: true)")
    labels = torch.arange(num_classes).repeat_interleave(per_class)
    samples = generate(generator, config, len(labels), seed, torch.device("cpu"), labels)
    return samples.reshape(num_classes, per_class, *samples.shape[1:])


def dataset_of(config: Config) -> Dataset:
    return DATASETS.get(config.data.name)(config)
