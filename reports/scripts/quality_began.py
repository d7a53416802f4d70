"""Quality check of the BEGAN preset on digits: does an independent classifier's eye see digits in its samples?

Trains ``loss.name=began`` on digits with the preset's defaults (seeds 0, 1, 2, one thread), draws 1,000 samples
from each final generator, maps them from ganbench's [-1, 1] back to sklearn's 0..16 pixel scale with
(x + 1) * 8, and classifies them with an RBF SVC (probability=True) trained on sklearn's load_digits, on the
same 1,437 training digits the GAN sees. Targets: mean max-probability >= 0.8 and all 10 classes predicted, on
every seed. For scale, the same numbers are reported first for the 360 real held-out digits, and for blank images
(the failure this check was written for: BEGAN drew near-blank digits). Beside the scores, what explains them: the
mean pixel of samples against real digits, the spread across samples, D's reconstruction error L on real and
generated digits, and the trace of BEGAN's control k.

Writes reports/conditional/began_digits.json and began_digits_seed{0,1,2}.png (the first 100 samples, unsorted).
Run from the repo root: ``OMP_NUM_THREADS=1 python reports/scripts/quality_began.py [seeds...]``
"""

from __future__ import annotations

import copy
import json
import statistics
import sys
import time
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
from ganbench.models import build_models
from ganbench.training.loop import train
from ganbench.training.plots import save_samples
from ganbench.training.sampling import dataset_of, draw, load_generator

SEEDS = (0, 1, 2)
N_SAMPLES = 1000
SAMPLE_SEED = 12345
TARGET_CONFIDENCE, TARGET_CLASSES = 0.8, 10
OVERRIDES = ["data.name=digits", "loss.name=began", "train.threads=1", "eval.metrics=[]", "eval.select="]
OUT = Path(__file__).resolve().parents[1] / "conditional"


def fit_classifier() -> tuple[SVC, float, np.ndarray]:
    """An RBF SVC on the GAN's own training split (0..16 scale); returns it, held-out accuracy, held-out X."""
    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(digits.data, digits.target, test_size=DIGITS_TEST_FRACTION,
                                                        stratify=digits.target, random_state=0)
    with warnings.catch_warnings():  # probability=True is deprecated in sklearn 1.9; see quality_digits.py for why
        warnings.simplefilter("ignore", FutureWarning)
        classifier = SVC(gamma=0.001, probability=True, random_state=0).fit(x_train, y_train)
    return classifier, float(classifier.score(x_test, y_test)), x_test


def to_sklearn_scale(samples: torch.Tensor) -> np.ndarray:
    """ganbench's digits are sklearn's 0..16 pixels mapped to [-1, 1] (data/images.py: to_unit_range); undo it."""
    return ((samples.reshape(len(samples), 64).clamp(-1, 1) + 1) * 8).numpy()


def judge(classifier: SVC, pixels: np.ndarray) -> dict[str, Any]:
    """Mean max-probability and the argmax histogram of N x 64 images in 0..16."""
    probabilities = classifier.predict_proba(pixels)
    histogram = np.bincount(probabilities.argmax(axis=1), minlength=10)
    return {"mean_max_probability": round(float(probabilities.max(axis=1).mean()), 4),
            "classes_predicted": int((histogram > 0).sum()), "class_histogram": histogram.tolist()}


