"""The final evaluation: the number a leaderboard ranks, computed one way for a sweep's final-stage
trials and for ``ganbench evaluate``.

The best generator is scored at ``eval.final_n_samples`` with fresh noise (its own seed, apart from
training's and from the evaluations during training), against the held-out ``eval.final_split``,
with every image metric.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import torch

from ganbench.config import Config, validate
from ganbench.metrics.evaluator import Evaluator, generate
from ganbench.metrics.image import FIDELITY
from ganbench.training.sampling import dataset_of, load_generator

NOISE_SEED_OFFSET = 7_777_777  # the final evaluation's noise: config.seed + this


@dataclass
class FinalEvaluation:
    scores: dict[str, float]                 # metric keys as the metrics name them (fid_lenet_digits, ...)
    protocol: dict[str, Any]                 # per metric: n_real, n_fake, split, extractor, weights hash
    unavailable: dict[str, str] = field(default_factory=dict)  # metric -> why it cannot be computed here
    noise_seed: int = 0


def final_config(config: Config, metrics: tuple[str, ...] | None = None, n_samples: int | None = None,
                 split: str | None = None) -> Config:
    """The config a final evaluation scores under: the final size and split, every image metric."""
    final = replace(config, eval=replace(config.eval, metrics=config.eval.metrics if metrics is None else metrics,
                                         n_samples=n_samples or config.eval.final_n_samples,
                                         split=split or config.eval.final_split, fidelity=FIDELITY))
    validate(final)  # e.g. --metrics naming one the data has no extractor for
    return final


def final_evaluation(state: dict[str, Any], config: Config, real_sides: dict[str, Any] | None = None, *,
                     weights: str = "best", metrics: tuple[str, ...] | None = None, n_samples: int | None = None,
                     split: str | None = None, noise_seed: int | None = None,
                     device: torch.device | None = None) -> FinalEvaluation:
    """Score a checkpoint's generator under the final protocol. ``real_sides`` hands in the real-side
    statistics by metric name (a sweep's driver prepares them once); the rest override the protocol, as
    ``ganbench evaluate`` lets a user do. The default noise seed is the one a final-stage trial uses."""
    device = device or torch.device("cpu")
    config = final_config(config, metrics, n_samples, split)
    seed = config.seed + NOISE_SEED_OFFSET if noise_seed is None else noise_seed
    evaluator = Evaluator(dataset_of(config), config, device, real_sides)
    generator = load_generator(state, config, weights).to(device)
    samples = generate(generator, config, config.eval.n_samples, seed=seed, device=device)
    scores: dict[str, float] = {}
    for metric in evaluator.metrics:
        scores.update(metric(samples))
    return FinalEvaluation(scores, evaluator.protocol, evaluator.unavailable, seed)
