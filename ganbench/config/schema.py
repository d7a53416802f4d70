"""The config schema: frozen dataclasses whose fields carry their documentation and range checks.

A leaf: it imports nothing from ganbench, so every layer can name config types without pulling in
the loader (``ganbench.config.loading``), which imports the component registries.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any


def _opt(default: Any, help: str, **checks: Any) -> Any:
    """A config field with its documentation and range checks (min, max, below, above, choices)."""
    return field(default=default, metadata={"help": help, **checks})


@dataclass(frozen=True)
class DataConfig:
    name: str = _opt("ring8", "dataset; see `ganbench list`", registry="datasets")
    root: str = _opt("", "folder of torchvision datasets; '' means $GANBENCH_DATA or ~/.cache/ganbench/data")
    download: bool = _opt(False, "let torchvision download missing files (under a file lock)")
    size: int = _opt(100_000, "points drawn once for 2-D mixtures (PacGAN: 100,000)", min=1)
    shape: tuple[int, ...] = _opt((1, 28, 28), "C x H x W of the `fake` dataset")
    conditional: bool = _opt(False, "condition G and D on the data's class labels (cGAN; ACGAN with "
                                    "model.d_conditioning=classifier)")
    image_size: int = _opt(64, "side of the square images `celeba` and `image_folder` are resized and cropped to",
                           choices=(8, 28, 32, 64))
    folder: str = _opt("", "folder of images for `image_folder` (one subfolder per class gives labels)")
    limit: int = _opt(0, "read at most this many images per split of `celeba` / `image_folder` (0 = all)", min=0)


@dataclass(frozen=True)
class ModelConfig:
    name: str = _opt("mlp", "network family; see `ganbench list`", registry="models")
    latent_dim: int = _opt(2, "size of the noise vector z", min=1)
    latent_distribution: str = _opt("normal", "noise distribution", choices=("normal", "uniform"))
    g_width: int = _opt(400, "generator width: hidden units (MLP) or base channels (conv)", min=1)
    d_width: int = _opt(200, "discriminator width: hidden units (MLP) or base channels (conv)", min=1)
    g_norm: str = _opt("batch", "normalisation in G", choices=("batch", "none"))
    d_norm: str = _opt("none", "normalisation in D", choices=("none", "batch", "layer"))
    d_spectral_norm: bool = _opt(False, "spectral normalisation on every D layer")
    pack: int = _opt(1, "PacGAN packing: D sees this many samples concatenated", min=1)
    pack_mode: str = _opt("within_batch", "how packs are filled: within_batch cuts train.batch_size samples into "
                          "batch_size / pack packed inputs (D makes fewer decisions as pack grows); pacgan, as PacGAN's "
                          "code, gives D batch_size packed inputs, so G (run once per pack slot, each on batch_size "
                          "noise vectors) and the data supply batch_size x pack samples a step",
                          choices=("within_batch", "pacgan"))
    init: str = _opt("default", "weight init of G and D: default keeps PyTorch's per-layer init; normal_0.02 draws every "
                     "Linear and Conv weight from N(0, 0.02) with zero biases (PacGAN, DCGAN)",
                     choices=("default", "normal_0.02"))
    bn_eps: float = _opt(1e-5, "eps of every batch norm in G and D (PyTorch 1e-5; PacGAN/Blocks 1e-4)", above=0.0)
    bn_momentum: float = _opt(0.1, "weight of the newest batch in every batch norm's running statistics (PyTorch 0.1; "
                              "PacGAN's moving average keeps 0.95 of the old value: 0.05)", above=0.0, max=1.0)
    d_conditioning: str = _opt("projection", "how D uses labels when data.conditional: a projection term "
                               "(Miyato & Koyama 2018) or an auxiliary classifier head (ACGAN)",
                               choices=("projection", "classifier"))


@dataclass(frozen=True)
class LossConfig:
    name: str = _opt("non_saturating", "adversarial loss, or a preset (wgan, wgan_gp, dragan)", registry="losses")
    penalty: str = _opt("none", "discriminator penalty", registry="penalties")
    penalty_weight: float = _opt(10.0, "weight of the penalty term (lambda; gamma for r1)", min=0.0)
    constraint: str = _opt("none", "post-D-step constraint on D", registry="constraints")
    clip_value: float = _opt(0.01, "weight_clip bound c: D weights stay in [-c, c]", above=0.0)
    class_weight: float = _opt(1.0, "weight of auxiliary_classifier's class term, for G and D alike", min=0.0)
    began_gamma: float = _opt(0.5, "boundary_equilibrium's diversity ratio gamma = E[L(G(z))] / E[L(x)] (the "
                              "paper's 0.5; the began preset sets 0.7)", above=0.0, max=1.0)
    began_lambda: float = _opt(0.001, "boundary_equilibrium's learning rate lambda_k for the control k (the paper's "
                               "0.001, for 10^5+ steps; the began preset sets 0.01)", min=0.0)
    preset: str = _opt("", "the preset these settings came from, if any", registry="presets", allow_empty=True)


@dataclass(frozen=True)
class OptimConfig:
    name: str = _opt("adam", "optimizer for both networks", choices=("adam", "rmsprop"))
    lr_g: float = _opt(1e-4, "generator learning rate", above=0.0, max=1.0)
    lr_d: float = _opt(1e-4, "discriminator learning rate", above=0.0, max=1.0)
    beta1: float = _opt(0.5, "Adam beta1", min=0.0, below=1.0)
    beta2: float = _opt(0.999, "Adam beta2", min=0.0, below=1.0)
    ema: float = _opt(0.0, "decay of an EMA copy of G, 0 = off (e.g. 0.999)", min=0.0, below=1.0)


@dataclass(frozen=True)
class TrainConfig:
    steps: int = _opt(5000, "generator steps", min=1)
    batch_size: int = _opt(100, "samples per batch, for real and fake alike", min=1)
    disc_steps: int = _opt(1, "discriminator steps per generator step", min=1)
    threads: int = _opt(0, "torch CPU threads, 0 = torch's default (recorded in the result)", min=0)
    log_every: int = _opt(50, "steps between loss and diagnostic records", min=1)
    update: str = _opt("alternating", "alternating: D steps on fakes drawn without G's graph, then G steps on fresh "
                       "noise through the updated D; simultaneous (ALI, PacGAN): one forward pass on one set of fakes "
                       "gives both gradients, G's through D's pre-step weights, then both step (needs "
                       "train.disc_steps=1)", choices=("alternating", "simultaneous"))
    compile: bool = _opt(False, "torch.compile G and D (CPU needs a C++ compiler; falls back to eager with a warning "
                         "when compilation is unavailable)")


@dataclass(frozen=True)
class EvalConfig:
    every: int = _opt(1000, "generator steps between evaluations", min=1)
    n_samples: int = _opt(2500, "generated samples per evaluation (PacGAN: 2,500)", min=1)
    metrics: tuple[str, ...] = _opt((), "metrics to compute; () = the dataset's default", registry="metrics")
    select: str = _opt("", "metric key that picks the best generator ('' = none: the last one stands)")
    fidelity: tuple[str, ...] = _opt(("fid", "is"), "image metrics during training (final evaluations compute all): "
                                     "fid, kid, is, precision, recall, density, coverage")
    split: str = _opt("train", "real split that evaluations during training compare against")
    final_split: str = _opt("test", "held-out real split for final (leaderboard) evaluations")
    final_n_samples: int = _opt(10000, "generated samples in a final evaluation (fresh noise)", min=1)
    bn_reestimate_batches: int = _opt(0, "before each evaluation, reset G's batch-norm running statistics to their "
                                      "average over this many training-size batches of G frozen (PacGAN: 50); "
                                      "0 = off (evaluate with the running statistics)", min=0)


@dataclass(frozen=True)
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    seed: int = _opt(0, "seed for weights, noise and data order", min=0)
    device: str = _opt("auto", "auto, cpu, cuda, cuda:N or mps")


SECTIONS: dict[str, type] = {"data": DataConfig, "model": ModelConfig, "loss": LossConfig,
                             "optim": OptimConfig, "train": TrainConfig, "eval": EvalConfig}


def _field_table() -> dict[str, tuple[dataclasses.Field, Any]]:
    """Every dotted key -> (field, resolved type)."""
    table: dict[str, tuple[dataclasses.Field, Any]] = {}
    top_hints = typing.get_type_hints(Config)
    for f in dataclasses.fields(Config):
        if f.name in SECTIONS:
            section = SECTIONS[f.name]
            hints = typing.get_type_hints(section)
            for sub in dataclasses.fields(section):
                table[f"{f.name}.{sub.name}"] = (sub, hints[sub.name])
        else:
            table[f.name] = (f, top_hints[f.name])
    return table


FIELDS = _field_table()


def field_default(key: str) -> Any:
    f, _ = FIELDS[key]
    return f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]


def describe_keys() -> dict[str, str]:
    """Dotted key -> help text, for ``ganbench list`` and README."""
    return {key: f.metadata.get("help", "") for key, (f, _) in FIELDS.items()}
