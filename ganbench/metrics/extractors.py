"""Feature extractors and where their weights come from.

- ``lenet_digits``: trained on sklearn digits by ``ganbench extractor train digits``; ships in the package.
- ``lenet_mnist`` / ``lenet_fashion_mnist``: the same recipe on the user's data, cached under
  ``$GANBENCH_CACHE/extractors`` (default ``~/.cache/ganbench``).
- ``inception``: torch-fidelity's ``inception-v3-compat``. Its weights file is looked for first
  (``$GANBENCH_INCEPTION_WEIGHTS``, then ``$TORCH_HOME/hub/checkpoints``); a download is tried only
  when ``GANBENCH_ALLOW_DOWNLOAD=1``, with a short connect timeout. Without weights it is unavailable,
  never replaced by another extractor.
"""

from __future__ import annotations

import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import torch

from ganbench.errors import GanbenchError
from ganbench.metrics.lenet import LeNet, weights_hash
from ganbench.resources import extractor_weights

INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"
INCEPTION_URL = "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/" + INCEPTION_FILE
CONNECT_TIMEOUT_S = 3.0


class ExtractorUnavailable(GanbenchError):
    """The extractor's weights are missing; the message says which file to put where."""


def cache_dir() -> Path:
    return Path(os.environ.get("GANBENCH_CACHE") or "~/.cache/ganbench").expanduser().resolve()


def torch_hub_checkpoints() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints"


@dataclass(frozen=True)
class ExtractorSpec:
    """What an extractor needs: its domain datasets, and the file its weights live in."""

    name: str
    kind: str                      # "lenet" or "inception"
    domains: tuple[str, ...]       # datasets whose images it understands ("*" = any image dataset)
    train_dataset: str | None = None

    def weights_path(self) -> Path:
        if self.kind == "inception":
            configured = os.environ.get("GANBENCH_INCEPTION_WEIGHTS")
            return Path(configured).expanduser() if configured else torch_hub_checkpoints() / INCEPTION_FILE
        if self.name == "lenet_digits":
            return extractor_weights(self.name)
        return cache_dir() / "extractors" / f"{self.name}.pt"

    def unavailable_reason(self) -> str | None:
        path = self.weights_path()
        if path.is_file():
            return None
        if self.kind == "inception":
            if _try_download(path):
                return None
            return (f"{self.name}: weights not found; put {INCEPTION_FILE} at {path} (or set "
                    f"$GANBENCH_INCEPTION_WEIGHTS to its path; GANBENCH_ALLOW_DOWNLOAD=1 lets ganbench fetch it)")
        return (f"{self.name}: weights not found at {path}; "
                f"run `ganbench extractor train {self.train_dataset}` to train them")


def _try_download(path: Path) -> bool:
    """Download the Inception weights only when allowed, failing fast when offline."""
    if os.environ.get("GANBENCH_ALLOW_DOWNLOAD") != "1":
        return False

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    try:
        with urllib.request.urlopen(INCEPTION_URL, timeout=CONNECT_TIMEOUT_S) as response, partial.open("wb") as out:
            while chunk := response.read(1 << 20):
                out.write(chunk)
    except (TimeoutError, OSError):
        partial.unlink(missing_ok=True)
        return False
    partial.replace(path)
    return True


EXTRACTORS: dict[str, ExtractorSpec] = {
    spec.name: spec for spec in (
        ExtractorSpec("lenet_digits", "lenet", ("digits", "stacked_digits"), train_dataset="digits"),
        ExtractorSpec("lenet_mnist", "lenet", ("mnist",), train_dataset="mnist"),
        ExtractorSpec("lenet_fashion_mnist", "lenet", ("fashion_mnist",), train_dataset="fashion_mnist"),
        ExtractorSpec("inception", "inception", ("*",)),
    )
}


def load_lenet(spec: ExtractorSpec) -> tuple[torch.nn.Module, dict]:
    """The trained LeNet and its training record (accuracy, hash); raises if unavailable."""
    reason = spec.unavailable_reason()
    if reason:
        raise ExtractorUnavailable(reason)
    saved = torch.load(spec.weights_path(), map_location="cpu", weights_only=True)
    model = LeNet()
    model.load_state_dict(saved["state_dict"])
    model.eval().requires_grad_(False)
    record = dict(saved["record"])
    if weights_hash(model.state_dict()) != record["sha256"]:
        raise ExtractorUnavailable(f"{spec.name}: {spec.weights_path()} does not match its recorded hash; retrain it")
    return model, record
