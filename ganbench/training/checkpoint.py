"""Checkpoints as plain data: loadable with ``torch.load(weights_only=True)``.

RNG states are tensors (torch) and the config is a plain dict, never pickled objects.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from ganbench import __version__
from ganbench.config import Config, flatten, from_dict, to_dict
from ganbench.errors import ConfigError, GanbenchError

FORMAT_VERSION = 1


def rng_state(device: torch.device) -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state_all(state["cuda"])


def save(state: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write atomically, so a killed process never leaves a half-written checkpoint."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    torch.save(state, partial)
    os.replace(partial, path)
    return path


def load(path: str | os.PathLike) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise GanbenchError(f"{path}: no such checkpoint")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a text file, a truncated zip, a foreign pickle: all one answer
        raise GanbenchError(f"{path}: not a ganbench checkpoint, or a truncated one (torch.load: "
                            f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:200]})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT_VERSION:
        raise GanbenchError(f"{path}: not a ganbench checkpoint (format {FORMAT_VERSION})")
    return state


def config_of(state: dict[str, Any]) -> Config:
    return from_dict(state["config"])


def check_resumable(state: dict[str, Any], config: Config, force: bool = False) -> None:
    """Refuse to resume a checkpoint written under another config, unless forced."""
    saved, current = state["config"], to_dict(config)
    if saved == current or force:
        return

    current_flat = flatten(current)
    # A key added since the checkpoint was written held its default then: it changed nothing unless set otherwise now.
    saved_flat = {**flatten(to_dict(Config())), **flatten(saved)}
    if saved_flat == current_flat:
        return
    changed = sorted(k for k in set(saved_flat) | set(current_flat) if saved_flat.get(k) != current_flat.get(k))
    first = changed[0]
    raise ConfigError(first, f"differs from the checkpoint ({saved_flat.get(first)!r} there, "
                             f"{current_flat.get(first)!r} now; {len(changed)} key(s) changed: {', '.join(changed)}); "
                             "resume with the checkpoint's config, or force it")


def header(config: Config, step: int) -> dict[str, Any]:
    return {"format": FORMAT_VERSION, "ganbench_version": __version__, "config": to_dict(config), "step": step}
