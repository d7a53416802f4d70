"""search_spaces/image_folder_losses.yaml, README's example of comparing losses on one's own images: it needs a
folder and Inception's weights, and says which file to put where when either is missing; given both, it plans."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganbench.sweep.driver import missing_inputs
from ganbench.sweep.spec import load_sweep

EXAMPLE = Path(__file__).resolve().parents[2] / "search_spaces" / "image_folder_losses.yaml"
INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"


@pytest.fixture()
def image_folder(tmp_path: Path) -> Path:
    """Twelve 40x40 RGB PNGs in two class subfolders, as a user's folder would hold them."""
    rng = np.random.default_rng(0)
    for index in range(12):
        folder = tmp_path / "images" / ("cats" if index % 2 else "dogs")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(folder / f"{index}.png")
    return tmp_path / "images"


@pytest.fixture()
def no_inception(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("GANBENCH_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.delenv("GANBENCH_ALLOW_DOWNLOAD", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch" / "hub" / "checkpoints" / INCEPTION_FILE


def test_without_a_folder_it_says_to_set_data_folder(no_inception):
    missing = missing_inputs(load_sweep(EXAMPLE).studies[0])
    assert any("set data.folder" in line for line in missing), missing


def test_without_inception_weights_it_names_the_file_and_where_it_goes(image_folder, no_inception):
    study = load_sweep(EXAMPLE, overrides=(f"data.folder={image_folder}",)).studies[0]
    (line,) = missing_inputs(study)
    assert INCEPTION_FILE in line and str(no_inception) in line and "GANBENCH_INCEPTION_WEIGHTS" in line


def test_with_a_folder_and_the_weights_nothing_is_missing(image_folder, no_inception):
    no_inception.parent.mkdir(parents=True)
    no_inception.write_bytes(b"stand-in: only its presence is checked before a sweep starts")
    study = load_sweep(EXAMPLE, overrides=(f"data.folder={image_folder}",)).studies[0]
    assert missing_inputs(study) == []
    assert study.metric == "fid_inception" and [study.label(v) for v in study.values()] == [
        "non_saturating",
        "hinge",
        "wgan_gp",
    ]
