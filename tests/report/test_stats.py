from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestIndPower

from ganbench.report import stats as report_stats


def test_holm_matches_the_textbook_example():
    # p = (0.01, 0.04, 0.03, 0.005): sorted 0.005*4, 0.01*3, 0.03*2, 0.04*1 with monotonicity.
    assert report_stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert math.isnan(report_stats.holm([math.nan, 0.5])[0])


def test_holm_matches_statsmodels():
    for seed in range(5):
        p_values = list(np.random.default_rng(seed).uniform(0, 0.2, 6))
        expected = multipletests(p_values, alpha=0.05, method="holm")[1]
        assert report_stats.holm(p_values) == pytest.approx(list(expected))


def test_t_interval_known_value():
    # mean 2, s = 1, n = 4: 2 -+ t(0.975, 3) * 1 / 2 = 2 -+ 1.5912
    low, high = report_stats.t_interval([1.0, 2.0, 3.0, 2.0 + 0.0])
    s = np.std([1.0, 2.0, 3.0, 2.0], ddof=1)
    half = stats.t.ppf(0.975, 3) * s / 2
    assert (low, high) == pytest.approx((2 - half, 2 + half))


def test_rows_use_a_t_interval_below_the_bootstrap_threshold():
    two = [0.46, 0.49]  # a bootstrap of two seeds spans just the two values; a t-interval with 1 df is wide
    (low, high), method = report_stats.mean_ci(two)
    assert method == "t" and low < 0.3 and high > 0.65  # t(0.975, 1) = 12.7
    many = list(np.random.default_rng(1).normal(5, 1, report_stats.BOOTSTRAP_MIN_SEEDS))
    assert report_stats.mean_ci(many)[1] == "bootstrap"


def test_bootstrap_ci_covers_the_mean_and_shrinks_with_n():
    rng = np.random.default_rng(1)
    small, large = list(rng.normal(5, 1, 20)), list(rng.normal(5, 1, 200))
    lo, hi = report_stats.bootstrap_ci(small)
    assert lo < np.mean(small) < hi
    lo2, hi2 = report_stats.bootstrap_ci(large)
    assert hi2 - lo2 < (hi - lo) / 1.5


def test_hedges_g_and_welch_against_scipy():
    a, b = [1.0, 2.0, 3.0, 4.0], [2.0, 3.5, 4.0, 6.0, 5.5]
    pooled = math.sqrt((3 * np.var(a, ddof=1) + 4 * np.var(b, ddof=1)) / 7)
    expected = (np.mean(a) - np.mean(b)) / pooled * (1 - 3 / (4 * 9 - 9))
    assert report_stats.hedges_g(a, b) == pytest.approx(expected)
    assert report_stats.welch_p(a, b) == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue)


@pytest.mark.parametrize("seed", range(40))
def test_a_difference_interval_excludes_zero_exactly_when_its_holm_p_is_below_alpha(seed):
    """The ring8 report once showed CI [-0.67, -0.03] (a bootstrap) beside Holm p 0.169 (Welch): two stories.
    Now the interval is the Welch test's own, at the Holm-adjusted level."""
    rng = np.random.default_rng(seed)
    groups = {f"v{i}": list(rng.normal(rng.uniform(0, 1.5), rng.uniform(0.2, 1.0), rng.integers(3, 8)))
              for i in range(4)}
    for c in report_stats.compare_to_best(groups, "v0"):
        low, high = c.difference_ci
        assert (low > 0 or high < 0) == (c.p_holm < report_stats.ALPHA), (c, seed)
        assert low < c.difference < high
        assert c.level >= 1 - report_stats.ALPHA


def test_difference_interval_is_scipys_welch_interval_without_adjustment():
    a, b = [1.0, 2.0, 3.0, 4.0], [2.0, 3.5, 4.0, 6.0, 5.5]
    (c,) = report_stats.compare_to_best({"a": a, "b": b}, "b")
    expected = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert c.level == pytest.approx(0.95) and c.difference_ci == pytest.approx((expected.low, expected.high))


@pytest.mark.parametrize("n", [3, 5, 10, 30])
def test_minimum_detectable_effect_matches_statsmodels(n):
    """Normal quantiles would give (1.96 + 0.84) * sqrt(2 / n): 2.29 sd at n = 3 against the t-test's 3.07."""
    expected = TTestIndPower().solve_power(nobs1=n, alpha=0.05, power=0.8, ratio=1.0)
    assert report_stats.minimum_detectable_effect(2.0, n) == pytest.approx(2.0 * expected, rel=1e-4)
    assert report_stats.too_few_seeds(2) and not report_stats.too_few_seeds(3)
