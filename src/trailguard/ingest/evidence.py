"""Finding evidence: folders walked recursively, archives opened, compression removed.

A *root* is a file the user named (or one found in a named folder). A *unit* is one stream of
log data: the root itself, or a member of a .zip / .tar(.gz|.bz2|.xz) archive, possibly nested.
Single-file compression (.gz, .bz2, .xz) is removed transparently and detected by magic bytes,
not by the file name.
"""

from __future__ import annotations

import bz2
import hashlib
import io
import lzma
import os
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from trailguard.errors import EvidenceError, SourceLocation
from trailguard.ingest.base import clean_text

_HASH_CHUNK = 1024 * 1024
_PEEK = 512
_BUFFER = 256 * 1024
_SPOOL_MEMORY = 64 * 1024 * 1024
#: What reading damaged evidence can raise: each is caught at the unit it spoils.
READ_ERRORS: tuple[type[Exception], ...] = (
    OSError, EOFError, ValueError, tarfile.TarError, zipfile.BadZipFile, zlib.error,
    lzma.LZMAError,
)
#: Opening a zip member can also fail for encrypted members and unknown methods.
_MEMBER_ERRORS: tuple[type[Exception], ...] = (*READ_ERRORS, RuntimeError, NotImplementedError)
#: Archive nesting deeper than this is refused (zip bombs nest).
MAX_NESTING = 4

_GZIP = b"\x1f\x8b"
_BZIP2 = b"BZh"
_XZ = b"\xfd7zXZ\x00"
_ZIP = (b"PK\x03\x04", b"PK\x05\x06")


@dataclass(slots=True)
class Root:
    """A file named by the user, hashed before it is read."""

    path: Path
    size: int
    sha256: str
    mtime: datetime

    @property
    def label(self) -> str:
        """The path as text that can be stored and shown (odd bytes as ``\\xNN``)."""
        return clean_text(str(self.path))


@dataclass(slots=True)
class Unit:
    """One stream of log data inside a root. ``member`` is '' for the root itself."""

    root: Root
    member: str
    opener: Callable[[], IO[bytes]] = field(repr=False)
    mtime: datetime | None = None
    hasher: HashingReader | None = field(default=None, repr=False)
    """Hashes an archive member's bytes as they are read (roots are hashed beforehand)."""
    damage: Callable[[], str | None] = field(default=lambda: None, repr=False)
    """After reading: why the data ended early (a truncated compressed file), or None."""

    def finish(self) -> tuple[str, int]:
        """SHA-256 and size of the unit's stored bytes, reading what the parser left."""
        if self.hasher is None:
            return self.root.sha256, self.root.size
        return self.hasher.drain_and_hash(), self.hasher.count

    @property
    def location(self) -> SourceLocation:
        return SourceLocation(self.root.label, self.member)

    @property
    def name(self) -> str:
        return self.member.rsplit("!", 1)[-1] if self.member else self.root.path.name


@dataclass(slots=True)
class UnitProblem:
    """A unit that could not be opened (bad archive, unreadable member…)."""

    root: Root
    member: str
    message: str


def find_roots(paths: list[Path]) -> tuple[list[Path], list[str]]:
    """All regular files under ``paths`` (folders recursively, sorted), and problems found."""
    files: list[Path] = []
    problems: list[str] = []
    for path in paths:
        try:
            mode = path.stat().st_mode
        except OSError as error:
            problems.append(f"{path}: cannot read ({error.strerror or error})")
            continue
        if stat.S_ISDIR(mode):
            def walk_error(error: OSError) -> None:
                problems.append(f"{error.filename}: cannot read ({error.strerror or error})")

            for folder, subfolders, names in os.walk(path, onerror=walk_error,
                                                     followlinks=False):
                subfolders.sort()
                for name in subfolders:
                    if (Path(folder) / name).is_symlink():
                        problems.append(f"{Path(folder) / name}: skipped (symbolic link to a "
                                        "folder; name the target to include it)")
                for name in sorted(names):
                    candidate = Path(folder) / name
                    if candidate.is_file():
                        files.append(candidate)
                    elif candidate.is_symlink() and not candidate.exists():
                        problems.append(f"{candidate}: skipped (broken symbolic link)")
                    else:
                        problems.append(f"{candidate}: skipped (not a regular file)")
        elif stat.S_ISREG(mode):
            files.append(path)
        else:
            problems.append(f"{path}: not a regular file or folder")
    return files, problems


