"""Quality check of conditional generation: does an independent classifier see the requested class?

Trains a conditional DCGAN (label embedding in G, projection D) on digits with the digits defaults
(seeds 0, 1, 2), draws 100 samples per class from each final generator, and classifies them with two
classifiers that never saw the GAN: ganbench's ``lenet_digits`` and an RBF SVC trained on the same 1,437
training digits (as in quality_digits.py). Target: at least 80% of samples recognised as the requested
class. Beside it, the intra-class metrics (``intra_class``: per-class KID, recall and coverage against each
class's held-out test digits), which class accuracy cannot replace. Also runs ACGAN (auxiliary classifier D)
for comparison. Writes reports/conditional/quality.json and one per-class grid per run (row c = class c).

BEGAN on digits has its own check: reports/scripts/quality_began.py.

Run from the repo root: ``python reports/scripts/quality_conditional.py [seeds...]``; ``--render`` only rewrites
reports/conditional/README.md (class accuracy beside the intra-class metrics, and BEGAN's check) from the JSON files.
"""

from __future__ import annotations

import copy
import json
import statistics
import sys
import warnings
from pathlib import Path
from typing import Any

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.svm import SVC

from ganbench.config import load_config, to_flat
from ganbench.data.images import DIGITS_TEST_FRACTION
from ganbench.metrics import fidelity, intra_class
from ganbench.metrics.conditional import class_accuracy, lenet_classifier
from ganbench.training.loop import train
from ganbench.training.plots import save_class_grid
from ganbench.training.sampling import dataset_of, draw_per_class, load_generator

SEEDS = (0, 1, 2)
PER_CLASS = 100
SAMPLE_SEED = 12345
TARGET = 0.8
OUT = Path(__file__).resolve().parents[1] / "conditional"
VARIANTS = {
    "cgan_projection": ["model.name=dcgan", "data.conditional=true", "model.d_conditioning=projection"],
    "acgan": ["model.name=dcgan", "loss.name=acgan"],
    # A lighter class term: the remedy the validity issue names for ACGAN's intra-class collapse (G is pushed
    # towards easily classified samples; Shu 2017, Gong et al. 2019); measured here before it becomes a default.
    "acgan_class_weight_0.1": ["model.name=dcgan", "loss.name=acgan", "loss.class_weight=0.1"],
}


