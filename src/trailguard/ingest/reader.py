"""Reading one evidence root: units → parser → encoded batches, as a stream of events.

This half of the ingest touches no database, so it can run in worker processes (one root
per task) while the main process writes to the case. For each unit the stream is
``UnitStart``, then ``EncodedBatch`` / ``QuarantineBatch`` items, then ``UnitEnd``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import shutil
import signal
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pyarrow as pa

import trailguard.ingest.parsers  # noqa: F401  (registers the built-in parsers)
from trailguard.allocator import use_system_allocator
from trailguard.collector import collector_paused
from trailguard.ingest.base import (
    PARSERS,
    SNIFF_BYTES,
    ParseContext,
    Record,
    Rejected,
    SourceParser,
)
from trailguard.ingest.evidence import READ_ERRORS, Root, Unit, UnitProblem, iter_units
from trailguard.store.encode import EncodedBatch, encode_records, encode_rejected

log = logging.getLogger(__name__)

#: A unit's records are encoded in batches of at most this many records or raw bytes.
BATCH_RECORDS = 20_000
BATCH_BYTES = 24 * 1024 * 1024
#: The first batch of a unit is smaller (later ones grow to the full size), so that the writer
#: starts while the reader is still reading.
FIRST_BATCH_RECORDS = 2_000


@dataclass(slots=True)
class RootJob:
    """What a reader needs to read one root."""

    root: Root
    skip_members: frozenset[str] = frozenset()
    """Archive members already in the case (an interrupted run being completed)."""
    forced: str | None = None
    reference_year: int | None = None


@dataclass(slots=True)
class UnitStart:
    member: str


@dataclass(slots=True)
class UnitEnd:
    member: str
    status: str  # complete | partial | empty | unrecognised | unreadable | skipped
    message: str | None = None
    source_type: str | None = None
    records: int = 0
    quarantined: int = 0
    sha256: str | None = None
    size: int | None = None


@dataclass(slots=True)
class QuarantineBatch:
    table: pa.Table


@dataclass(slots=True)
class SpilledBatch:
    """A batch a worker process wrote to an Arrow IPC file for the main process."""

    path: str
    source_type: str | None
    keyed: bool
    quarantine: bool

    def load(self) -> EncodedBatch | QuarantineBatch:
        """The batch, read back (memory-mapped) from its file, which is then removed.

        Normal-view columns travel in the same file under names starting with ``\\x01``.
        """
        with pa.memory_map(self.path) as source:
            table = pa.ipc.open_file(source).read_all()
        os.unlink(self.path)
        if self.quarantine:
            return QuarantineBatch(table)
        native = table.select([n for n in table.column_names if not n.startswith("\x01")])
        normal = table.select([n for n in table.column_names if n.startswith("\x01")])
        normal = normal.rename_columns([n[1:] for n in normal.column_names])
        return EncodedBatch(self.source_type or "", native, normal, self.keyed)


@dataclass(slots=True)
class ReaderFailure:
    """A worker's reader stopped on an unexpected error (a bug, not bad evidence)."""

    message: str


Event = UnitStart | UnitEnd | EncodedBatch | QuarantineBatch | SpilledBatch | ReaderFailure


#: A sniffer score that means "unmistakable" (see SourceParser.sniff).
CERTAIN = 90
_last_choice: list[type[SourceParser]] = []


def choose_parser(head: bytes, name: str) -> type[SourceParser] | None:
    """The most confident parser for a file's first bytes, or None.

    Evidence comes in runs of one format (a folder of S3 deliveries, an archive of logs): the
    parser that took the previous file is asked first, and keeps the file when it is certain.
    """
    for _, cls in PARSERS:
        if cls.MAGIC and head.startswith(cls.MAGIC):
            return cls
    if _last_choice:
        previous = _last_choice[0]
        try:
            if previous.sniff(head, name) >= CERTAIN:
                return previous
        except Exception:  # a sniffer bug must not stop the ingest
            log.exception("sniffer of %s failed on %s", previous.NAME, name)
    chosen = _best_parser(head, name)
    _last_choice[:] = [chosen] if chosen is not None else []
    return chosen