def hash_root(path: Path) -> Root:
    """SHA-256 and size of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_HASH_CHUNK):
                digest.update(chunk)
                size += len(chunk)
        mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(tzinfo=None)
    except OSError as error:
        raise EvidenceError(f"cannot read: {error.strerror or error}",
                            SourceLocation(str(path))) from error
    return Root(path.resolve(), size, digest.hexdigest(), mtime)


class HashingReader(io.RawIOBase):
    """Counts and hashes the bytes read through it (the unit's own SHA-256)."""

    def __init__(self, inner: IO[bytes]) -> None:
        self.inner = inner
        self.digest = hashlib.sha256()
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.inner.read(len(buffer))
        size = len(data)
        buffer[:size] = data
        self.digest.update(data)
        self.count += size
        return size

    def drain_and_hash(self) -> str:
        while chunk := self.inner.read(_HASH_CHUNK):
            self.digest.update(chunk)
            self.count += len(chunk)
        return self.digest.hexdigest()


def iter_units(root: Root) -> Iterator[Unit | UnitProblem]:
    """The units of a root, in order. A unit's stream is valid until the next unit is taken."""
    try:
        handle = root.path.open("rb")
    except OSError as error:
        yield UnitProblem(root, "", f"cannot open: {error.strerror or error}")
        return
    with handle:
        yield from _units_of(root, "", handle, root.mtime, depth=0)


def _units_of(root: Root, member: str, raw: IO[bytes], mtime: datetime | None,
              depth: int, damage: Callable[[], str | None] = lambda: None,
              ) -> Iterator[Unit | UnitProblem]:
    """Classify a stream by its magic bytes and yield the units in it."""
    hasher = HashingReader(raw) if member else None
    stream = buffered(raw if hasher is None else hasher)  # type: ignore[arg-type]
    try:
        head = stream.peek(_PEEK)[:_PEEK]
    except READ_ERRORS as error:
        yield UnitProblem(root, member, f"cannot read: {error}")
        return
    kind = "zip" if head.startswith(_ZIP) else "tar" if _tar_magic(head) else None
    engine: _Decompressing | None = None
    if kind is None:
        decompressed = _decompressor(head, stream)
        if decompressed is None:
            yield Unit(root, member, lambda: stream, mtime, hasher, damage)
            return
        layers = [decompressed]  # .gz inside .gz and the like, up to the nesting limit
        while True:
            inner = buffered(layers[-1])  # type: ignore[arg-type]
            try:
                inner_head = inner.peek(_PEEK)[:_PEEK]
            except READ_ERRORS as error:
                yield UnitProblem(root, member, f"damaged compressed file: {error}")
                return
            deeper = _decompressor(inner_head, inner) if len(layers) < MAX_NESTING else None
            if deeper is None:
                break
            layers.append(deeper)
        engine = layers[-1]

        def damage_of_layers() -> str | None:
            for layer in reversed(layers):
                if (reason := layer.damage_report()) is not None:
                    return reason
            return damage()

        if inner_head.startswith(_ZIP):
            kind, stream = "zip", inner
        elif _tar_magic(inner_head):
            kind, stream = "tar", inner
        else:
            yield Unit(root, member, lambda: inner, mtime, hasher, damage_of_layers)
            return
    if depth >= MAX_NESTING:
        yield UnitProblem(root, member, f"archives nested deeper than {MAX_NESTING} levels")
        return
    if kind == "zip":
        yield from _zip_units(root, member, stream, raw if depth == 0 else None, depth)
    else:
        yield from _tar_units(root, member, stream, depth,
                              engine.damage_report if engine is not None else damage)


def buffered(raw: IO[bytes]) -> io.BufferedReader:
    """A reader that can peek ahead without consuming (sniffing needs 64 KiB of head)."""
    if type(raw) is io.BufferedReader:
        return raw
    return io.BufferedReader(raw, buffer_size=_BUFFER)  # type: ignore[arg-type]


def _zip_units(root: Root, member: str, stream: IO[bytes], seekable: IO[bytes] | None,
               depth: int) -> Iterator[Unit | UnitProblem]:
    """Members of a zip archive. Zip needs random access: nested zips are spooled first."""
    spool = None
    source: IO[bytes]
    if seekable is not None and seekable.seekable():
        seekable.seek(0)
        source = seekable
    else:
        spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_MEMORY)  # noqa: SIM115
        try:
            while chunk := stream.read(_HASH_CHUNK):
                spool.write(chunk)
        except READ_ERRORS as error:
            spool.close()
            yield UnitProblem(root, member, f"cannot read zip archive: {error}")
            return
        spool.seek(0)
        source = spool
    try:
        try:
            archive = zipfile.ZipFile(source)
        except READ_ERRORS as error:
            yield UnitProblem(root, member, f"bad zip archive: {error}")
            return
        with archive:
            for info in archive.infolist():
                if info.is_dir():
                    continue
                name = clean_text(info.filename)
                if name.startswith("__MACOSX/") or "/__MACOSX/" in name:
                    continue  # macOS resource forks, not evidence
                path = f"{member}!{name}" if member else name
                try:
                    handle = archive.open(info)
                except _MEMBER_ERRORS as error:
                    yield UnitProblem(root, path, f"cannot open zip member: {error}")
                    continue
                with handle:
                    yield from _units_of(root, path, handle, _zip_time(info), depth + 1)
    finally:
        if spool is not None:
            spool.close()


