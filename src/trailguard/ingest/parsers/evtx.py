"""Windows binary event logs (``.evtx``), read with the ``evtx`` package (evtx-rs bindings).

Format: a 4 KiB file header starting with ``ElfFile\\0``, then 64 KiB chunks (``ElfChnk\\0``),
each with a 512-byte header that declares the first and last event record identifiers it
holds, followed by BinXML records. Reference: the libyal "Windows XML Event Log (EVTX)" format
specification (https://github.com/libyal/libevtx/blob/main/documentation) and
https://github.com/omerbenamram/pyevtx-rs for the package.

Each record comes from ``PyEvtxParser.records_json()`` as the evtx-rs JSON text (kept as
``Record.raw``) and is flattened to the Sigma field names described in
:mod:`trailguard.ingest.parsers._windows` (``EventID``, ``Channel``, ``Provider_Name``,
``CommandLine`` …). ETW captures converted to EVTX have no ``Channel``; they are accepted.

Nothing is lost silently, and no file can hang the parser:

* The main pass validates chunk checksums (evtx-rs can loop forever on some damaged chunks when it
  does not). A damaged record is reported by the package as an exception: it becomes a
  :class:`Rejected`.
* A chunk the package skips (bad checksum) or reads nothing from (cut short by a truncated copy)
  is read again without validation, zero-padded, in a child process that is killed after
  :data:`RECOVERY_SECONDS`; what it still holds is saved, the rest is Rejected.
* Every chunk header (checksum-verified) declares its record range; after reading, any shortfall
  against those declared counts becomes ``Rejected`` items, so stored + rejected equals the
  number of records the file says it holds.

Positions are the order of reading (1, 2, …); ``EventRecordID`` stays in the data. The package
needs a seekable file; a stream that is not a plain file (an archive member, a decompressed
stream) is spooled to a bounded-memory temporary file first.
"""

from __future__ import annotations

import io
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, ClassVar

import orjson
from evtx import PyEvtxParser

from trailguard.ingest.base import PARSERS, ParseContext, Record, Rejected, SourceParser
from trailguard.ingest.columns import Normaliser
from trailguard.ingest.parsers._windows import flatten_event
from trailguard.ingest.parsers._windows_normal import NORMALISER
from trailguard.ingest.timeparse import parse_iso

FILE_MAGIC = b"ElfFile\x00"
CHUNK_MAGIC = b"ElfChnk\x00"
FILE_HEADER_SIZE = 4096
CHUNK_SIZE = 65536
CHUNK_HEADER_SIZE = 512
#: The smallest possible record (24-byte header + 4-byte trailing size) bounds how many records
#: a chunk can declare; a larger declaration is not believed.
MAX_RECORDS_PER_CHUNK = (CHUNK_SIZE - CHUNK_HEADER_SIZE) // 28
#: Streams that are not plain files are spooled to disk past this size.
SPOOL_MEMORY = 64 * 1024 * 1024
#: Give up on a file whose reader keeps failing without progress (never loops forever).
MAX_CONSECUTIVE_ERRORS = 100_000

_PLAIN_FILES = (io.BytesIO, io.BufferedReader, io.BufferedRandom, io.FileIO)


@PARSERS.register("evtx")
class EvtxParser(SourceParser):
    NAME: ClassVar[str] = "evtx"
    MAGIC: ClassVar[bytes | None] = FILE_MAGIC
    TITLE: ClassVar[str] = (
        "Windows binary event logs (.evtx: Security, System, Sysmon, PowerShell …, also ETW "
        "captures converted to EVTX), flattened to Sigma field names"
    )
    EXAMPLE: ClassVar[str] = (
        "ElfFile\\0 … (binary). One record as stored: {\"EventID\": 4624, \"Channel\": "
        "\"Security\", \"Computer\": \"DC1.corp.local\", \"Provider_Name\": "
        "\"Microsoft-Windows-Security-Auditing\", \"TimeCreated\": \"2024-03-01T10:00:00.1Z\", "
        "\"TargetUserName\": \"alice\", \"LogonType\": 10, \"IpAddress\": \"203.0.113.7\"}"
    )

    @classmethod
    def normaliser(cls) -> Normaliser:
        return NORMALISER

    @classmethod
    def sniff(cls, head: bytes, name: str) -> int:
        return 100 if head.startswith(FILE_MAGIC) else 0

    def parse(self, stream: IO[bytes], ctx: ParseContext) -> Iterator[Record | Rejected]:
        spool: IO[bytes] | None = None
        try:
            source = stream
            if not (isinstance(stream, _PLAIN_FILES) and stream.seekable()):
                spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY)  # noqa: SIM115
                shutil.copyfileobj(stream, spool, 1024 * 1024)
                source = spool
            source.seek(0)
            chunks = _declared_chunks(source)
            source.seek(0)
            yield from _records(source, chunks)
        finally:
            if spool is not None:
                spool.close()