def run(seed: int, classifier: SVC, real: torch.Tensor) -> tuple[dict[str, Any], torch.Tensor]:
    config = load_config(overrides=[*OVERRIDES, f"seed={seed}"])
    records: list[dict[str, float]] = []
    last: dict[str, Any] = {}

    def keep_last(metrics: dict[str, float], state: dict[str, Any] | None) -> None:
        if state is not None:
            last["state"] = copy.deepcopy(state)

    result = train(config, keep_last, progress=lambda step, record: records.append({"step": step, **record}))
    samples = draw(load_generator(last["state"], config, "final"), config, N_SAMPLES, SAMPLE_SEED)
    _, discriminator = build_models(config, dataset_of(config).spec(config))
    discriminator.load_state_dict(last["state"]["discriminator"])
    with torch.no_grad():
        errors = {name: round(float(discriminator(x).reconstruction_error.mean()), 4)
                  for name, x in (("real_train", real), ("samples", samples))}
    ks = [r["began_k"] for r in records]
    row = {"seed": seed, **judge(classifier, to_sklearn_scale(samples)),
           "sample_mean_pixel": round(float(samples.mean()), 3),
           "sample_spread": round(float(samples.std(dim=0).mean()), 3),  # per-pixel std across samples, averaged
           "reconstruction_error_final_D": errors,
           "k_final": round(last["state"]["loss_state"]["k"], 4), "k_max": round(max(ks), 4),
           "steps": result["steps"], "diverged": result["diverged"], "threads": result["threads"],
           "wall_time_s": round(result["wall_time_s"], 1),
           # Per record: k, the convergence measure M, and L(x) / L(G(z)) of the last batch (d_real, d_fake = -L).
           "trace": [{"step": r["step"], "k": round(r["began_k"], 4), "M": round(r["began_convergence"], 4),
                      "L_real": round(-r["d_real"], 4), "L_fake": round(-r["d_fake"], 4)} for r in records[5::6]]}
    return row, samples


def main() -> None:
    started = time.perf_counter()
    torch.set_num_threads(1)
    seeds = tuple(int(s) for s in sys.argv[1:]) or SEEDS
    OUT.mkdir(parents=True, exist_ok=True)
    classifier, accuracy, x_test = fit_classifier()
    config = load_config(overrides=OVERRIDES)
    real, _ = dataset_of(config).load("train")
    reference = {"classifier": "sklearn SVC(gamma=0.001, probability=True, random_state=0) on load_digits' "
                               f"{len(load_digits().target) - len(x_test)} training digits (0..16 scale)",
                 "sample_mapping": "(x.clamp(-1, 1) + 1) * 8: ganbench's [-1, 1] back to sklearn's 0..16",
                 "held_out_accuracy": round(accuracy, 4), "real_held_out": judge(classifier, x_test),
                 "real_mean_pixel": round(float(real.mean()), 3),
                 "real_spread": round(float(real.std(dim=0).mean()), 3),
                 "blank": judge(classifier, np.zeros((1, 64)))}
    print(reference, flush=True)
    rows, samples = [], {}
    for seed in seeds:
        row, samples[seed] = run(seed, classifier, real)
        rows.append(row)
        print({k: v for k, v in row.items() if k != "trace"}, flush=True)
        save_samples(samples[seed][:100], dataset_of(config), OUT / f"began_digits_seed{seed}.png",
                     title=f"BEGAN, digits, seed {seed}: SVC max-prob {row['mean_max_probability']:.2f}, "
                           f"{row['classes_predicted']} classes")
    mean = {key: round(statistics.mean(r[key] for r in rows), 4)
            for key in ("mean_max_probability", "classes_predicted", "wall_time_s")}
    met = {"confidence": all(r["mean_max_probability"] >= TARGET_CONFIDENCE for r in rows),
           "classes": all(r["classes_predicted"] >= TARGET_CLASSES for r in rows)}
    print("mean:", mean, "targets met (every seed):", met)
    report = {"dataset": "digits", "n_samples": N_SAMPLES, "sample_seed": SAMPLE_SEED, "weights": "final",
              "targets": {"mean_max_probability": TARGET_CONFIDENCE, "classes_predicted": TARGET_CLASSES},
              "reference": reference, "runs": rows, "mean": mean, "targets_met_every_seed": met,
              "config": {k: v for k, v in to_flat(config).items() if k.split(".")[0] in ("model", "loss", "optim", "train")},
              "torch": torch.__version__, "script_wall_time_s": round(time.perf_counter() - started, 1)}
    (OUT / "began_digits.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
