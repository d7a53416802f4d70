"""Intra-class metrics catch what class accuracy rewards: a generator that draws one perfect image per class.
Real digits (the train split, disjoint from the test split the metric compares with) against such a collapsed
generator, both with every sample of its requested class."""

from __future__ import annotations

import pytest
import torch

from ganbench.config import load_config
from ganbench.data import DATASETS
from ganbench.metrics.conditional import ClassAccuracy
from ganbench.metrics.intra_class import IntraClass, class_counts, key
from ganbench.models.conditioning import balanced_labels

PER_CLASS = 100


@pytest.fixture(scope="module")
def setup():
    config = load_config(overrides=["data.name=digits", "data.conditional=true", "model.name=dcgan",
                                    f"eval.n_samples={10 * PER_CLASS}", "eval.split=test"])
    dataset = DATASETS.get("digits")(config)
    images, labels = dataset.load("train")
    wanted = balanced_labels(10 * PER_CLASS, 10)
    by_class = {c: images[labels == c] for c in range(10)}
    real = torch.stack([by_class[int(c)][i // 10] for i, c in enumerate(wanted)])  # distinct images, in order
    accuracy = ClassAccuracy(dataset, config)
    # Collapsed: each class's first train image that lenet_digits gets right, repeated.
    perfect = {c: next(x for x in by_class[c] if accuracy.classifier(x[None]).argmax(1).item() == c)
               for c in range(10)}
    collapsed = torch.stack([perfect[int(c)] for c in wanted])
    return config, dataset, accuracy, real, collapsed


def test_digits_split_counts_choose_per_class_kid():
    config = load_config(overrides=["data.name=digits", "data.conditional=true"])
    counts = class_counts(config, config.eval.final_split)
    assert len(counts) == 10 and max(counts) < 128  # about 36 a class against 128 features: no iFID
    assert IntraClass.reported_keys(config) == {key("kid"), key("recall"), key("coverage")}


def test_a_collapsed_generator_scores_far_worse_though_class_accuracy_is_perfect(setup):
    config, dataset, accuracy, real, collapsed = setup
    assert accuracy(collapsed)["class_accuracy_lenet_digits"] == 1.0
    assert accuracy(real)["class_accuracy_lenet_digits"] >= 0.97  # class accuracy cannot tell them apart
    metric = IntraClass(dataset, config)
    honest, collapse = metric(real), metric(collapsed)
    assert collapse[key("kid")] >= 10 * max(abs(honest[key("kid")]), 1e-3), (honest, collapse)
    # Coverage is coarser: with k=5 balls around ~36 real images a class, one image inside a few balls covers
    # about a sixth of its class.
    assert honest[key("coverage")] >= 5 * collapse[key("coverage")], (honest, collapse)
    assert honest[key("recall")] >= 10 * max(collapse[key("recall")], 1e-3), (honest, collapse)
    protocol = metric.protocol(len(real))
    assert protocol["split"] == config.eval.split and protocol["distance"] == "kid"
    assert len(protocol["n_real_per_class"]) == 10 and "singular" in protocol["why"]
