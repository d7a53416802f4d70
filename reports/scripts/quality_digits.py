"""Quality check of the digits default: do an independent classifier's eyes see digits in the samples?

Trains the digits default (seeds 0, 1, 2), draws 1,000 samples from each final generator, maps them
back to sklearn's 0..16 pixel scale with (x + 1) * 8 and classifies them with an RBF SVC trained on the
same 1,437 training digits the GAN sees (held-out accuracy on the other 360 is reported). Targets: mean
max-probability >= 0.8 and at least 9 of 10 classes covered (as argmax). For scale, the same numbers
are reported for real held-out digits and for uniform noise. Writes reports/core/digits_quality.json
and digits_samples.png (the first 100 samples of seed 0, unsorted).

Run from the repo root: ``python reports/scripts/quality_digits.py``
"""

from __future__ import annotations

import copy
import json
import statistics
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.svm import SVC

from ganbench.config import load_config, to_flat
from ganbench.data.images import DIGITS_TEST_FRACTION
from ganbench.training.loop import train
from ganbench.training.plots import save_samples
from ganbench.training.sampling import dataset_of, draw, load_generator

SEEDS = (0, 1, 2)
N_SAMPLES = 1000
SAMPLE_SEED = 12345
OUT = Path(__file__).resolve().parents[1] / "core"
TARGET_CONFIDENCE, TARGET_CLASSES = 0.8, 9


def fit_classifier() -> tuple[SVC, float, np.ndarray]:
    """An RBF SVC on the GAN's own training split (0..16 scale); returns it, held-out accuracy, held-out X."""
    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(digits.data, digits.target, test_size=DIGITS_TEST_FRACTION,
                                                        stratify=digits.target, random_state=0)
    # probability=True (Platt scaling on internal CV) is deprecated in sklearn 1.9 for CalibratedClassifierCV,
    # but that replacement is confident on noise (~0.89 max-probability), which would make the check toothless.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        classifier = SVC(gamma=0.001, probability=True, random_state=0).fit(x_train, y_train)
    return classifier, float(classifier.score(x_test, y_test)), x_test


def judge(classifier: SVC, pixels: np.ndarray) -> dict[str, Any]:
    """Mean max-probability and the argmax histogram of N x 64 images in 0..16."""
    probabilities = classifier.predict_proba(pixels)
    histogram = np.bincount(probabilities.argmax(axis=1), minlength=10)
    return {"mean_max_probability": round(float(probabilities.max(axis=1).mean()), 4),
            "classes_covered": int((histogram > 0).sum()), "class_histogram": histogram.tolist()}


def run(seed: int, classifier: SVC) -> tuple[dict[str, Any], torch.Tensor]:
    config = load_config(overrides=["data.name=digits", f"seed={seed}"])
    last: dict[str, Any] = {}

    def keep_last(metrics: dict[str, float], state: dict[str, Any] | None) -> None:
        if state is not None:
            last["state"] = copy.deepcopy(state)

    result = train(config, keep_last)
    samples = draw(load_generator(last["state"], config, "final"), config, N_SAMPLES, SAMPLE_SEED)
    pixels = ((samples.reshape(N_SAMPLES, 64).clamp(-1, 1) + 1) * 8).numpy()
    row = {"seed": seed, **judge(classifier, pixels), "steps": result["steps"], "threads": result["threads"],
           "wall_time_s": round(result["wall_time_s"], 1)}
    return row, samples


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    classifier, accuracy, x_test = fit_classifier()
    noise = np.random.default_rng(0).uniform(0, 16, (N_SAMPLES, 64))
    reference = {"classifier": "SVC(gamma=0.001, probability=True), trained on the GAN's 1,437 training digits",
                 "held_out_accuracy": round(accuracy, 4), "real_held_out": judge(classifier, x_test),
                 "uniform_noise": judge(classifier, noise)}
    print(reference, flush=True)
    rows, samples = [], {}
    for seed in SEEDS:
        row, samples[seed] = run(seed, classifier)
        rows.append(row)
        print(row, flush=True)
    mean = {key: round(statistics.mean(r[key] for r in rows), 3)
            for key in ("mean_max_probability", "classes_covered", "wall_time_s")}
    met = {"confidence": all(r["mean_max_probability"] >= TARGET_CONFIDENCE for r in rows),
           "classes": all(r["classes_covered"] >= TARGET_CLASSES for r in rows)}
    print("mean:", mean, "targets met (every seed):", met)
    defaults = {k: v for k, v in to_flat(load_config(overrides=["data.name=digits"])).items()
                if k.split(".")[0] in ("model", "optim", "train")}
    report = {"dataset": "digits", "reference": reference, "seeds": rows, "mean": mean, "targets_met": met,
              "config": defaults, "torch": torch.__version__}
    (OUT / "digits_quality.json").write_text(json.dumps(report, indent=2) + "\n")
    config = load_config(overrides=["data.name=digits"])
    save_samples(samples[SEEDS[0]][:100], dataset_of(config), OUT / "digits_samples.png",
                 title=f"digits default, seed {SEEDS[0]}, final G: first 100 of {N_SAMPLES} samples")


if __name__ == "__main__":
    main()
