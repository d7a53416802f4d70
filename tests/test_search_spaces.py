from __future__ import annotations

from pathlib import Path

import pytest

from ganbench.config import load_config

ROOT = Path(__file__).resolve().parents[1] / "search_spaces"


@pytest.mark.parametrize("path", sorted((ROOT / "train").glob("*.yaml")), ids=lambda p: p.name)
def test_train_configs_load(path):
    config = load_config(path)
    assert config.data.name in path.name