def svc_classifier() -> tuple[Any, float]:
    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(digits.data, digits.target, test_size=DIGITS_TEST_FRACTION,
                                                        stratify=digits.target, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        svc = SVC(gamma=0.001, random_state=0).fit(x_train, y_train)

    def classify(samples: torch.Tensor) -> torch.Tensor:  # [-1, 1] -> one-hot "logits" of the SVC's vote
        pixels = ((samples.reshape(len(samples), 64).clamp(-1, 1) + 1) * 8).numpy()
        return torch.nn.functional.one_hot(torch.from_numpy(svc.predict(pixels)), 10).double()

    return classify, float(svc.score(x_test, y_test))


def run(variant: str, seed: int, classifiers: dict[str, Any]) -> dict[str, Any]:
    config = load_config(overrides=["data.name=digits", *VARIANTS[variant], f"seed={seed}",
                                    "eval.metrics=[class_accuracy]", "eval.select="])
    last: dict[str, Any] = {}

    def keep_last(metrics: dict[str, float], state: dict[str, Any] | None) -> None:
        last["metrics"] = dict(metrics)
        if state is not None:
            last["state"] = copy.deepcopy(state)

    result = train(config, keep_last)
    generator = load_generator(last["state"], config, "final")
    per_class = draw_per_class(generator, config, PER_CLASS, SAMPLE_SEED)  # 10 x 100 x 1 x 8 x 8
    labels = torch.arange(10).repeat_interleave(PER_CLASS)
    row: dict[str, Any] = {"variant": variant, "seed": seed, "steps": result["steps"], "diverged": result["diverged"],
                           "threads": result["threads"], "wall_time_s": round(result["wall_time_s"], 1),
                           "training_metric_final": result.get("final_class_accuracy_lenet_digits")}
    for name, classify in classifiers.items():
        accuracy, per = class_accuracy(classify, per_class.flatten(0, 1), labels)
        row[f"accuracy_{name}"] = round(accuracy, 4)
        row[f"per_class_{name}"] = [round(a, 2) for a in per]
    # Beside class accuracy, what it cannot see: each class's variety against that class's held-out real digits.
    real = intra_class.real_classes(dataset_of(config), config.eval.final_split)
    features = fidelity.extract(intra_class.EXTRACTOR, per_class.flatten(0, 1))["features"]
    intra = intra_class.per_class_means(features, labels, real, intra_class.distance(config), seed)
    row.update({k: round(v, 4) for k, v in intra.items()})
    row["intra_class_protocol"] = {"split": config.eval.final_split, "n_fake_per_class": PER_CLASS,
                                   "n_real_per_class": [len(c["features"]) for c in real["classes"]],
                                   "distance": intra_class.distance(config)}
    save_class_grid(per_class[:, :16], OUT / f"{variant}_seed{seed}.png",
                    title=f"{variant}, seed {seed}: lenet {row['accuracy_lenet_digits']:.0%}, "
                          f"svc {row['accuracy_svc']:.0%}, iKID {row[intra_class.key('kid')]:.0f}, "
                          f"intra-recall {row[intra_class.key('recall')]:.2f}")
    print(row, flush=True)
    return row


def spread(values: list[float], digits: int) -> str:
    mean = statistics.mean(values)
    return f"{mean:.{digits}f} ± {statistics.stdev(values):.{digits}f}" if len(values) > 1 else f"{mean:.{digits}f}"


def render() -> str:
    """reports/conditional/README.md from quality.json (and began_digits.json): what a reader looks at first."""
    report = json.loads((OUT / "quality.json").read_text())
    runs = report["runs"]
    protocol = runs[0]["intra_class_protocol"]
    counts = protocol["n_real_per_class"]
    columns = [("accuracy_lenet_digits", "class accuracy, lenet_digits", 3), ("accuracy_svc", "class accuracy, SVC", 3),
               (intra_class.key("kid"), f"`{intra_class.key('kid')}` (lower is better)", 0),
               (intra_class.key("recall"), f"`{intra_class.key('recall')}`", 3),
               (intra_class.key("coverage"), f"`{intra_class.key('coverage')}`", 3)]
    def ratio(variant: str, name: str) -> float:
        def mean(v: str) -> float:
            return statistics.mean(r[intra_class.key(name)] for r in runs if r["variant"] == v)
        return mean(variant) / mean("cgan_projection")

    lines = ["# Conditional generation on digits: class accuracy beside intra-class metrics", "",
             "Built by `python reports/scripts/quality_conditional.py` (`--render` rewrites this page from "
             "`quality.json`). Each variant trains "
             f"{runs[0]['steps']:,} steps on sklearn digits (8x8) with seeds {sorted({r['seed'] for r in runs})}; "
             f"each final generator draws {report['per_class']} samples per requested class.", "",
             "| variant | seeds | " + " | ".join(title for _, title, _ in columns) + " |",
             "|---|---|" + "---|" * len(columns)]
    for variant in dict.fromkeys(r["variant"] for r in runs):
        mine = [r for r in runs if r["variant"] == variant]
        lines.append(f"| {variant} | {len(mine)} | "
                     + " | ".join(spread([r[key] for r in mine], digits) for key, _, digits in columns) + " |")
    lines += ["", "Mean ± standard deviation over the seeds. **Protocol.** Class accuracy: the share of samples an "
              f"independent classifier assigns to the requested class ({report['classifiers']['lenet_digits']}; "
              f"{report['classifiers']['svc']}). Intra-class metrics (`ganbench list`: `intra_class`) compare each "
              f"class's samples with that class's real digits of the `{protocol['split']}` split "
              f"({min(counts)}-{max(counts)} per class, {sum(counts)} in all) in `lenet_digits`' 128 features, "
              "then average over the 10 classes. With fewer real images per class than feature dimensions a class's "
              "covariance is singular, so the distance is per-class KID (unbiased, cubic kernel, in the raw feature "
              "scale), not iFID; recall and coverage use k = 3 and 5 nearest neighbours.", "",
              "**What the numbers say.** Class accuracy alone ranks ACGAN first, yet its samples are one image per "
              f"class (the grids below): its intra-class KID is {ratio('acgan', 'kid'):.1f}x the projection cGAN's "
              f"and its intra-class recall {ratio('acgan', 'recall'):.2f}x. The remedy usually named for ACGAN's "
              "collapse, a lighter class term for G "
              "(`loss.class_weight=0.1`), did not cure it here (recall stays near 0, class accuracy falls), so "
              "ACGAN's default is unchanged.", "", "| variant | seed 0 | seed 1 | seed 2 |", "|---|---|---|---|"]
    for variant in dict.fromkeys(r["variant"] for r in runs):
        lines.append(f"| {variant} | " + " | ".join(f"![{variant} seed {s}]({variant}_seed{s}.png)"
                                                   for s in sorted({r['seed'] for r in runs})) + " |")
    began_path = OUT / "began_digits.json"
    if began_path.exists():
        began = json.loads(began_path.read_text())
        targets, ref = began["targets"], began["reference"]
        rows = began["runs"]
        met = all(r["mean_max_probability"] >= targets["mean_max_probability"]
                  and r["classes_predicted"] >= targets["classes_predicted"] for r in rows)
        lines += ["", "## BEGAN on digits (`loss.preset=began`)", "",
                  "Built by `python reports/scripts/quality_began.py`. An SVC that never saw the GAN "
                  f"({ref['classifier']}, {ref['held_out_accuracy']:.1%} held-out) scores {began['n_samples']:,} "
                  f"samples of each final generator. Goal: mean max-probability >= "
                  f"{targets['mean_max_probability']} and all {targets['classes_predicted']} classes predicted, "
                  "on every seed.", "",
                  "| | mean max-probability | classes predicted |", "|---|---|---|",
                  f"| real held-out digits | {ref['real_held_out']['mean_max_probability']:.3f} | "
                  f"{ref['real_held_out']['classes_predicted']} |",
                  f"| a blank image | {ref['blank']['mean_max_probability']:.3f} | {ref['blank']['classes_predicted']} |",
                  *[f"| BEGAN seed {r['seed']} ({r['steps']:,} steps) | {r['mean_max_probability']:.3f} | "
                    f"{r['classes_predicted']} |" for r in rows], "",
                  f"**Goal {'met' if met else 'missed'}.** " + ("" if met else
                  "The samples are digit-shaped but speckled, and about half are 1s (class histogram in "
                  "`began_digits.json`). Twelve other settings (code width 4 and 16, gamma 0.5-0.85, lambda_k "
                  "0.05, EMA, two D steps, batch 128, 6,000 steps, no batch norm in G, an ELU D, the paper's "
                  "upsampling decoder) did no better; gamma 0.5 reached 0.92 but drew 97% 1s."), "",
                  " ".join(f"![BEGAN seed {r['seed']}](began_digits_seed{r['seed']}.png)" for r in rows)]
    return "\n".join(lines) + "\n"


def main() -> None:
    if sys.argv[1:] == ["--render"]:
        (OUT / "README.md").write_text(render())
        return
    torch.set_num_threads(1)
    seeds = tuple(int(s) for s in sys.argv[1:]) or SEEDS
    OUT.mkdir(parents=True, exist_ok=True)
    svc, svc_accuracy = svc_classifier()
    classifiers = {"lenet_digits": lenet_classifier(), "svc": svc}
    rows = [run(variant, seed, classifiers) for variant in VARIANTS for seed in seeds]
    summary = {}
    for variant in VARIANTS:
        mine = [r for r in rows if r["variant"] == variant]
        summary[variant] = {f"mean_accuracy_{n}": round(statistics.mean(r[f"accuracy_{n}"] for r in mine), 4)
                            for n in classifiers}
        summary[variant] |= {f"mean_{k}": round(statistics.mean(r[k] for r in mine), 4) for k in mine[0]
                             if k.startswith("intra_") and k != "intra_class_protocol"}
        summary[variant]["target_met_every_seed"] = all(r[f"accuracy_{n}"] >= TARGET for r in mine for n in classifiers)
    print(summary)
    report = {"dataset": "digits", "per_class": PER_CLASS, "sample_seed": SAMPLE_SEED, "target": TARGET,
              "classifiers": {"lenet_digits": "ganbench's shipped LeNet (97.8% held-out)",
                              "svc": f"SVC(gamma=0.001) on the 1,437 training digits ({svc_accuracy:.1%} held-out)"},
              "runs": rows, "summary": summary, "torch": torch.__version__,
              "configs": {v: {k: x for k, x in to_flat(load_config(overrides=["data.name=digits", *VARIANTS[v]])).items()
                              if k.split(".")[0] in ("data", "model", "loss", "optim", "train")} for v in VARIANTS}}
    (OUT / "quality.json").write_text(json.dumps(report, indent=2) + "\n")
    (OUT / "README.md").write_text(render())


if __name__ == "__main__":
    main()
