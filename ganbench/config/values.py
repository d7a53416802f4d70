"""Checking one config value against its annotated type and its range (the field's metadata)."""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Iterable
from typing import Any, TypeVar

from ganbench.errors import ConfigError, choices_hint

T = TypeVar("T")


def coerce(key: str, value: Any, typ: Any) -> Any:
    """Check one value against its annotated type; accept the YAML spellings people use."""
    origin = typing.get_origin(typ)
    if typ is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(key, f"expected true or false, got {value!r}")
    if typ is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(key, f"expected an integer, got {value!r}")
    if typ is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            result = float(value)
        elif isinstance(value, str):
            # PyYAML reads "1e-4" (no dot) as a string; accept any float spelling.
            try:
                result = float(value)
            except ValueError:
                raise ConfigError(key, f"expected a number, got {value!r}") from None
        else:
            raise ConfigError(key, f"expected a number, got {value!r}")
        if not math.isfinite(result):
            raise ConfigError(key, f"expected a finite number, got {value!r}")
        return result
    if typ is str:
        if isinstance(value, str):
            return value
        raise ConfigError(key, f"expected a string, got {value!r}")
    if origin is tuple:
        (item_type, _ellipsis) = typing.get_args(typ)
        if isinstance(value, str):
            value = [part for part in value.replace("x", ",").split(",") if part.strip()] if item_type is int \
                else [part.strip() for part in value.split(",") if part.strip()]
            if item_type is int:
                try:
                    value = [int(part) for part in value]
                except ValueError:
                    raise ConfigError(key, "expected a list of integers") from None
        if not isinstance(value, (list, tuple)):
            raise ConfigError(key, f"expected a list, got {value!r}")
        return tuple(coerce(key, item, item_type) for item in value)
    raise TypeError(f"unsupported config type {typ} for {key}")  # a bug in this module, not input


def check_range(key: str, value: Any, meta: dict[str, Any]) -> None:
    if "choices" in meta:
        one_of(value, meta["choices"], key)
    if "min" in meta and value < meta["min"]:
        raise ConfigError(key, f"must be >= {meta['min']}, got {value!r}")
    if "max" in meta and value > meta["max"]:
        raise ConfigError(key, f"must be <= {meta['max']}, got {value!r}")
    if "above" in meta and value <= meta["above"]:
        raise ConfigError(key, f"must be > {meta['above']}, got {value!r}")
    if "below" in meta and value >= meta["below"]:
        raise ConfigError(key, f"must be < {meta['below']}, got {value!r}")


# Checks for keys outside the config dataclasses (sweep and benchmark files), with the same messages.

def required(tree: dict[str, Any], key: str, where: str) -> Any:
    """``tree[key]``, or an error naming ``where + key`` as missing."""
    if key not in tree:
        raise ConfigError(f"{where}{key}", "missing")
    return tree[key]


def number(value: Any, key: str) -> float:
    """Any YAML spelling of a number (PyYAML reads "1e-4" as a string) as a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError(key, f"expected a number, got {value!r}")
    try:
        return float(value)
    except ValueError:
        raise ConfigError(key, f"expected a number, got {value!r}") from None


def positive_int(value: Any, key: str, minimum: int = 1) -> int:
    """An integer (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(key, f"expected an integer >= {minimum}, got {value!r}")
    return value


def one_of(value: Any, choices: tuple[Any, ...], key: str) -> Any:
    """``value`` if it is one of ``choices``; else an error listing them, closest first."""
    if value not in choices:
        raise ConfigError(key, f"invalid value {value!r}; {choices_hint(str(value), choices)}")
    return value


def known_keys(tree: Any, allowed: Iterable[str], where: str, what: str = "key") -> dict[str, Any]:
    """``tree`` if it is a mapping of ``allowed`` keys; else an error naming the first unknown key and the choices."""
    allowed = tuple(allowed)
    if tree is None:
        return {}
    if not isinstance(tree, dict):
        raise ConfigError(where.rstrip("."), f"expected a mapping with {', '.join(allowed)}")
    for key in tree:
        if key not in allowed:
            raise ConfigError(f"{where}{key}", f"unknown {what}; {choices_hint(str(key), allowed)}")
    return tree


def check_value(key: str, value: Any, typ: Any, meta: dict[str, Any]) -> Any:
    """One value against its field's type and metadata: ``coerce`` and ``check_range``, then the field's own
    ``check(value, key)`` if it has one. A field typed ``Any`` (a nested block, a list of them) is not coerced."""
    if typ is Any:
        pass
    elif typ is int and "min" in meta:  # the sweep files' wording: "expected an integer >= 0, got -1"
        value = positive_int(value, key, minimum=meta["min"])
    else:
        value = coerce(key, value, typ)
    check_range(key, value, meta)
    return meta["check"](value, key) if "check" in meta else value


REQUIRED: Any = object()  # the default of a field a file must give


def from_mapping(cls: type[T], tree: Any, where: str = "", what: str = "key") -> T:
    """A frozen dataclass from a YAML mapping: unknown keys refused with the choices, missing required fields
    named, and each given value checked by its field (``schema._opt``'s metadata). Absent keys keep the default."""
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    tree = known_keys(tree, fields, where, what)
    hints = typing.get_type_hints(cls)
    values = {}
    for name, f in fields.items():
        if name in tree:
            values[name] = check_value(f"{where}{name}", tree[name], hints[name], dict(f.metadata))
        elif f.default is REQUIRED:
            raise ConfigError(f"{where}{name}", "missing")
    return cls(**values)
