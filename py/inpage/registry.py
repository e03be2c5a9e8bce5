"""A registry of named plug-ins that live one per module in a package: tasks, detector heads.

Every module of the package is imported on the first lookup, so a new plug-in is one new file
that registers itself; nothing else needs to list it.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Generic, TypeVar

from .errors import ManifestError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, package: str, path, what: str):
        self._package = package
        self._path = path
        self._what = what
        self._items: dict[str, T] = {}
        self._discovered = False

    def add(self, name: str, item: T) -> T:
        self._items[name] = item
        return item

    def _discover(self) -> None:
        if not self._discovered:
            self._discovered = True
            for module in pkgutil.iter_modules(self._path):
                importlib.import_module(f"{self._package}.{module.name}")

    def names(self) -> tuple[str, ...]:
        self._discover()
        return tuple(sorted(self._items))

    def items(self) -> list[tuple[str, T]]:
        self._discover()
        return sorted(self._items.items())

    def get(self, name) -> T:
        self._discover()
        if name not in self._items:
            raise ManifestError(f"{self._what} must be one of {', '.join(self.names())}, not {name!r}")
        return self._items[name]
