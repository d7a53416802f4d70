"""Name -> class registries that live beside their family (losses, penalties, models, ...).

Registries hold classes or factories, never instances, so configs stay plain data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from ganbench.errors import ConfigError, choices_hint

T = TypeVar("T")


class Registry(Generic[T]):
    """A named family of components, e.g. ``LOSSES = Registry("loss", Loss)``."""

    def __init__(self, family: str, base: type | None = None, key: str | None = None) -> None:
        self.family = family
        self.base = base
        self.key = key or family  # the config key that selects an entry, for error messages
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Class decorator: ``@LOSSES.register("hinge")``."""

        def decorator(obj: T) -> T:
            if not name.isidentifier() or name != name.lower():
                raise ValueError(f"{self.family} name {name!r} must be a lowercase identifier")
            if name in self._entries:
                raise ValueError(f"{self.family} {name!r} is already registered")
            if self.base is not None and not (isinstance(obj, type) and issubclass(obj, self.base)):
                raise ValueError(f"{self.family} {name!r} must subclass {self.base.__name__}")
            self._entries[name] = obj
            if isinstance(obj, type):
                obj.name = name  # type: ignore[attr-defined]
            return obj

        return decorator

    def get(self, name: str) -> T:
        if name not in self._entries:
            raise ConfigError(self.key, f"unknown {self.family} {name!r}; {choices_hint(name, self._entries)}")
        return self._entries[name]

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def items(self) -> list[tuple[str, T]]:
        return [(name, self._entries[name]) for name in self.names()]
