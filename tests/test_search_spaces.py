"""Every file under search_spaces/ loads: training configs as configs, sweep and benchmark files as sweeps (each
benchmark at every budget it defines), so a shipped file never fails on a user's first command."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ganbench.config import load_config
from ganbench.sweep.spec import load_sweep

ROOT = Path(__file__).resolve().parents[1] / "search_spaces"
FILES = sorted(ROOT.rglob("*.yaml"))


def test_every_file_is_checked():
    assert FILES and {p.parent.name for p in FILES} == {"search_spaces", "train", "benchmarks"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shipped_file_loads(path):
    if path.parent.name == "train":
        config = load_config(path)
        assert config.data.name in path.name  # named after its dataset
        return
    tree = yaml.safe_load(path.read_text())
    budgets = list((tree.get("benchmark") or {}).get("budgets") or {}) or [None]
    for budget in budgets:
        sweep = load_sweep(path, budget)
        assert sweep.studies and all(study.values() for study in sweep.studies), (path.name, budget)
