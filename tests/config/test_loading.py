"""YAML files: a key given twice is an error naming the key and both lines (PyYAML keeps the last silently)."""

from __future__ import annotations

import pytest

from ganbench.config import read_yaml
from ganbench.errors import GanbenchError


def test_a_duplicate_key_names_the_key_and_both_lines(tmp_path):
    path = tmp_path / "sweep.yaml"
    path.write_text("study: x\nnum_samples: 3\nmode: max\nnum_samples: 5\n")
    with pytest.raises(GanbenchError, match=r"key 'num_samples' given twice \(line 2 and line 4\)"):
        read_yaml(path)


def test_a_duplicate_nested_key_is_found_too(tmp_path):
    path = tmp_path / "sweep.yaml"
    path.write_text("fixed:\n  train.steps: 10\n  eval.every: 5\n  train.steps: 20\n")
    with pytest.raises(GanbenchError, match=r"'train.steps' given twice \(line 2 and line 4\)"):
        read_yaml(path)


def test_the_same_key_in_two_mappings_is_fine(tmp_path):
    path = tmp_path / "sweep.yaml"
    path.write_text("scientific:\n  - {loss.name: hinge}\n  - {loss.name: non_saturating}\n")
    assert read_yaml(path) == {"scientific": [{"loss.name": "hinge"}, {"loss.name": "non_saturating"}]}
