"""Statistics for leaderboards: bootstrap CIs, effect sizes against the best row, Holm-corrected tests,
and the minimum detectable effect, so that a report says when there are too few seeds to rank."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

BOOTSTRAP = 10_000
ALPHA = 0.05
POWER = 0.8


def bootstrap_ci(values: list[float], seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean."""
    if len(values) < 2:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    data = np.asarray(values, dtype=float)
    means = rng.choice(data, size=(BOOTSTRAP, len(data)), replace=True).mean(axis=1)
    tail = (1 - level) / 2 * 100
    return float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))


def difference_ci(a: list[float], b: list[float], seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Bootstrap CI of mean(a) - mean(b), resampling each group on its own."""
    if len(a) < 2 or len(b) < 2:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    diffs = (rng.choice(x, size=(BOOTSTRAP, len(x))).mean(1) - rng.choice(y, size=(BOOTSTRAP, len(y))).mean(1))
    tail = (1 - level) / 2 * 100
    return float(np.percentile(diffs, tail)), float(np.percentile(diffs, 100 - tail))


def hedges_g(a: list[float], b: list[float]) -> float:
    """Standardised mean difference (a - b) with the small-sample correction."""
    n1, n2 = len(a), len(b)
    if n1 < 2 or n2 < 2:
        return math.nan
    pooled = math.sqrt(((n1 - 1) * np.var(a, ddof=1) + (n2 - 1) * np.var(b, ddof=1)) / (n1 + n2 - 2))
    if pooled == 0:
        return math.nan
    correction = 1 - 3 / (4 * (n1 + n2) - 9)
    return float((np.mean(a) - np.mean(b)) / pooled * correction)


def welch_p(a: list[float], b: list[float]) -> float:
    if len(a) < 2 or len(b) < 2 or (np.var(a) == 0 and np.var(b) == 0):
        return math.nan
    return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def holm(p_values: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (NaN stays NaN and does not count)."""
    order = sorted((p, i) for i, p in enumerate(p_values) if not math.isnan(p))
    adjusted = [math.nan] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * p))
        adjusted[i] = running
    return adjusted


def minimum_detectable_effect(std: float, n: int) -> float:
    """Smallest true difference a two-sided two-sample test at alpha 0.05 detects with power 0.8, n per row."""
    if n < 2 or math.isnan(std):
        return math.nan
    z = stats.norm.ppf(1 - ALPHA / 2) + stats.norm.ppf(POWER)
    return float(z * std * math.sqrt(2 / n))


@dataclass
class Comparison:
    value: str
    difference: float          # mean(row) - mean(best), in the metric's units
    difference_ci: tuple[float, float]
    hedges_g: float
    p_holm: float


def compare_to_best(groups: dict[str, list[float]], best: str, seed: int = 0) -> list[Comparison]:
    others = [v for v in groups if v != best]
    raw = [welch_p(groups[v], groups[best]) for v in others]
    adjusted = holm(raw)
    return [Comparison(v, float(np.mean(groups[v]) - np.mean(groups[best])) if groups[v] else math.nan,
                       difference_ci(groups[v], groups[best], seed), hedges_g(groups[v], groups[best]), p)
            for v, p in zip(others, adjusted, strict=True)]


def too_few_seeds(n: int) -> bool:
    """With 3 vs 3 seeds a rank test cannot reach p < 0.05; below 3 no test is meaningful."""
    return n < 3
