"""Shared fixtures: tiny configs that train in well under a second per step."""

from __future__ import annotations

import pytest

from ganbench.config import Config, load_config

# A ring8 run small enough for contract and smoke tests.
TINY = ["model.g_width=32", "model.d_width=16", "data.size=2000", "train.steps=20", "train.batch_size=50",
        "eval.every=10", "eval.n_samples=500", "train.log_every=5", "train.threads=1", "device=cpu"]


def tiny_config(*overrides: str) -> Config:
    return load_config(overrides=[*TINY, *overrides])


@pytest.fixture
def tiny() -> Config:
    return tiny_config()
