"""Reading API response bodies whatever wrapper the SDK or CLI put around lists
(``{"Vpcs": {"Vpc": [...]}}``, ``{"trailList": [...]}``, an XML-converted OSS body …)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any


def find(body: Any, *keys: str) -> Any:
    """The first value under any of ``keys`` (case-insensitive), searched depth-first."""
    wanted = {key.lower() for key in keys}
    stack = [body]
    while stack:
        node = stack.pop(0)
        if isinstance(node, Mapping):
            for key, value in node.items():
                if str(key).lower() in wanted:
                    return value
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return None


def items(body: Any, *keys: str) -> list[Mapping[str, Any]]:
    """The objects of a list found under ``keys``, unwrapping ``{"Vpc": [...]}`` and single
    objects where a one-element list was meant."""
    value = find(body, *keys)
    while isinstance(value, Mapping) and len(value) == 1:
        inner = next(iter(value.values()))
        if isinstance(inner, list | Mapping):
            value = inner
        else:
            break
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, Mapping)]
    return []


def strings(value: Any) -> Iterator[str]:
    """Every string in a value that may be a string, a list, or a wrapper of lists."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from strings(item)


def truthy(value: Any) -> bool | None:
    """``true``/``"true"``/``"Enable"``/1 → True; the opposites → False; else None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "yes", "enable", "enabled", "on", "1", "active"):
            return True
        if text in ("false", "no", "disable", "disabled", "off", "0", "inactive", "fresh"):
            return False
    return None


def document(value: Any) -> Mapping[str, Any] | None:
    """A policy document given as an object or as a JSON string."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, Mapping) else None
