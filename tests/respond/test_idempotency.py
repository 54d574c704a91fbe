"""Idempotency keys and stores."""

from __future__ import annotations

from pathlib import Path

from trailguard.respond.idempotency import (
    FileIdempotencyStore,
    MemoryIdempotencyStore,
    idempotency_key,
)


def test_keys_are_stable_and_distinct():
    assert idempotency_key("INC-1", "m") == idempotency_key("INC-1", "m")
    assert idempotency_key("INC-1", "m") != idempotency_key("INC-1m", "")
    assert idempotency_key("a").startswith("tg-")


def test_stores(tmp_path: Path):
    memory = MemoryIdempotencyStore()
    assert not memory.seen("k")
    memory.remember("k")
    assert memory.seen("k")
    path = tmp_path / "keys.jsonl"
    FileIdempotencyStore(path).remember("k1")
    reopened = FileIdempotencyStore(path)
    assert reopened.seen("k1") and not reopened.seen("k2")
