"""BEGAN on 8x8 digits: why its samples were blank, and that they no longer are.

Its D is an autoencoder whose score is the L1 reconstruction error, and its G is pushed towards whatever D
reconstructs best. With a code as wide as the image, D reconstructed blank images better than real digits,
so G drew blanks (reports/conditional/began_digits.json has the numbers before and after).
"""

from __future__ import annotations

import pytest
import torch

from ganbench.config import ModelConfig, load_config
from ganbench.data import DATASETS, DataSpec
from ganbench.models import MODELS

DIGITS = DataSpec((1, 8, 8), num_classes=10)


def encoder_code(spec: DataSpec, **model: object) -> int:
    _, discriminator = MODELS.get("began").build(ModelConfig(name="began", latent_dim=64, **model), spec)
    return discriminator.encoder[-1].out_features


def test_the_autoencoding_discriminator_compresses_small_images():
    assert encoder_code(DIGITS) == 8  # not 64: 64 numbers for 64 pixels could reconstruct anything
    assert encoder_code(DIGITS, pack=2) == 16  # a packed decision reconstructs both samples
    assert encoder_code(DataSpec((1, 28, 28))) == encoder_code(DataSpec((3, 64, 64))) == 64  # latent_dim, as before
    assert encoder_code(DataSpec((2,))) == 64  # points: latent_dim, as before


def test_an_autoencoder_trained_on_digits_reconstructs_them_better_than_blank_images():
    # BEGAN's first phase (k = 0): D learns to reconstruct real digits only, and G moves towards whatever D
    # reconstructs best. After 150 steps, blank / digit error was 0.65-0.99 with the old 64-number code and
    # 1.3-2.0 with the 8-number one (seeds 0-5).
    torch.manual_seed(0)
    config = load_config(overrides=["data.name=digits", "loss.name=began", "model.d_width=16"])
    dataset = DATASETS.get("digits")(config)
    real, _ = dataset.load("train")
    _, discriminator = MODELS.get("began").build(config.model, dataset.spec(config))
    optimizer = torch.optim.Adam(discriminator.parameters(), lr=1e-3)
    for _ in range(150):
        batch = real[torch.randint(len(real), (64,))]
        error = discriminator(batch).reconstruction_error.mean()
        optimizer.zero_grad()
        error.backward()
        optimizer.step()
    with torch.no_grad():
        real_error = float(discriminator(real).reconstruction_error.mean())
        blank_error = float(discriminator(torch.full((64, 1, 8, 8), -1.0)).reconstruction_error.mean())
    assert blank_error > 1.15 * real_error


def test_the_preset_controls_k_within_a_digits_run():
    # k moves by lambda_k (gamma L(x) - L(G(z))) per D step. Mean per-pixel L1 errors on digits differ by ~0.01,
    # so with the paper's lambda_k = 0.001 (for runs of 10^5+ steps) k gains ~0.03 in a 3,000-step run: too
    # little for D to push G's samples away.
    config = load_config(overrides=["data.name=digits", "loss.name=began"])
    assert config.train.steps * config.loss.began_lambda * 0.01 >= 0.2
    assert 0.3 <= config.loss.began_gamma <= 0.7  # the paper's range


@pytest.mark.slow
def test_began_draws_digits_not_blanks():
    from ganbench.training.loop import train
    from ganbench.training.sampling import dataset_of, draw, load_generator

    torch.set_num_threads(1)
    config = load_config(overrides=["data.name=digits", "loss.name=began", "train.steps=1500", "train.threads=1",
                                    "eval.metrics=[]", "eval.select="])
    last = {}
    train(config, lambda metrics, state: last.update(state=state) if state is not None else None)
    samples = draw(load_generator(last["state"], config, "final"), config, 500, 0)
    real, _ = dataset_of(config).load("train")
    # Before: mean pixel -0.94 against -0.39 for real digits, per-pixel spread across samples 0.04 against 0.46.
    assert float(samples.mean()) == pytest.approx(float(real.mean()), abs=0.15)
    assert float(samples.std(dim=0).mean()) > 0.25