def _best_parser(head: bytes, name: str) -> type[SourceParser] | None:
    best: tuple[int, str] = (0, "")
    for key, cls in PARSERS:
        try:
            score = cls.sniff(head, name)
        except Exception:  # a sniffer bug must not stop the ingest
            log.exception("sniffer of %s failed on %s", key, name)
            continue
        if score > best[0] or (score == best[0] and score > 0 and key < best[1]):
            best = (score, key)
    return PARSERS.get(best[1]) if best[0] > 0 else None


def read_root(job: RootJob) -> Iterator[Event]:
    """The events of every unit of a root, in order."""
    forced = PARSERS.get(job.forced) if job.forced else None
    for unit in iter_units(job.root):
        if unit.member and unit.member in job.skip_members:
            if isinstance(unit, Unit):
                _finish(unit)
            yield UnitEnd(unit.member, "skipped")
            continue
        yield UnitStart(unit.member)
        if isinstance(unit, UnitProblem):
            yield UnitEnd(unit.member, "unreadable", unit.message)
            continue
        yield from _read_unit(unit, forced, job.reference_year)


def _read_unit(unit: Unit, forced: type[SourceParser] | None,
               reference_year: int | None) -> Iterator[Event]:
    stream = unit.opener()
    try:
        head = stream.read(SNIFF_BYTES)
    except READ_ERRORS as error:
        sha, size = _finish(unit)
        yield UnitEnd(unit.member, "unreadable", f"cannot read: {error}", sha256=sha, size=size)
        return
    if not head:
        sha, size = _finish(unit)
        reason = unit.damage()
        yield UnitEnd(unit.member, "unreadable" if reason else "empty", reason or "empty file",
                      sha256=sha, size=size)
        return
    parser_cls = forced or choose_parser(head, unit.name)
    encoding = None if parser_cls is not None else _utf16_encoding(head)
    if encoding is not None:  # e.g. a log saved by PowerShell: read it as UTF-8
        stream = io.BufferedReader(_Transcoder(_Chain(head, stream), encoding))
        head = stream.read(SNIFF_BYTES)
        parser_cls = choose_parser(head, unit.name)
    if parser_cls is None:
        sha, size = _finish(unit)
        yield UnitEnd(unit.member, "unrecognised", "format not recognised: " + _describe(head),
                      sha256=sha, size=size)
        return
    root = unit.root
    source_type = parser_cls.NAME
    year = reference_year or (unit.mtime or root.mtime).year
    context = ParseContext(root.label, unit.member, year)
    prefix = hashlib.blake2b(f"{root.sha256}\x00{unit.member}".encode("utf-8", "surrogatepass"),
                             digest_size=8).hexdigest() + ":"
    records = quarantined = sequence = 0
    status, message = "complete", None
    batch: list[Record] = []
    batch_bytes = 0
    batch_limit = FIRST_BATCH_RECORDS
    rejected: list[Rejected] = []
    parse_stream = io.BufferedReader(_Chain(head, stream))
    items = parser_cls().parse(parse_stream, context)
    while True:
        try:
            item = next(items)
        except StopIteration:
            break
        except READ_ERRORS as error:
            status = "partial"
            message = f"stopped reading after {records + len(batch)} records: {_reason(error)}"
            break
        except Exception as error:  # a parser bug: keep what was read, say so
            log.exception("parser %s failed on %s", source_type, unit.location)
            status = "partial"
            message = (f"parser error after {records + len(batch)} records: "
                       f"{type(error).__name__}: {error}")
            break
        if type(item) is Record or isinstance(item, Record):
            batch.append(item)
            batch_bytes += len(item.raw)
            if len(batch) >= batch_limit or batch_bytes >= BATCH_BYTES:
                yield encode_records(source_type, batch, prefix, sequence,
                                     parser_cls.normaliser())
                records += len(batch)
                sequence += len(batch)
                batch, batch_bytes = [], 0
                batch_limit = min(batch_limit * 4, BATCH_RECORDS)
        else:
            rejected.append(item)
            records += 1
            quarantined += 1
            if len(rejected) >= BATCH_RECORDS:
                yield QuarantineBatch(encode_rejected(source_type, rejected))
                rejected = []
    if status == "complete" and (reason := unit.damage()) is not None:
        status = "partial"
        message = f"stopped reading after {records + len(batch)} records: {reason}"
    if batch:
        records += len(batch)
        yield encode_records(source_type, batch, prefix, sequence,
                             parser_cls.normaliser())
    if rejected:
        yield QuarantineBatch(encode_rejected(source_type, rejected))
    sha, size = _finish(unit)
    yield UnitEnd(unit.member, status, message, source_type, records, quarantined, sha, size)


