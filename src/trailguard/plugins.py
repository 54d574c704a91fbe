"""A small registry for each extension point: built-ins plus entry points, built-in wins."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from trailguard.errors import UnknownPluginError

T = TypeVar("T")
log = logging.getLogger(__name__)


class Registry(Generic[T]):
    """Named plugin classes of one kind.

    Built-ins register themselves with the :meth:`register` decorator; third parties add
    entry points in ``group``. On a name clash the built-in wins and a warning is logged.
    """

    def __init__(self, group: str, kind: str) -> None:
        self.group = group
        self.kind = kind
        self._items: dict[str, type[T]] = {}
        self._entry_points_loaded = False

    def register(self, name: str) -> Callable[[type[T]], type[T]]:
        def decorator(cls: type[T]) -> type[T]:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            self._items[name] = cls
            return cls

        return decorator

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        for ep in entry_points(group=self.group):
            if ep.name in self._items:
                log.warning("%s %r from entry point %s ignored: built-in wins",
                            self.kind, ep.name, ep.value)
                continue
            self._items[ep.name] = ep.load()

    def get(self, name: str) -> type[T]:
        self._load_entry_points()
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items))
            raise UnknownPluginError(f"unknown {self.kind} {name!r}; known: {known}") from None

    def names(self) -> list[str]:
        self._load_entry_points()
        return list(self._items)

    def __iter__(self) -> Iterator[tuple[str, type[T]]]:
        self._load_entry_points()
        return iter(list(self._items.items()))