@dataclass(slots=True)
class _Chunk:
    index: int
    first_id: int
    last_id: int
    seen: int = 0

    @property
    def declared(self) -> int:
        return self.last_id - self.first_id + 1


def _declared_chunks(source: IO[bytes]) -> list[_Chunk]:
    """Chunks whose header checksum is valid, sorted by first record identifier."""
    chunks: list[_Chunk] = []
    offset = FILE_HEADER_SIZE
    while True:
        source.seek(offset)
        header = source.read(CHUNK_HEADER_SIZE)
        if len(header) < CHUNK_HEADER_SIZE:
            break
        if header.startswith(CHUNK_MAGIC):
            first_id, last_id = struct.unpack_from("<QQ", header, 24)
            (checksum,) = struct.unpack_from("<I", header, 124)
            valid = zlib.crc32(header[:120] + header[128:]) == checksum
            if valid and 0 <= last_id - first_id < MAX_RECORDS_PER_CHUNK:
                index = (offset - FILE_HEADER_SIZE) // CHUNK_SIZE
                chunks.append(_Chunk(index, first_id, last_id))
        offset += CHUNK_SIZE
    chunks.sort(key=lambda chunk: chunk.first_id)
    return chunks


class _Tally:
    """Counts what was read against what the chunk headers declare."""

    def __init__(self, chunks: list[_Chunk]) -> None:
        self.chunks = chunks
        self.starts = [chunk.first_id for chunk in chunks]
        self.by_index = {chunk.index: chunk for chunk in chunks}
        self.position = 0
        self.errors = 0

    def record(self, item: Any) -> Record | Rejected:
        self.position += 1
        record_id = item.get("event_record_id") if isinstance(item, dict) else None
        if isinstance(record_id, int) and self.starts:
            index = bisect_right(self.starts, record_id) - 1
            if index >= 0 and record_id <= self.chunks[index].last_id:
                self.chunks[index].seen += 1
        return _record(self.position, item)

    def reject(self, reason: str) -> Rejected:
        self.position += 1
        self.errors += 1
        return Rejected(self.position, reason, "")

    def lost(self) -> Iterator[Rejected]:
        missing = sum(max(0, chunk.declared - chunk.seen) for chunk in self.chunks) - self.errors
        for _ in range(max(0, missing)):
            self.position += 1
            yield Rejected(self.position, "EVTX record lost in a damaged or truncated chunk "
                           "(declared by its chunk header but unreadable)", "")


def _records(source: IO[bytes], chunks: list[_Chunk]) -> Iterator[Record | Rejected]:
    tally = _Tally(chunks)
    try:
        parser = PyEvtxParser(source, number_of_threads=1, indent=False, validate_checksums=True)
        iterator = parser.records_json()
    except (OSError, RuntimeError, ValueError) as error:
        yield tally.reject(f"unreadable EVTX file: {error}")
        return
    damaged: list[int] = []
    consecutive = 0
    while True:
        try:
            item = next(iterator)
        except StopIteration:
            break
        except (OSError, RuntimeError, ValueError) as error:
            consecutive += 1
            match = _FAILED_CHUNK.search(str(error))
            if match and len(damaged) < MAX_RECOVERED_CHUNKS:
                damaged.append(int(match.group(1)))  # retried below, in a separate process
            else:
                yield tally.reject(f"damaged EVTX record: {error}")
            if consecutive >= MAX_CONSECUTIVE_ERRORS:
                break
            continue
        consecutive = 0
        yield tally.record(item)
    # Chunks the package skipped with an error, and declared chunks it read nothing from
    # without saying so (a chunk cut short by a truncated copy).
    retry = [index for index in damaged
             if index not in tally.by_index or tally.by_index[index].seen == 0]
    retry += sorted(chunk.index for chunk in chunks
                    if chunk.seen == 0 and chunk.index not in damaged)[:MAX_RECOVERED_CHUNKS]
    if retry:
        yield from _recover_chunks(source, retry, tally)
    yield from tally.lost()


# --------------------------------------------------------------------------- damaged chunks
#
# evtx-rs can loop forever on some damaged chunks when checksums are not validated (upstream
# omerbenamram/evtx issues #263, #264, #290). The main pass therefore validates checksums, which
# makes the package skip a damaged chunk with an error. Those chunks are then read again without
# validation -- to save what records they still hold -- in a child process that is killed when
# it takes too long, so a hostile or broken file can never hang the ingest.

_FAILED_CHUNK = re.compile(r"[Ff]ailed to parse chunk number (\d+)")
#: Seconds a child process may spend on the damaged chunks it was given.
RECOVERY_SECONDS = 10.0
#: Damaged chunks retried per file, and child processes allowed to time out per file.
MAX_RECOVERED_CHUNKS = 256
MAX_RECOVERY_TIMEOUTS = 3

