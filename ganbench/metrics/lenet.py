"""A LeNet-style digit classifier used as an offline feature extractor (``lenet_digits`` and kin).

Trained deterministically on the domain's own training split; its 128-D penultimate layer feeds
FID/KID/precision-recall, its logits feed IS. Its numbers are comparable only with other numbers
from the same weights, which is why metric keys carry the extractor's name.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm import tqdm

FEATURE_DIM = 128
TRAIN_EPOCHS = 40
TRAIN_BATCH = 64
TRAIN_LR = 1e-3
TRAIN_SEED = 0


class LeNet(nn.Module):
    """conv16-conv32-pool-(4x4)-fc128-fc10 on 1 x H x W inputs in [-1, 1]."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 32 x H/2 x W/2
            nn.AdaptiveAvgPool2d(4), nn.Flatten(),  # 32 x 4 x 4 whatever the input size
            nn.Linear(32 * 16, FEATURE_DIM), nn.ReLU(),
        )
        self.classifier = nn.Linear(FEATURE_DIM, num_classes)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        features = self.features(x)
        return features, self.classifier(features)


def weights_hash(state_dict: dict[str, Tensor]) -> str:
    """SHA-256 over the tensors in key order: independent of how the file was serialised."""
    digest = hashlib.sha256()
    for key in sorted(state_dict):
        digest.update(key.encode())
        digest.update(state_dict[key].detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


@torch.no_grad()
def accuracy(model: LeNet, images: Tensor, labels: Tensor) -> float:
    model.eval()
    return float((model(images)[1].argmax(1) == labels).float().mean())


def train_lenet(train: tuple[Tensor, Tensor], test: tuple[Tensor, Tensor], epochs: int = TRAIN_EPOCHS,
                progress: bool = True) -> tuple[LeNet, dict[str, Any]]:
    """Deterministic training (fixed seed, one thread); returns the model and its record."""
    started = time.perf_counter()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(TRAIN_SEED)
        images, labels = train
        model = LeNet()
        optimizer = torch.optim.Adam(model.parameters(), lr=TRAIN_LR)
        order = torch.Generator().manual_seed(TRAIN_SEED)
        for _ in tqdm(range(epochs), desc="training extractor", unit="epoch", disable=not progress):
            model.train()
            for index in torch.randperm(len(images), generator=order).split(TRAIN_BATCH):
                loss = F.cross_entropy(model(images[index])[1], labels[index])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        model.eval()
    finally:
        torch.set_num_threads(threads)
    record = {"train_samples": len(images), "test_samples": len(test[0]), "epochs": epochs,
              "train_accuracy": accuracy(model, *train), "test_accuracy": accuracy(model, *test),
              "seed": TRAIN_SEED, "seconds": round(time.perf_counter() - started, 1),
              "torch": str(torch.__version__), "sha256": weights_hash(model.state_dict())}
    return model, record
