"""Loading a config: YAML files and ``key=value`` overrides onto the schema, with the dataset's and the
loss preset's defaults, validated against the registries. The one config module that imports them.

Precedence, lowest first: field defaults < the dataset's defaults < the loss preset's defaults
< the YAML file < ``--set key=value``. Every rejection is a ``ConfigError`` naming its key.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from pathlib import Path
from typing import Any

import yaml

from ganbench.config.schema import FIELDS, SECTIONS, Config, field_default
from ganbench.config.values import check_range, coerce, known_keys
from ganbench.errors import ConfigError, GanbenchError
from ganbench.resources import shipped_file


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


class UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping (PyYAML keeps the last one silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise DuplicateKey(key, seen[key], line)
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


class DuplicateKey(yaml.YAMLError):
    def __init__(self, key: Any, first: int, again: int) -> None:
        super().__init__(f"key {key!r} given twice (line {first} and line {again}); keep one")
        self.problem, self.problem_mark = str(self), None


def read_yaml(path: str | os.PathLike) -> dict[str, Any]:
    """A YAML mapping from a file, or a one-line ``GanbenchError`` (malformed YAML, a key given twice)."""
    path = Path(path)
    if not path.is_file():
        raise GanbenchError(f"{path}: no such file")
    try:
        tree = yaml.load(path.read_text(), Loader=UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except DuplicateKey as exc:
        raise GanbenchError(f"{path}: {exc}") from None
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
    known_keys(flat, FIELDS, "", "config key")


def _build(flat: dict[str, Any]) -> Config:
    values: dict[str, Any] = {}
    for key, (f, typ) in FIELDS.items():
        value = coerce(key, flat[key], typ) if key in flat else field_default(key)
        check_range(key, value, f.metadata)
        values[key] = value
    sections = {
        name: cls(**{sub.name: values[f"{name}.{sub.name}"] for sub in dataclasses.fields(cls)})
        for name, cls in SECTIONS.items()
    }
    return Config(**sections, seed=values["seed"], device=values["device"])


def resolve(user: dict[str, Any]) -> Config:
    """User keys (dotted) -> a validated Config with dataset and preset defaults filled in. The one function here
    that needs the component registries (and so torch): they are imported on first call, so that reading YAML and
    flattening keys stay cheap."""
    from ganbench.config.validation import validate  # the registries (torch): only resolving needs them
    from ganbench.data import DATASETS  # (the same)
    from ganbench.gan.presets import PRESETS  # (the same)

    _check_known(user)
    user = dict(user)
    dataset_name = coerce("data.name", user.get("data.name", field_default("data.name")), str)
    dataset = DATASETS.get(dataset_name)

    # A preset may be named by loss.name (as sweeps do: `loss.name: [hinge, wgan_gp]`) or loss.preset.
    preset_name = user.get("loss.preset", "")
    if isinstance(user.get("loss.name"), str):
        _check_loss_name(user["loss.name"])
    if isinstance(user.get("loss.name"), str) and user["loss.name"] in PRESETS:
        if preset_name and preset_name != user["loss.name"]:
            raise ConfigError("loss.preset", f"{preset_name!r} conflicts with loss.name {user['loss.name']!r}")
        preset_name = user.pop("loss.name")
    merged: dict[str, Any] = dict(dataset.defaults)
    if preset_name:
        merged.update(PRESETS.get(coerce("loss.preset", preset_name, str)).defaults)
        merged["loss.preset"] = preset_name
    merged.update(user)
    config = _build(merged)
    validate(config)
    return config


def _check_loss_name(name: str) -> None:
    """loss.name takes a loss or a preset's name: an unknown one lists both, and a name close to a preset's
    suggests the preset's own key (``wgan_pg`` -> ``loss.preset=wgan_gp``)."""
    from ganbench.gan.losses import LOSSES  # the registries (torch), as in resolve
    from ganbench.gan.presets import PRESETS  # (the same)

    if name in LOSSES or name in PRESETS:
        return
    close = difflib.get_close_matches(name, [*LOSSES, *PRESETS], n=1)
    hint = ("" if not close else f"did you mean the preset '{close[0]}' (loss.preset={close[0]})? "
            if close[0] in PRESETS else f"did you mean '{close[0]}'? ")
    raise ConfigError("loss.name", f"unknown loss {name!r}; {hint}losses: {', '.join(LOSSES)}; presets "
                                   f"(loss.preset=NAME or loss.name=NAME): {', '.join(PRESETS)}")


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
