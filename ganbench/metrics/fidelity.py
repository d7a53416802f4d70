"""The torch-fidelity adapter: every call into torch-fidelity lives here.

Samples arrive as float tensors in [-1, 1] (B x C x H x W); the conversion to uint8 B x 3 x H x W
(grayscale repeated) happens here and nowhere else. Features come from our extractors wrapped as
torch-fidelity ``FeatureExtractorBase`` subclasses; the metrics are torch-fidelity's feature-level
functions (FID, unbiased KID, IS, precision/recall with k=3), plus density/coverage (Naeem et al.
2020, k=5) on the same features.
"""

from __future__ import annotations

import copy
import functools
import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch_fidelity.feature_extractor_base import FeatureExtractorBase
from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
from torch_fidelity.metric_isc import isc_features_to_metric
from torch_fidelity.metric_kid import kid_features_to_metric
from torch_fidelity.metric_prc import prc_features_to_metric

from ganbench.metrics.extractors import EXTRACTORS, ExtractorSpec, ExtractorUnavailable, load_lenet

BATCH = 500
KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
PRC_NEIGHBORHOOD = 3
DENSITY_NEIGHBORHOOD = 5


def to_uint8_rgb(samples: Tensor) -> Tensor:
    """[-1, 1] floats, B x C x H x W -> uint8 B x 3 x H x W, grayscale repeated to 3 channels."""
    pixels = ((samples.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return pixels.repeat(1, 3, 1, 1) if pixels.shape[1] == 1 else pixels


class LeNetFeatures(FeatureExtractorBase):
    """A LeNet as a torch-fidelity extractor: uint8 B x 3 x H x W in, (features, logits) out."""

    def __init__(self, name: str, features_list: list[str], lenet: torch.nn.Module) -> None:
        super().__init__(name, features_list)
        self.lenet = lenet

    @staticmethod
    def get_provided_features_list() -> tuple[str, ...]:
        return ("features", "logits")

    @staticmethod
    def get_default_feature_layer_for_metric(metric: str) -> str:
        return "logits" if metric == "isc" else "features"

    @staticmethod
    def can_be_compiled() -> bool:
        return False

    @staticmethod
    def get_dummy_input_for_compile() -> None:
        return None

    def forward(self, images: Tensor) -> tuple[Tensor, ...]:
        gray = images.float().mean(dim=1, keepdim=True) / 127.5 - 1  # channels are copies; back to [-1, 1]
        features, logits = self.lenet(gray)
        by_name = {"features": features, "logits": logits}
        return tuple(by_name[name] for name in self.features_list)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


@functools.lru_cache(maxsize=8)
def load_extractor(name: str) -> tuple[FeatureExtractorBase, str, dict[str, Any]]:
    """(torch-fidelity extractor, weights sha256, record) for one of ``EXTRACTORS``; cached per process."""
    spec: ExtractorSpec = EXTRACTORS[name]
    if spec.kind == "lenet":
        lenet, record = load_lenet(spec)
        # The weights hash goes in the extractor's name so that torch-fidelity's caches never mix weights.
        return LeNetFeatures(f"{name}-{record['sha256'][:8]}", ["features", "logits"], lenet), record["sha256"], record
    reason = spec.unavailable_reason()
    if reason:
        raise ExtractorUnavailable(reason)
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3  # noqa: E501 - only with its weights

    path = spec.weights_path()
    sha = _file_sha256(path)
    extractor = FeatureExtractorInceptionV3(f"inception-v3-compat-{sha[:8]}", ["2048", "logits_unbiased"],
                                            feature_extractor_weights_path=str(path))
    return extractor.eval(), sha, {"weights_path": str(path)}


@functools.lru_cache(maxsize=8)
def extractor_on(name: str, device: str) -> FeatureExtractorBase:
    """The extractor's network on ``device`` (one copy per device and process)."""
    extractor, _, _ = load_extractor(name)
    return extractor if device == "cpu" else copy.deepcopy(extractor).to(device)


@torch.no_grad()
def extract(name: str, samples: Tensor, device: torch.device | None = None) -> dict[str, Tensor]:
    """Features of ``samples`` ([-1, 1] floats) on ``device`` (default: the CPU), ``BATCH`` samples at a time so
    memory stays bounded; returned on the CPU, where the statistics are computed: {"features": N x D,
    "logits": N x K}."""
    device = torch.device(device or "cpu")
    extractor = extractor_on(name, str(device))
    feature_names = extractor.get_requested_features_list()
    chunks: list[tuple[Tensor, ...]] = [tuple(t.cpu() for t in extractor(to_uint8_rgb(batch.to(device))))
                                        for batch in samples.split(BATCH)]
    outputs = {feature: torch.cat([c[i] for c in chunks]).double() for i, feature in enumerate(feature_names)}
    return {"features": outputs[extractor.get_default_feature_layer_for_metric("fid")],
            "logits": outputs[extractor.get_default_feature_layer_for_metric("isc")]}


def weights_sha256(name: str) -> str:
    return load_extractor(name)[1]


def real_statistics(features: Tensor) -> dict[str, Any]:
    """What a trial needs of the real side: features (KID, PR, density) and FID's mean and covariance."""
    statistics = fid_features_to_statistics(features.double())
    radii = _kth_neighbour_distances(features.double(), DENSITY_NEIGHBORHOOD)
    return {"features": features.double(), "mu": torch.from_numpy(statistics["mu"]),
            "sigma": torch.from_numpy(np.atleast_2d(statistics["sigma"])), "radii_k5": radii}


def _kth_neighbour_distances(features: Tensor, k: int) -> Tensor:
    distances = torch.cdist(features, features)
    return distances.kthvalue(k + 1, dim=1).values  # +1: each point is its own nearest neighbour


def fid(fake_features: Tensor, real: dict[str, Any]) -> float:
    fake = fid_features_to_statistics(fake_features.double())
    real_stats = {"mu": real["mu"].numpy(), "sigma": real["sigma"].numpy()}
    return float(fid_statistics_to_metric(fake, real_stats, verbose=False)["frechet_inception_distance"])


def density_coverage(fake_features: Tensor, real: dict[str, Any]) -> tuple[float, float]:
    """Naeem et al. 2020 with k=5: balls around real samples only."""
    inside = torch.cdist(real["features"], fake_features.double()) <= real["radii_k5"][:, None]  # real x fake
    density = float(inside.sum()) / (DENSITY_NEIGHBORHOOD * fake_features.shape[0])
    coverage = float(inside.any(dim=1).float().mean())
    return density, coverage


def kid(fake_features: Tensor, real_features: Tensor, seed: int = 0) -> tuple[float, float]:
    """Unbiased KID (cubic polynomial kernel) over subsets of at most 1,000: (mean, std over subsets)."""
    subset = min(KID_SUBSET_SIZE, len(fake_features), len(real_features))
    # float32, as torch-fidelity's own pipeline: twice as fast as float64 and the same number to ~1e-7.
    out = kid_features_to_metric(fake_features.float(), real_features.float(), kid_subsets=KID_SUBSETS,
                                 kid_subset_size=subset,
                                 rng_seed=seed, verbose=False)
    return out["kernel_inception_distance_mean"], out["kernel_inception_distance_std"]


def inception_score(logits: Tensor, seed: int = 0) -> tuple[float, float]:
    out = isc_features_to_metric(logits, splits=10, shuffle=True, rng_seed=seed)
    return out["inception_score_mean"], out["inception_score_std"]


def precision_recall(fake_features: Tensor, real_features: Tensor) -> tuple[float, float]:
    """Kynkaanniemi et al. 2019 with k=3 (torch-fidelity's convention: input 1 generated, input 2 real)."""
    out = prc_features_to_metric(fake_features.float(), real_features.float(), prc_neighborhood=PRC_NEIGHBORHOOD,
                                 verbose=False)
    return out["precision"], out["recall"]


def scores(fake: dict[str, Tensor], real: dict[str, Any], suffix: str, which: tuple[str, ...],
           seed: int = 0) -> dict[str, float]:
    """The requested metrics of one extractor; keys end in the feature space, e.g. ``fid_lenet_digits``."""
    fake_features, real_features = fake["features"], real["features"]
    values: dict[str, float] = {}
    if "fid" in which:
        values["fid"] = fid(fake_features, real)
    if "kid" in which:
        values["kid"], values["kid_std"] = kid(fake_features, real_features, seed)
    if "is" in which:
        values["is"], values["is_std"] = inception_score(fake["logits"], seed)
    if "precision" in which or "recall" in which:
        values["precision"], values["recall"] = precision_recall(fake_features, real_features)
    if "density" in which or "coverage" in which:
        values["density"], values["coverage"] = density_coverage(fake_features, real)
    return {f"{key}_{suffix}": float(value) for key, value in values.items()}
