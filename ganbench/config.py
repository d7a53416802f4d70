"""The run config: frozen dataclasses, dotted keys, YAML and ``--set`` overrides, validated at load.

Precedence, lowest first: field defaults < the dataset's defaults < the loss preset's defaults
< the YAML file < ``--set key=value``. Every rejection is a ``ConfigError`` naming its key.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ganbench.config_values import check_range as _check_range
from ganbench.config_values import coerce as _coerce
from ganbench.errors import ConfigError, GanbenchError, choices_hint
from ganbench.resources import shipped_file


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
    began_gamma: float = _opt(0.5, "boundary_equilibrium's diversity ratio gamma = E[L(G(z))] / E[L(x)]",
                              above=0.0, max=1.0)
    began_lambda: float = _opt(0.001, "boundary_equilibrium's learning rate lambda_k for the control k", min=0.0)
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


# ---------------------------------------------------------------------------------------- parsing

def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"optim": {"lr_g": 1e-4}}`` -> ``{"optim.lr_g": 1e-4}``."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def parse_override(text: str) -> tuple[str, Any]:
    """``"optim.lr_g=1e-4"`` -> ``("optim.lr_g", 1e-4)``; values are YAML scalars or lists."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError("--set", f"expected key=value, got {text!r}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key, value


def read_yaml(path: str | os.PathLike) -> dict[str, Any]:
    """A YAML mapping from a file, or a one-line ``GanbenchError``."""
    path = Path(path)
    if not path.is_file():
        raise GanbenchError(f"{path}: no such file")
    try:
        tree = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise GanbenchError(f"{path}: malformed YAML{where}: {problem}") from None
    if tree is None:
        return {}
    if not isinstance(tree, dict):
        raise GanbenchError(f"{path}: expected a mapping of config keys, got {type(tree).__name__}")
    return tree


def _check_known(flat: dict[str, Any]) -> None:
    for key in flat:
        if key not in FIELDS:
            raise ConfigError(key, f"unknown config key; {choices_hint(key, FIELDS)}")


def _build(flat: dict[str, Any]) -> Config:
    values: dict[str, Any] = {}
    for key, (f, typ) in FIELDS.items():
        value = _coerce(key, flat[key], typ) if key in flat else field_default(key)
        _check_range(key, value, f.metadata)
        values[key] = value
    sections = {
        name: cls(**{sub.name: values[f"{name}.{sub.name}"] for sub in dataclasses.fields(cls)})
        for name, cls in SECTIONS.items()
    }
    return Config(**sections, seed=values["seed"], device=values["device"])


# ---------------------------------------------------------------------------------------- loading

def resolve(user: dict[str, Any]) -> Config:
    """User keys (dotted) -> a validated Config with dataset and preset defaults filled in."""
    from ganbench import components  # registries import torch; config parsing above does not

    _check_known(user)
    user = dict(user)
    dataset_name = _coerce("data.name", user.get("data.name", field_default("data.name")), str)
    dataset = components.DATASETS.get(dataset_name)

    # A preset may be named by loss.name (as sweeps do: `loss.name: [hinge, wgan_gp]`) or loss.preset.
    preset_name = user.get("loss.preset", "")
    if isinstance(user.get("loss.name"), str) and user["loss.name"] in components.PRESETS:
        if preset_name and preset_name != user["loss.name"]:
            raise ConfigError("loss.preset", f"{preset_name!r} conflicts with loss.name {user['loss.name']!r}")
        preset_name = user.pop("loss.name")
    merged: dict[str, Any] = dict(dataset.defaults)
    if preset_name:
        merged.update(components.PRESETS.get(_coerce("loss.preset", preset_name, str)).defaults)
        merged["loss.preset"] = preset_name
    merged.update(user)
    config = _build(merged)
    components.validate(config)
    return config


def load_config(path: str | os.PathLike | None = None, overrides: list[str] | tuple[str, ...] = (),
                base: dict[str, Any] | None = None) -> Config:
    """Load a YAML file (nested or dotted keys), then apply ``key=value`` overrides."""
    user: dict[str, Any] = flatten(base or {})
    if path is not None:
        user.update(flatten(read_yaml(shipped_file(path))))
    for text in overrides:
        key, value = parse_override(text)
        user[key] = value
    return resolve(user)


def to_flat(config: Config) -> dict[str, Any]:
    """Config -> dotted plain dict (lists for tuples), for Ray, MLflow params and JSON."""
    return {key: list(v) if isinstance(v, tuple) else v for key, v in flatten(dataclasses.asdict(config)).items()}


def to_dict(config: Config) -> dict[str, Any]:
    """Config -> nested plain dict, as written to config.yaml and checkpoints."""
    tree = dataclasses.asdict(config)
    return yaml.safe_load(yaml.safe_dump(tree))  # tuples -> lists: plain data only


def from_dict(tree: dict[str, Any]) -> Config:
    """Inverse of ``to_dict``; the result is validated again."""
    return resolve(flatten(tree))


def data_root(config: Config) -> Path:
    """``data.root`` as an absolute path (Ray trials run in their own working directories)."""
    root = config.data.root or os.environ.get("GANBENCH_DATA") or "~/.cache/ganbench/data"
    return Path(root).expanduser().resolve()