_RECOVERY_CHILD = """
import io, json, sys
from evtx import PyEvtxParser
blob = sys.stdin.buffer.read()
header, out = blob[:4096], sys.stdout
for number in range((len(blob) - 4096) // 65536):
    chunk = blob[4096 + number * 65536:4096 + (number + 1) * 65536]
    out.write(json.dumps({"chunk": number}) + "\\n")
    out.flush()
    try:
        records = PyEvtxParser(io.BytesIO(header + chunk), number_of_threads=1,
                               indent=False, validate_checksums=False).records_json()
        while True:
            try:
                item = next(records)
            except StopIteration:
                break
            except Exception as error:
                out.write(json.dumps({"error": str(error)}) + "\\n")
                continue
            out.write(json.dumps({"record": {key: item.get(key) for key in
                                  ("event_record_id", "timestamp", "data")}}) + "\\n")
    except Exception as error:
        out.write(json.dumps({"error": str(error)}) + "\\n")
    out.write(json.dumps({"done": number}) + "\\n")
    out.flush()
"""


def _single_chunk_header(source: IO[bytes]) -> bytes:
    """The file header rewritten to describe one chunk (numbers 0..0), checksum fixed."""
    source.seek(0)
    header = bytearray(source.read(FILE_HEADER_SIZE).ljust(FILE_HEADER_SIZE, b"\x00"))
    struct.pack_into("<QQ", header, 8, 0, 0)
    struct.pack_into("<H", header, 42, 1)
    struct.pack_into("<I", header, 124, zlib.crc32(bytes(header[:120])))
    return bytes(header)


def _recover_chunks(source: IO[bytes], indexes: list[int], tally: _Tally) \
        -> Iterator[Record | Rejected]:
    header = _single_chunk_header(source)
    pending: list[tuple[int, bytes]] = []
    for index in indexes:
        source.seek(FILE_HEADER_SIZE + index * CHUNK_SIZE)
        pending.append((index, source.read(CHUNK_SIZE).ljust(CHUNK_SIZE, b"\x00")))
    timeouts = 0
    while pending:
        blob = header + b"".join(chunk for _, chunk in pending)
        try:
            done = subprocess.run(  # noqa: S603  (fixed argv, no shell, data on stdin)
                [sys.executable, "-I", "-c", _RECOVERY_CHILD], input=blob,
                capture_output=True, timeout=RECOVERY_SECONDS, check=False)
            output, finished = done.stdout, True
        except subprocess.TimeoutExpired as expired:
            output, finished = expired.stdout or b"", False
        except OSError as error:
            for index, _ in pending:
                yield tally.reject(f"damaged EVTX chunk {index} could not be retried: {error}")
            return
        completed: set[int] = set()
        current: int | None = None
        for line in output.splitlines():
            try:
                message = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # the last line of a killed child may be cut
            if not isinstance(message, dict):
                continue
            if isinstance(message.get("chunk"), int) and message["chunk"] < len(pending):
                current = pending[message["chunk"]][0]
            elif "done" in message and current is not None:
                completed.add(current)
            elif "record" in message:
                yield tally.record(message["record"])
            elif "error" in message:
                yield tally.reject(f"damaged EVTX chunk {current}: {message['error']}")
        remaining = [(index, chunk) for index, chunk in pending if index not in completed]
        if finished or not remaining:
            for index, _ in remaining:
                yield tally.reject(f"damaged EVTX chunk {index}: reader stopped unexpectedly")
            return
        timeouts += 1
        yield tally.reject(f"damaged EVTX chunk {remaining[0][0]}: reading did not finish "
                           f"within {RECOVERY_SECONDS:g} s; its other records are lost")
        pending = remaining[1:]
        if timeouts >= MAX_RECOVERY_TIMEOUTS:
            for index, _ in pending:
                yield tally.reject(f"damaged EVTX chunk {index}: not retried (too many "
                                   "damaged chunks)")
            return


def _record(position: int, item: Any) -> Record | Rejected:
    raw = item.get("data") if isinstance(item, dict) else None
    if not isinstance(raw, str):
        return Rejected(position, "EVTX record without data", "")
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        return Rejected(position, f"EVTX record rendered as invalid JSON: {error}", raw)
    event = document.get("Event") if isinstance(document, dict) else None
    if event is None and isinstance(document, dict) and len(document) == 1:
        # A damaged template can garble the root element's name; the content is still there.
        (event,) = document.values()
    if not isinstance(event, dict) or not isinstance(event.get("System"), dict):
        return Rejected(position, "EVTX record without an Event/System element", raw)
    data = flatten_event(event)
    when = data.get("TimeCreated")
    time = parse_iso(when) if isinstance(when, str) else None
    if time is None:
        stamp = item.get("timestamp")
        if isinstance(stamp, str):
            time = parse_iso(stamp.removesuffix(" UTC"))
    return Record(position=position, data=data, raw=raw, time=time)
