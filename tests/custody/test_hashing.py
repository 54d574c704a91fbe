from __future__ import annotations

from pathlib import Path

from trailguard.custody.hashing import (
    CHUNK_SIZE,
    MAX_CHUNKS,
    canonical_json,
    chunk_size_for,
    hash_file,
)


def test_canonical_json_sorts_keys_without_spaces_in_utf8() -> None:
    assert canonical_json({"b": 1, "a": ["é", None]}) == '{"a":["é",null],"b":1}'.encode()


def test_chunk_hashes_locate_a_changed_byte(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(bytes(range(20)))
    before = hash_file(path, 8)
    assert before.size == 20 and len(before.chunks) == 3
    path.write_bytes(bytes(range(9)) + b"\xff" + bytes(range(10, 20)))
    assert before.differing_ranges(hash_file(path, 8)) == [(8, 16)]


def test_growth_and_truncation_are_ranges_from_the_shorter_end(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(bytes(16))
    before = hash_file(path, 8)
    path.write_bytes(bytes(20))
    assert before.differing_ranges(hash_file(path, 8)) == [(16, 20)]
    path.write_bytes(bytes(5))
    assert before.differing_ranges(hash_file(path, 8)) == [(0, 16)]


def test_big_files_get_bigger_chunks() -> None:
    assert chunk_size_for(10) == CHUNK_SIZE
    assert chunk_size_for(CHUNK_SIZE * MAX_CHUNKS) == CHUNK_SIZE
    assert chunk_size_for(CHUNK_SIZE * MAX_CHUNKS + 1) == 2 * CHUNK_SIZE
    assert chunk_size_for(40 * 2**30) == 16 * CHUNK_SIZE