def _tar_units(root: Root, member: str, stream: IO[bytes], depth: int,
               damage: Callable[[], str | None]) -> Iterator[Unit | UnitProblem]:
    """Members of a tar archive, streamed in order (no random access needed)."""
    try:
        archive = tarfile.open(fileobj=stream, mode="r|")  # noqa: SIM115
    except READ_ERRORS as error:
        yield UnitProblem(root, member, f"bad tar archive: {error}")
        return
    try:
        while True:
            try:
                info = archive.next()
            except READ_ERRORS as error:
                yield UnitProblem(root, member, f"tar archive damaged: {error}")
                return
            if info is None:
                # tarfile stops quietly at a damaged end: make sure the stream really ended.
                try:
                    while stream.read(_HASH_CHUNK):
                        pass
                except READ_ERRORS as error:
                    yield UnitProblem(root, member, f"tar archive damaged after its last "
                                      f"readable member: {error}")
                    return
                if (reason := damage()) is not None:
                    yield UnitProblem(root, member, f"tar archive damaged after its last "
                                      f"readable member: {reason}")
                return
            if not info.isfile():
                continue
            name = clean_text(info.name)
            path = f"{member}!{name}" if member else name
            extracted = archive.extractfile(info)
            if extracted is None:
                continue
            handle = _Tolerant(extracted)
            when = datetime.fromtimestamp(info.mtime, UTC).replace(tzinfo=None) \
                if info.mtime else None
            yield from _units_of(root, path, handle, when, depth + 1,  # type: ignore[arg-type]
                                 handle.damage_report)
    finally:
        archive.close()


def _zip_time(info: zipfile.ZipInfo) -> datetime | None:
    try:
        return datetime(*info.date_time)
    except ValueError:
        return None


def _decompressor(head: bytes, handle: IO[bytes]) -> _Decompressing | None:
    if head.startswith(_GZIP):
        return _Decompressing(handle, lambda: zlib.decompressobj(16 + zlib.MAX_WBITS), _GZIP)
    if head.startswith(_BZIP2) and head[3:4].isdigit():
        return _Decompressing(handle, bz2.BZ2Decompressor, _BZIP2)
    if head.startswith(_XZ):
        return _Decompressing(handle, lzma.LZMADecompressor, _XZ)
    return None