#: The queue a worker process streams its events to (set by ``start_worker``).
_RESULTS: Any = None


def start_worker(results: Any, writer_pid: int | None = None) -> None:
    """Initialiser of a worker process: where to send events. Ctrl-C is the main process's to
    handle (it stops the queued work and rolls back what is unfinished). A worker whose writer
    (``writer_pid``) was killed outright leaves too, instead of waiting forever."""
    global _RESULTS
    _RESULTS = results
    use_system_allocator()
    if writer_pid is not None:
        threading.Thread(target=_leave_with, args=(writer_pid,), daemon=True,
                         name="trailguard-writer-watch").start()
    # A worker leaves only when the run is over: by then the main process has taken every event
    # it waits for, or has failed and stopped reading. Either way the worker must not block at
    # exit flushing events nobody will read (the queue's feeder thread would wait forever).
    results.cancel_join_thread()
    signal.signal(signal.SIGINT, signal.SIG_IGN)


#: How often a worker checks that its writer is still there.
WRITER_CHECK_SECONDS = 1.0


def _leave_with(writer_pid: int) -> None:
    """Exit this worker as soon as the writer process is gone (killed without a chance to stop
    its workers: nothing would read what they send)."""
    while True:
        time.sleep(WRITER_CHECK_SECONDS)
        try:
            os.kill(writer_pid, 0)
        except ProcessLookupError:
            os._exit(1)
        except PermissionError:  # the pid was reused by another user's process
            os._exit(1)


def stream_root(index: int, job: RootJob, spool: Spool) -> None:
    """Read a root in a worker process and stream its events, as they come, to the main
    process (batches go through Arrow IPC files in ``spool``). ``None`` closes the stream."""
    with collector_paused():
        try:
            for event in read_root(job):
                _RESULTS.put((index, spill(event, spool)))
        except Exception as error:  # a bug: the main process must fail loudly, not lose data
            log.exception("reading %s failed", job.root.path)
            _RESULTS.put((index, ReaderFailure(f"{type(error).__name__}: {error}")))
        finally:
            _RESULTS.put((index, None))


def spill(event: Event, spool: Spool) -> Event:
    """A batch written to an IPC file (other events unchanged)."""
    if isinstance(event, EncodedBatch):
        normal = event.normal.rename_columns(["\x01" + n for n in event.normal.column_names])
        table = pa.Table.from_arrays(
            [*event.native.columns, *normal.columns],
            names=[*event.native.column_names, *normal.column_names])
        return SpilledBatch(_write_ipc(table, spool), event.source_type, event.keyed,
                            quarantine=False)
    if isinstance(event, QuarantineBatch):
        return SpilledBatch(_write_ipc(event.table, spool), None, False, quarantine=True)
    return event


def _write_ipc(table: pa.Table, spool: Spool) -> str:
    folder = spool.folder_for(table.nbytes)
    name = f"{uuid.uuid4().hex}.arrow"
    try:
        return _write_ipc_file(table, os.path.join(folder, name))
    except OSError:
        if folder == spool.disk:
            raise
    # Shared memory filled up behind our back (other programs use it too): go to disk.
    return _write_ipc_file(table, os.path.join(spool.disk, name))


def _write_ipc_file(table: pa.Table, path: str) -> str:
    try:
        with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    return path


#: Where batches travel from the workers to the writer: shared memory while it holds less
#: than this, the case folder beyond (writing a batch to a disk-backed file cost 7 µs per
#: Windows event, to shared memory 2 µs; the writer maps either without copying).
SPOOL_MEMORY_BYTES = 256 * 1024 * 1024
_SHARED_MEMORY = "/dev/shm"  # noqa: S108  (a folder of our own is made inside it)
_SPOOL_PREFIX = "trailguard-spool-"


