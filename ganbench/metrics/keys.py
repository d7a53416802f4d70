"""What a metric's key means around the metric itself: which way it improves (``Direction``), the prefixes a
run adds to it (``best_``, ``final_``, ``final_eval_``) and the axis label a figure gives it.

No torch in here: the sweep file's checks, the judge and the report's figures read it.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from enum import Enum

BEST = "best_"              # the metric of the checkpoint a run keeps (``eval.select``)
FINAL = "final_"            # the end of a run: its last evaluation
FINAL_EVAL = "final_eval_"  # the final evaluation of a final-stage run (fresh noise, held-out split)
PREFIXES = (BEST, FINAL_EVAL, FINAL)  # longest first: final_eval_x is not final_ of eval_x


def best(metric: str) -> str:
    return BEST + metric


def final(metric: str) -> str:
    return FINAL + metric


def final_eval(metric: str) -> str:
    return FINAL_EVAL + metric


def prefix_of(key: str) -> str:
    """The run prefix ``key`` starts with (``best_``, ``final_eval_``, ``final_``), or ''."""
    return next((prefix for prefix in PREFIXES if key.startswith(prefix)), "")


class Direction(str, Enum):
    """Which way a metric improves: the one place where "min" and "max" are told apart."""

    MIN = "min"
    MAX = "max"

    @property
    def sign(self) -> int:
        """+1 for lower-is-better: ``sign * x`` sorts best first."""
        return 1 if self is Direction.MIN else -1

    @property
    def word(self) -> str:
        return "lower" if self is Direction.MIN else "higher"

    def better(self, a: float, b: float) -> bool:
        """Whether ``a`` is strictly better than ``b``."""
        return self.sign * a < self.sign * b

    def best(self, values: Iterable[float]) -> float:
        return min(values, key=lambda x: self.sign * x)

    def rank_key(self, value: float | None) -> tuple[bool, float]:
        """Sorts values best first, with missing or NaN values last."""
        missing = value is None or math.isnan(value)
        return missing, 0.0 if missing else self.sign * value

    def running_best(self, values: Iterable[float]) -> list[float]:
        """The best value so far at each position."""
        out: list[float] = []
        for value in values:
            out.append(value if not out or self.better(value, out[-1]) else out[-1])
        return out

    def worst_sentinel(self) -> float:
        """A finite value worse than any real score, for a metric whose metrics report no worst value."""
        return 1e9 * self.sign


def mean_sd(values: list[float], digits: int = 4) -> str:
    """``mean ± sd (n=k)`` of a value's numbers, as every summary writes it; '-' for none."""
    if not values:
        return "-"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.{digits}g} ± {sd:.2g} (n={len(values)})"


# Metric key -> y-axis label with its unit; keys with a feature-space suffix are in SPACE_LABELS.
LABELS = {
    "reverse_kl": "reverse KL (nats)",
    "modes": "modes captured",
    "hq_fraction": "high-quality samples (fraction)",
    "balanced_hq_fraction": "high-quality samples, each mode up to 1/K (fraction)",
}
# Prefix -> label; the rest of the key names the feature space (fid_lenet_digits -> lenet_digits). Longer
# prefixes first, so kid_std_ wins over kid_.
SPACE_LABELS = {
    "intra_fid_": "intra-class FID in {} features",
    "intra_kid_": "intra-class KID in {} features",
    "intra_recall_": "intra-class recall in {} features (fraction)",
    "intra_coverage_": "intra-class coverage in {} features (fraction)",
    "kid_std_": "KID std. dev. in {} features",
    "is_std_": "Inception Score std. dev. in {}",
    "modes_stacked_": "modes captured, labelled by {} (of 1000)",
    "kl_stacked_": "KL of modes from uniform, by {} (nats)",
    "class_accuracy_": "class accuracy by {} (fraction)",
    "fid_": "FID in {} features",
    "kid_": "KID in {} features",
    "is_": "Inception Score in {}",
    "precision_": "precision in {} features (fraction)",
    "recall_": "recall in {} features (fraction)",
    "density_": "density in {} features (real data ≈ 1)",  # not a fraction: unbounded above
    "coverage_": "coverage in {} features (fraction)",
}
# Prefixes that qualify another key: best_fid_x is the best checkpoint's fid_x.
QUALIFIERS = {BEST: "best {}", FINAL_EVAL: "final evaluation: {}", FINAL: "final {}"}


def axis_label(metric: str) -> str:
    """A y-axis label with units for a metric key (``fid_lenet_digits`` -> ``FID in lenet_digits features``);
    an unknown key is its own label."""
    for prefix, template in QUALIFIERS.items():
        if metric.startswith(prefix) and len(metric) > len(prefix):
            return template.format(axis_label(metric[len(prefix):]))
    if metric in LABELS:
        return LABELS[metric]
    for prefix, template in SPACE_LABELS.items():
        if metric.startswith(prefix) and len(metric) > len(prefix):
            return template.format(metric[len(prefix):])
    return metric
