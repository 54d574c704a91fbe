"""Idempotency keys for actions that are not idempotent by nature (notifications).

A key is derived from (incident, message, channel); the store remembers the keys already
sent so a resumed playbook run does not send the same message twice. The store is an
interface: the playbook runner will hand in one kept in the case folder.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Protocol


def idempotency_key(*parts: str) -> str:
    """A stable key for the given parts (``incident``, ``message``, ``channel`` …)."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return f"tg-{digest[:40]}"


class IdempotencyStore(Protocol):
    """Remembers which keys were already used."""

    def seen(self, key: str) -> bool: ...

    def remember(self, key: str) -> None: ...


class MemoryIdempotencyStore:
    """Keys in memory (one process)."""

    def __init__(self) -> None:
        self._keys: set[str] = set()

    def seen(self, key: str) -> bool:
        return key in self._keys

    def remember(self, key: str) -> None:
        self._keys.add(key)


class FileIdempotencyStore:
    """Keys in an append-only JSON-lines file (survives restarts; fsync'd per key)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def _keys(self) -> set[str]:
        if not self.path.exists():
            return set()
        keys: set[str] = set()
        for line in self.path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                keys.add(str(json.loads(line)["key"]))
        return keys

    def seen(self, key: str) -> bool:
        return key in self._keys()

    def remember(self, key: str) -> None:
        entry = {"key": key, "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(entry) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