class _Tolerant(io.RawIOBase):
    """A member of a damaged archive read up to the damage, which is then reported, not
    raised (a raised error would make buffered readers drop the bytes already read)."""

    _STEP = 16 * 1024

    def __init__(self, inner: IO[bytes]) -> None:
        self.inner = inner
        self.failure: Exception | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self.failure is not None:
            return 0
        try:
            data = self.inner.read(min(len(buffer), self._STEP))
        except READ_ERRORS as error:
            self.failure = error
            return 0
        buffer[:len(data)] = data
        return len(data)

    def damage_report(self) -> str | None:
        return None if self.failure is None else f"archive member cut short ({self.failure})"


_ZLIB_ENGINE = type(zlib.decompressobj())
_PADDING = b"\x00\r\n\t "


class _Decompressing(io.RawIOBase):
    """Decompresses a stream and hands out every byte it can before reporting damage.

    Python's GzipFile and friends drop the data decoded by a read that then meets the end of
    a truncated file; evidence is often cut short (a copy of a log being written), so here
    all the readable data comes first and the error after it. Concatenated members are
    read one after the other; output is produced in bounded steps (no bomb in memory).
    """

    _STEP = 1024 * 1024

    def __init__(self, source: IO[bytes], factory: Callable[[], Any], magic: bytes) -> None:
        self.source = source
        self.factory = factory
        self.magic = magic
        self.engine = factory()
        self.input = b""
        self.output = b""
        self.fed = False  # the current engine has seen data
        self.finished = False
        self.failure: Exception | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self.output:
            if self.finished or self.failure is not None:
                # End of the readable data; what went wrong is asked for by damage_report()
                # (raising here would make buffered readers drop the bytes already decoded).
                return 0
            self._step()
        size = min(len(buffer), len(self.output))
        buffer[:size] = self.output[:size]
        self.output = self.output[size:]
        return size

    def damage_report(self) -> str | None:
        """Why the data ended early, once it has been read to its end; None if it did not."""
        if self.failure is None:
            return None
        if isinstance(self.failure, EOFError):
            return f"truncated compressed file ({self.failure})"
        return f"damaged compressed file ({self.failure})"

    def _step(self) -> None:
        engine = self.engine
        if engine.eof:
            rest = engine.unused_data + self.input
            if not rest:
                rest = self.source.read(64 * 1024)
            if not rest:
                self.finished = True
            elif rest.startswith(self.magic):
                self.engine, self.input, self.fed = self.factory(), rest, False
            elif not rest.strip(_PADDING):
                # Padding after the stream (a newline, NULs from a block device) is harmless.
                self.input = b""
                while more := self.source.read(64 * 1024):
                    if more.strip(_PADDING):
                        self.failure = ValueError("other data after the compressed stream")
                        break
                self.finished = True
            else:
                self.failure = ValueError(f"{len(rest)}+ bytes of other data after the "
                                          "compressed stream")
                self.finished = True
            return
        if not self.input and getattr(engine, "needs_input", True) \
                and not getattr(engine, "unconsumed_tail", b""):
            self.input = self.source.read(64 * 1024)
            if not self.input:
                self.finished = True
                if self.fed:
                    self.failure = EOFError("compressed file ended before its end marker "
                                            "(truncated)")
                return
        self.fed = True
        try:
            if isinstance(engine, _ZLIB_ENGINE):
                data = engine.unconsumed_tail + self.input if engine.unconsumed_tail \
                    else self.input
                self.output = engine.decompress(data, self._STEP)
                self.input = b""
            else:
                self.output = engine.decompress(self.input, self._STEP)
                self.input = b""
        except (zlib.error, OSError, EOFError, lzma.LZMAError, ValueError) as error:
            self.failure = error
            self.finished = True


def _tar_magic(head: bytes) -> bool:
    return len(head) >= 262 and head[257:262] == b"ustar"
