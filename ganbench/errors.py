"""Errors that the CLI turns into one line and exit code 2 (bad input, never a bug)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class GanbenchError(Exception):
    """Bad input: printed as one line, exit code 2, no traceback."""


class ConfigError(GanbenchError):
    """A config key has a bad value; the message names the key."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


class DataError(GanbenchError):
    """A dataset cannot be read; the message says which files to put where."""


def choices_hint(name: str, available: Iterable[str]) -> str:
    """`did you mean 'hinge'? available: a, b, c` for unknown names."""
    available = sorted(available)
    close = difflib.get_close_matches(name, available, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return f"{hint}available: {', '.join(available) or 'none'}"
