"""A name -> entry registry filled by decorators; unknown names are one-line errors listing the valid ones."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from .errors import MedSafetyError

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Entries by name, in registration order. ``what`` names an entry in errors (``judge``, ``backend``)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._entries: dict[str, T] = {}

    def add(self, name: str, entry: T) -> T:
        """Register ``entry`` under ``name``; a name can be registered once."""
        if not name or ":" in name:
            raise ValueError(f"{self.what} name {name!r}: must be non-empty and without ':'")
        if name in self._entries:
            raise ValueError(f"{self.what} {name!r} is already registered")
        self._entries[name] = entry
        return entry

    def remove(self, name: str) -> None:
        """Forget ``name`` (tests that register a temporary entry)."""
        self._entries.pop(name, None)

    def decorator(self, name: str) -> Callable[[T], T]:
        """``@registry.decorator(name)``: registers the decorated object and returns it unchanged."""
        return lambda entry: self.add(name, entry)

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise MedSafetyError(f"unknown {self.what} {name!r}: use one of {', '.join(self.names())}") from None

    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def items(self) -> Iterator[tuple[str, T]]:
        return iter(list(self._entries.items()))

    def __contains__(self, name: object) -> bool:
        return name in self._entries
