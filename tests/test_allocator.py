from __future__ import annotations

import pyarrow as pa
import pytest

from trailguard.allocator import use_system_allocator


def test_arrow_allocates_through_malloc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    use_system_allocator()
    assert pa.default_memory_pool().backend_name == "system"


def test_a_pool_the_user_named_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    before = pa.default_memory_pool()
    monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "mimalloc")
    pa.set_memory_pool(pa.mimalloc_memory_pool())
    try:
        use_system_allocator()
        assert pa.default_memory_pool().backend_name == "mimalloc"
    finally:
        pa.set_memory_pool(before)
