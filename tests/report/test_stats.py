from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from ganbench.report import stats as report_stats


def test_holm_matches_the_textbook_example():
    # p = (0.01, 0.04, 0.03, 0.005): sorted 0.005*4, 0.01*3, 0.03*2, 0.04*1 with monotonicity.
    assert report_stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert math.isnan(report_stats.holm([math.nan, 0.5])[0])


def test_bootstrap_ci_covers_the_mean_and_shrinks_with_n():
    rng = np.random.default_rng(1)
    small, large = list(rng.normal(5, 1, 5)), list(rng.normal(5, 1, 200))
    lo, hi = report_stats.bootstrap_ci(small)
    assert lo < np.mean(small) < hi
    lo2, hi2 = report_stats.bootstrap_ci(large)
    assert hi2 - lo2 < (hi - lo) / 3


def test_hedges_g_and_welch_against_scipy():
    a, b = [1.0, 2.0, 3.0, 4.0], [2.0, 3.5, 4.0, 6.0, 5.5]
    pooled = math.sqrt((3 * np.var(a, ddof=1) + 4 * np.var(b, ddof=1)) / 7)
    expected = (np.mean(a) - np.mean(b)) / pooled * (1 - 3 / (4 * 9 - 9))
    assert report_stats.hedges_g(a, b) == pytest.approx(expected)
    assert report_stats.welch_p(a, b) == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue)


def test_minimum_detectable_effect_known_value():
    # (1.95996 + 0.84162) * sqrt(2 / 10) = 1.2530 standard deviations
    assert report_stats.minimum_detectable_effect(1.0, 10) == pytest.approx(1.2530, abs=1e-4)
    assert report_stats.too_few_seeds(2) and not report_stats.too_few_seeds(3)