@dataclass(slots=True)
class Spool:
    """The folders of one run's batch files: one on disk and, where the system has it, one in
    shared memory used up to ``memory_bytes`` (an estimate: two workers may overshoot it by a
    batch each)."""

    disk: str
    memory: str | None = None
    memory_bytes: int = SPOOL_MEMORY_BYTES

    def folder_for(self, size: int) -> str:
        if self.memory is not None:
            try:
                used = sum(entry.stat().st_size for entry in os.scandir(self.memory))
            except OSError:
                return self.disk
            if used + size <= self.memory_bytes:
                return self.memory
        return self.disk

    def remove(self) -> None:
        for folder in (self.disk, self.memory):
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)


def make_spool(folder: Path) -> Spool:
    """A new spool for a run writing to the case in ``folder``.

    The shared-memory folder is named after the case, so a run killed before it could remove
    its folder has it removed by the next run on the same case (one writer at a time)."""
    disk = tempfile.mkdtemp(prefix=".spool-", dir=folder)
    tag = hashlib.blake2b(str(folder.resolve()).encode("utf-8", "surrogateescape"),
                          digest_size=8).hexdigest()
    prefix = f"{_SPOOL_PREFIX}{tag}-"
    try:
        for stale in Path(_SHARED_MEMORY).glob(prefix + "*"):
            shutil.rmtree(stale, ignore_errors=True)
        free = os.statvfs(_SHARED_MEMORY)
        if free.f_bavail * free.f_frsize < 2 * SPOOL_MEMORY_BYTES:
            return Spool(disk)
        return Spool(disk, tempfile.mkdtemp(prefix=prefix, dir=_SHARED_MEMORY))
    except OSError:  # no shared memory here (not Linux, or a container without it)
        return Spool(disk)


class _Chain(io.RawIOBase):
    """The already-read head followed by the rest of the stream."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self.head = memoryview(head)
        self.offset = 0
        self.rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self.offset < len(self.head):
            size = min(len(buffer), len(self.head) - self.offset)
            buffer[:size] = self.head[self.offset:self.offset + size]
            self.offset += size
            return size
        data = self.rest.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def _utf16_encoding(head: bytes) -> str | None:
    """'utf-16' when the file starts with a UTF-16 byte-order mark or looks like UTF-16 text."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    sample = head[:512]
    if len(sample) >= 16 and sample.count(0) * 2 >= len(sample) * 0.9:
        if sample[1::2].count(0) >= len(sample) // 2 * 0.9:
            return "utf-16-le"
        if sample[0::2].count(0) >= len(sample) // 2 * 0.9:
            return "utf-16-be"
    return None


class _Transcoder(io.RawIOBase):
    """Reads a UTF-16 byte stream as UTF-8 bytes (undecodable units become U+FFFD)."""

    def __init__(self, raw: io.RawIOBase, encoding: str) -> None:
        self.text = io.TextIOWrapper(io.BufferedReader(raw), encoding=encoding,
                                     errors="replace", newline="")
        self.pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self.pending:
            chunk = self.text.read(64 * 1024)
            if not chunk:
                return 0
            self.pending = chunk.encode("utf-8", errors="backslashreplace")
        size = min(len(buffer), len(self.pending))
        buffer[:size] = self.pending[:size]
        self.pending = self.pending[size:]
        return size


def _finish(unit: Unit) -> tuple[str | None, int | None]:
    """The unit's hash and size; unknown (None) when the rest of it cannot be read."""
    try:
        return unit.finish()
    except READ_ERRORS:
        return None, None


def _reason(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    if isinstance(error, EOFError) or "end-of-stream" in text:
        return f"truncated compressed file ({text})"
    return text


def _describe(head: bytes) -> str:
    """A short, safe description of a file's first bytes for an error message."""
    sample = head[:24]
    printable = sum(32 <= byte < 127 or byte in (9, 10, 13) for byte in head[:512])
    kind = "text" if printable >= 0.9 * min(len(head), 512) else "binary data"
    return f"{kind}, first bytes {sample!r}"
