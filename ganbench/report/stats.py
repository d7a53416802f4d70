"""Statistics for leaderboards, from one story: Welch's t-test.

Each row's mean has a Student t-interval (a bootstrap only from BOOTSTRAP_MIN_SEEDS seeds, where its
percentiles mean something). Every other row is compared with the best one (or a baseline) by Welch's t-test;
its p-values are Holm-adjusted, and the CI of each difference is the Welch t-interval of that same test at the
level Holm applied to it, so a CI excludes 0 exactly when the adjusted p is below ALPHA. The minimum detectable
effect is solved from the noncentral t, so it is honest at 3-10 seeds where normal quantiles understate it."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

BOOTSTRAP = 10_000
BOOTSTRAP_MIN_SEEDS = 20  # below this a percentile bootstrap of the mean is too narrow (2 seeds: the 2 values)
ALPHA = 0.05
POWER = 0.8


def t_interval(values: list[float], level: float = 0.95) -> tuple[float, float]:
    """Student t-interval of the mean."""
    if len(values) < 2:
        return (math.nan, math.nan)
    data = np.asarray(values, dtype=float)
    half = stats.t.ppf(0.5 + level / 2, len(data) - 1) * data.std(ddof=1) / math.sqrt(len(data))
    return float(data.mean() - half), float(data.mean() + half)


def bootstrap_ci(values: list[float], seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean."""
    if len(values) < 2:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    data = np.asarray(values, dtype=float)
    means = rng.choice(data, size=(BOOTSTRAP, len(data)), replace=True).mean(axis=1)
    tail = (1 - level) / 2 * 100
    return float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))


def mean_ci(values: list[float]) -> tuple[tuple[float, float], str]:
    """A row's 95% CI and how it was made: a t-interval, or a bootstrap once there are enough seeds."""
    if len(values) >= BOOTSTRAP_MIN_SEEDS:
        return bootstrap_ci(values), "bootstrap"
    return t_interval(values), "t"


def welch_interval(a: list[float], b: list[float], level: float = 0.95) -> tuple[float, float]:
    """Welch t-interval of mean(a) - mean(b): the interval of the test behind welch_p."""
    if len(a) < 2 or len(b) < 2 or (np.var(a) == 0 and np.var(b) == 0):
        return (math.nan, math.nan)
    interval = stats.ttest_ind(a, b, equal_var=False).confidence_interval(confidence_level=level)
    return float(interval.low), float(interval.high)


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
    """Smallest true difference a two-sided two-sample t-test at ALPHA detects with power POWER, n seeds per row
    and a common standard deviation ``std``: solved on the noncentral t, as statsmodels' TTestIndPower does."""
    if n < 2 or math.isnan(std):
        return math.nan
    df = 2 * n - 2
    critical = stats.t.ppf(1 - ALPHA / 2, df)

    def shortfall(effect: float) -> float:
        shift = effect * math.sqrt(n / 2)
        # The far tail is ~0 here, where scipy's nct.cdf can return NaN.
        far_tail = float(np.nan_to_num(stats.nct.cdf(-critical, df, shift)))
        return stats.nct.sf(critical, df, shift) + far_tail - POWER

    # Power is ~1 once the shift passes the critical value by 10.
    return float(optimize.brentq(shortfall, 1e-9, (critical + 10) / math.sqrt(n / 2)) * std)


@dataclass
class Comparison:
    value: str
    difference: float          # mean(row) - mean(best), in the metric's units
    difference_ci: tuple[float, float]  # Welch t-interval at ``level``
    level: float                       # Holm-adjusted: the CI excludes 0 exactly when p_holm < ALPHA
    hedges_g: float
    p_holm: float


def compare_to_best(groups: dict[str, list[float]], best: str) -> list[Comparison]:
    """Every other row against ``best``: Welch's test, Holm-adjusted, and the difference's Welch t-interval at
    level 1 - ALPHA / c, where c = p_holm / p is the factor Holm applied to that comparison."""
    others = [v for v in groups if v != best]
    raw = [welch_p(groups[v], groups[best]) for v in others]
    adjusted = holm(raw)
    comparisons = []
    for value, p, p_holm in zip(others, raw, adjusted, strict=True):
        factor = p_holm / p if p > 0 and not math.isnan(p) else 1.0
        interval = welch_interval(groups[value], groups[best], level=1 - ALPHA / factor)
        difference = float(np.mean(groups[value]) - np.mean(groups[best])) if groups[value] else math.nan
        comparisons.append(Comparison(value, difference, interval, 1 - ALPHA / factor,
                                      hedges_g(groups[value], groups[best]), p_holm))
    return comparisons


# Below this a row has at most 1 degree of freedom: its t-interval spans most of the axis and no test is worth reading.
MIN_RANKED_SEEDS = 3


def too_few_seeds(n: int) -> bool:
    """Whether ``n`` seeds are too few to rank a row (``MIN_RANKED_SEEDS``)."""
    return n < MIN_RANKED_SEEDS
