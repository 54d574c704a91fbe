"""Canonical JSON and file hashing in chunks (evidence can be many gigabytes).

A file's digest keeps, besides its SHA-256, the SHA-256 of each chunk: when the file later
differs, the chunks that differ say which byte ranges changed, without keeping a copy.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Bytes per chunk hash (1 MiB). Bigger files get bigger chunks, see `chunk_size_for`.
CHUNK_SIZE = 1024 * 1024
#: At most this many chunk hashes per file (~270 KB of JSON): a 4 GiB file still has 1 MiB
#: chunks, a 40 GiB file has 16 MiB chunks.
MAX_CHUNKS = 4096


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8 (not \\u escapes): the bytes that are hashed and signed."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def chunk_size_for(size: int, base: int = CHUNK_SIZE) -> int:
    """The chunk size for a file of ``size`` bytes: ``base`` doubled until the file has at
    most MAX_CHUNKS chunks."""
    chunk = base
    while size > chunk * MAX_CHUNKS:
        chunk *= 2
    return chunk


@dataclass(frozen=True, slots=True)
class FileDigest:
    """SHA-256 and size of a file, and the SHA-256 of each ``chunk_size`` piece of it."""

    sha256: str
    size: int
    chunk_size: int
    chunks: tuple[str, ...]

    def differing_ranges(self, other: FileDigest) -> list[tuple[int, int]]:
        """Byte ranges [start, end) of ``other`` (a later digest of the same file, same chunk
        size) whose chunks differ from this one's; a change of length counts from the end of
        the shorter file."""
        ranges: list[tuple[int, int]] = []
        longest = max(self.size, other.size)
        for index in range(max(len(self.chunks), len(other.chunks))):
            mine = self.chunks[index] if index < len(self.chunks) else None
            theirs = other.chunks[index] if index < len(other.chunks) else None
            if mine != theirs:
                start = index * self.chunk_size
                end = min(start + self.chunk_size, longest)
                if ranges and ranges[-1][1] == start:
                    ranges[-1] = (ranges[-1][0], end)  # adjacent chunks: one range
                else:
                    ranges.append((start, end))
        return ranges


def hash_file(path: Path, chunk_size: int | None = None) -> FileDigest:
    """Read ``path`` once, in chunks: its SHA-256, size and per-chunk SHA-256.

    ``chunk_size`` None chooses one from the file's size (`chunk_size_for`). Raises OSError.
    """
    with path.open("rb") as handle:
        if chunk_size is None:
            chunk_size = chunk_size_for(path.stat().st_size)
        whole = hashlib.sha256()
        chunks: list[str] = []
        size = 0
        while piece := handle.read(chunk_size):
            whole.update(piece)
            chunks.append(hashlib.sha256(piece).hexdigest())
            size += len(piece)
    return FileDigest(whole.hexdigest(), size, chunk_size, tuple(chunks))
