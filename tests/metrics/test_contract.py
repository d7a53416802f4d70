"""Contract tests over every registered metric. The divergence sentinel (``Evaluator.worst``) and the sweep's
objective both rely on them: a diverged trial must report every key the searcher, ASHA and the report read,
at a finite value, in the direction the key improves."""

from __future__ import annotations

import math

import pytest

from ganbench.config import load_config
from ganbench.data import DATASETS
from ganbench.errors import ConfigError
from ganbench.metrics import METRICS
from ganbench.metrics.image import FidelityMetric

CANDIDATES = (["data.name=ring8"], ["data.name=grid25"], ["data.name=digits"],
              ["data.name=digits", "data.conditional=true"], ["data.name=stacked_digits"],
              ["data.name=fake", "model.name=dcgan"], ["data.name=mnist"], ["data.name=fashion_mnist"])


def supported_config(name: str):
    """The first small config whose data the metric can score."""
    for overrides in CANDIDATES:
        try:
            return load_config(overrides=[*overrides, f"eval.metrics=[{name}]", "eval.select=",
                                          "eval.fidelity=[fid,kid,is,precision,recall,density,coverage]"])
        except ConfigError:
            continue
    raise AssertionError(f"no dataset here that {name} supports")


@pytest.mark.parametrize("name", METRICS.names())
def test_metric_keys_have_directions_and_the_sentinel_covers_them(name):
    cls = METRICS.get(name)
    assert cls.directions and set(cls.directions.values()) <= {"min", "max"}
    config = supported_config(name)
    reported = cls.reported_keys(config)
    assert reported and reported <= set(cls.directions)
    # Built without its real side: worst() must not need it (a diverged trial may have none).
    metric = cls(DATASETS.get(config.data.name)(config), config, {"protocol": {}})
    worst = metric.worst()
    assert set(worst) == reported
    assert all(math.isfinite(value) for value in worst.values())


@pytest.mark.parametrize("name", [n for n in METRICS.names() if issubclass(METRICS.get(n), FidelityMetric)])
def test_image_metric_keys_name_their_feature_space(name):
    extractor = METRICS.get(name).extractor
    assert all(key.endswith(f"_{extractor}") for key in METRICS.get(name).directions)


@pytest.mark.parametrize("name", METRICS.names())
def test_the_sentinel_is_no_better_than_a_perfect_score(name):
    """Sentinels sit at the bad end: a max key's worst is the lowest it can be, a min key's is far from 0."""
    config = supported_config(name)
    cls = METRICS.get(name)
    worst = cls(DATASETS.get(config.data.name)(config), config, {"protocol": {}}).worst()
    for key, value in worst.items():
        if "_std_" in key:
            continue  # spreads have no good or bad end
        if cls.directions[key] == "max":
            assert value <= 1.0, key  # 0 modes, 0 coverage, IS of one class, 0 accuracy
        else:
            assert value > 0.5, key   # reverse KL log K, FID/KID 1e9
