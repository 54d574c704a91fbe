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

Nothing is lost silently. The package reports a damaged record as an exception while iterating;
each one becomes a :class:`Rejected`. A damaged chunk or a truncated file can also make it skip
records without saying so, so the parser reads every chunk header (checksum-verified) first and,
after iterating, turns any shortfall against the declared record counts into ``Rejected`` items.
The package needs a seekable file; a stream that is not a plain file (an archive member, a
decompressed stream) is spooled to a bounded-memory temporary file first.
"""

from __future__ import annotations

import io
import shutil
import struct
import tempfile
import zlib
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, ClassVar

import orjson
from evtx import PyEvtxParser

from trailguard.ingest.base import PARSERS, ParseContext, Record, Rejected, SourceParser
from trailguard.ingest.parsers._windows import flatten_event, normalise
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
                chunks.append(_Chunk(first_id, last_id))
        offset += CHUNK_SIZE
    chunks.sort(key=lambda chunk: chunk.first_id)
    return chunks


def _records(source: IO[bytes], chunks: list[_Chunk]) -> Iterator[Record | Rejected]:
    position = 0
    try:
        parser = PyEvtxParser(source, number_of_threads=1, indent=False)
        iterator = parser.records_json()
    except (OSError, RuntimeError, ValueError) as error:
        yield Rejected(1, f"unreadable EVTX file: {error}", "")
        return
    starts = [chunk.first_id for chunk in chunks]
    errors = 0
    consecutive = 0
    while True:
        try:
            item = next(iterator)
        except StopIteration:
            break
        except (OSError, RuntimeError, ValueError) as error:
            position += 1
            errors += 1
            consecutive += 1
            yield Rejected(position, f"damaged EVTX record: {error}", "")
            if consecutive >= MAX_CONSECUTIVE_ERRORS:
                break
            continue
        consecutive = 0
        position += 1
        record_id = item.get("event_record_id") if isinstance(item, dict) else None
        if isinstance(record_id, int) and starts:
            index = bisect_right(starts, record_id) - 1
            if index >= 0 and record_id <= chunks[index].last_id:
                chunks[index].seen += 1
        yield _record(position, item)
    lost = sum(max(0, chunk.declared - chunk.seen) for chunk in chunks) - errors
    for _ in range(max(0, lost)):
        position += 1
        yield Rejected(position, "EVTX record lost in a damaged or truncated chunk "
                       "(declared by its chunk header but unreadable)", "")


def _record(position: int, item: Any) -> Record | Rejected:
    raw = item.get("data") if isinstance(item, dict) else None
    if not isinstance(raw, str):
        return Rejected(position, "EVTX record without data", "")
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        return Rejected(position, f"EVTX record rendered as invalid JSON: {error}", raw)
    event = document.get("Event") if isinstance(document, dict) else None
    if not isinstance(event, dict):
        return Rejected(position, "EVTX record without an Event element", raw)
    data = flatten_event(event)
    when = data.get("TimeCreated")
    time = parse_iso(when) if isinstance(when, str) else None
    if time is None:
        stamp = item.get("timestamp")
        if isinstance(stamp, str):
            time = parse_iso(stamp.removesuffix(" UTC"))
    return Record(position=position, data=data, raw=raw, time=time, normal=normalise(data))
