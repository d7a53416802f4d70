"""The run config: the schema (frozen dataclasses addressed by dotted keys), value checks, and the loader
that fills in dataset and preset defaults and validates against the component registries.

``schema`` and ``values`` are leaves. Component modules (data, models, gan, metrics) import config types only
under ``TYPE_CHECKING``, because the validation imports their registries. The names below are loaded on first
use (PEP 562), so that reading a YAML file or naming a config key (a sweep file's parse) imports no torch; only
``resolve``, ``load_config``, ``validate`` and ``REGISTRIES`` load the registries.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what type checkers and editors see; at run time ``__getattr__`` loads each name on first use
    from ganbench.config.loading import (
        flatten,
        from_dict,
        load_config,
        parse_override,
        read_yaml,
        resolve,
        to_dict,
        to_flat,
    )
    from ganbench.config.schema import (
        FIELDS,
        SECTIONS,
        Config,
        DataConfig,
        EvalConfig,
        LossConfig,
        ModelConfig,
        OptimConfig,
        TrainConfig,
        describe_keys,
        field_default,
    )
    from ganbench.config.validation import REGISTRIES, validate

_HOMES = {
    **dict.fromkeys(("flatten", "from_dict", "load_config", "parse_override", "read_yaml", "resolve", "to_dict",
                     "to_flat"), "loading"),
    **dict.fromkeys(("FIELDS", "SECTIONS", "Config", "DataConfig", "EvalConfig", "LossConfig", "ModelConfig",
                     "OptimConfig", "TrainConfig", "describe_keys", "field_default"), "schema"),
    **dict.fromkeys(("REGISTRIES", "validate"), "validation"),
}

__all__ = ["FIELDS", "REGISTRIES", "SECTIONS", "Config", "DataConfig", "EvalConfig", "LossConfig", "ModelConfig",
           "OptimConfig", "TrainConfig", "describe_keys", "field_default", "flatten", "from_dict", "load_config",
           "parse_override", "read_yaml", "resolve", "to_dict", "to_flat", "validate"]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
