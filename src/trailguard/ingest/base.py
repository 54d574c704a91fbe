"""The parser extension point: what a source parser is and what it yields.

Implementing a parser:

1. Subclass :class:`SourceParser`, set ``NAME`` (the source type, e.g. ``"cloudtrail"``),
   ``TITLE`` and ``EXAMPLE`` (one real-looking record, shown by ``trailguard sources``).
2. Implement :meth:`SourceParser.sniff`: look at the first bytes of the (decompressed) file and
   its name and return a confidence from 0 (not mine) to 100. Content decides; the name may
   only break ties.
3. Implement :meth:`SourceParser.parse`: read the binary stream and yield one :class:`Record`
   per event, or one :class:`Rejected` per record that cannot be read. Never raise for a bad
   record and never skip one silently: every record read is either a Record or a Rejected.
   Stream: never read the whole file into memory.
4. Register the class with ``@PARSERS.register("name")`` in a module under
   ``trailguard/ingest/parsers/`` and import it in that package's ``__init__``.
5. The normalised view: fill each ``Record.normal``, or leave it empty and return a
   :class:`~trailguard.ingest.columns.Normaliser` from :meth:`SourceParser.normaliser` (a batch
   form over the stored field columns and the event form it is tested against), which is much
   faster for a format with many records.
"""

from __future__ import annotations

import io
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any, ClassVar

from trailguard.plugins import Registry

if TYPE_CHECKING:
    from trailguard.ingest.columns import Normaliser

#: Lines longer than this are rejected (without reading them into memory whole).
MAX_LINE_BYTES = 64 * 1024 * 1024

_LINE_CHUNK = 1024 * 1024

#: How many bytes of a file the sniffers see.
SNIFF_BYTES = 64 * 1024


@dataclass(slots=True)
class Record:
    """One event read from evidence.

    ``data`` holds the event with its native field names; nested mappings are kept nested and
    the store flattens them to dotted paths (``userIdentity.type``). ``normal`` holds the
    common normalised view (see :data:`trailguard.store.schema.NORMAL_COLUMNS`); ``time`` is
    the event time as naive UTC. ``key`` is a natural unique id (e.g. CloudTrail ``eventID``)
    when the format has one: records with the same key are stored once even when they arrive
    through different files.
    """

    position: int
    data: dict[str, Any]
    raw: str | bytes
    """The record as read; bytes when the parser has the UTF-8 bytes at hand (cheaper)."""
    time: datetime | None = None
    normal: dict[str, Any] = field(default_factory=dict)
    key: str | None = None


@dataclass(slots=True)
class Rejected:
    """A record that was read but could not be parsed; it goes to the quarantine table."""

    position: int
    reason: str
    raw: str | bytes = ""


@dataclass(slots=True)
class ParseContext:
    """What a parser knows about the file it reads."""

    path: str
    member: str = ""
    reference_year: int | None = None
    """Year for timestamps without one (RFC 3164 syslog); the file's modification year."""

    @property
    def name(self) -> str:
        """The innermost file name (archive member if any), for name-based hints."""
        return self.member or self.path


class SourceParser(ABC):
    """Reads one evidence format. See the module docstring for how to implement one."""

    NAME: ClassVar[str]
    """Source type, also the table suffix in the case store (``ev_<NAME>``). Never rename."""
    TITLE: ClassVar[str]
    """One line describing the format."""
    EXAMPLE: ClassVar[str]
    """A short example of the format, shown by ``trailguard sources``."""
    MAGIC: ClassVar[bytes | None] = None
    """Leading bytes that identify the format beyond doubt (binary formats); a file starting
    with them is given to this parser without asking the other sniffers."""
    @classmethod
    def normaliser(cls) -> Normaliser | None:
        """How the normalised view is computed from the stored field text, a batch at a time
        (see :mod:`trailguard.ingest.columns`), for a parser that leaves ``Record.normal``
        empty: one vector pass instead of Python per record. None: each record brings its own."""
        return None

    @classmethod
    @abstractmethod
    def sniff(cls, head: bytes, name: str) -> int:
        """Confidence 0–100 that a file starting with ``head`` (≤ 64 KiB) is this format."""

    @abstractmethod
    def parse(self, stream: IO[bytes], ctx: ParseContext) -> Iterator[Record | Rejected]:
        """Yield a Record or a Rejected for every record in ``stream``."""


PARSERS: Registry[SourceParser] = Registry("trailguard.parsers", "source parser")


def iter_lines(
    stream: IO[bytes], max_bytes: int = MAX_LINE_BYTES
) -> Iterator[tuple[int, bytes | None]]:
    """Yield ``(line_number, line)`` without the line ending; ``None`` for an over-long line.

    Reads in large chunks and splits them (much faster than a read per line); an over-long
    line is skipped as it streams past and never held in memory whole.
    """
    number = 0
    parts: list[bytes] = []  # the unfinished line, in pieces
    size = 0
    skipping = False  # inside an over-long line that was already reported
    while chunk := stream.read(_LINE_CHUNK):
        if skipping:
            cut = chunk.find(b"\n")
            if cut < 0:
                continue
            chunk = chunk[cut + 1:]
            skipping = False
            if not chunk:
                continue
        cut = chunk.rfind(b"\n")
        if cut < 0:
            parts.append(chunk)
            size += len(chunk)
            if size > max_bytes:
                number += 1
                yield number, None
                parts, size, skipping = [], 0, True
            continue
        if parts:
            parts.append(chunk[:cut])
            lines = b"".join(parts).split(b"\n")
        else:
            lines = chunk[:cut].split(b"\n")
        rest = chunk[cut + 1:]
        parts, size = ([rest], len(rest)) if rest else ([], 0)
        for line in lines:
            number += 1
            if len(line) > max_bytes:
                yield number, None
            elif line.endswith(b"\r"):
                yield number, line[:-1]
            else:
                yield number, line
    if size and not skipping:
        line = b"".join(parts)
        number += 1
        if len(line) > max_bytes:
            yield number, None
        else:
            yield number, line[:-1] if line.endswith(b"\r") else line


def decode(data: bytes) -> str:
    """Decode log bytes as UTF-8; undecodable bytes become ``\\xNN`` escapes, never lost."""
    return data.decode("utf-8", errors="backslashreplace")


def head_lines(head: bytes, limit: int) -> list[str]:
    """The first ``limit`` complete, non-empty lines of a sniffing head, decoded (a last line
    cut by the head's end is dropped)."""
    lines = head.split(b"\n")
    if len(head) >= SNIFF_BYTES and len(lines) > 1:
        lines = lines[:-1]
    return [decode(line).rstrip("\r") for line in lines if line.strip()][:limit]


def clean_text(text: str) -> str:
    """Text safe to store and print: undecodable bytes that Python carries as surrogate escapes
    (file names, tar member names) become ``\\xNN``; other lone surrogates ``\\udXXX``."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        try:
            return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        except UnicodeEncodeError:
            return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def too_long(number: int) -> Rejected:
    return Rejected(number, f"line longer than {MAX_LINE_BYTES} bytes", b"")


def text_of(value: Any) -> str | None:
    """A field value as text for the normalised view ('' and '-' count as absent)."""
    if type(value) is str:  # the usual case, first
        return value if value and value != "-" else None
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if text in ("", "-"):
        return None
    return text


def int_of(value: Any) -> int | None:
    """A field value as an integer for the normalised view, or None."""
    if value is None or isinstance(value, bool):
        return None
    if not isinstance(value, int):
        text = str(value).strip()
        try:
            if text.lower().startswith("0x"):
                value = int(text, 16)
            else:
                try:
                    value = int(text)  # exact, also beyond 2**53
                except ValueError:
                    value = int(float(text))
        except (ValueError, OverflowError):
            return None
    if not -(2**63) <= value < 2**63:
        return None
    return int(value)


def dig(data: dict[str, Any], *path: str) -> Any:
    """``data[a][b][c]`` or None when any step is missing or not a mapping."""
    current: Any = data
    for step in path:
        if not isinstance(current, dict):
            return None
        current = current.get(step)
        if current is None:
            return None
    return current
def peekable(stream: IO[bytes]) -> io.BufferedReader:
    """The stream as a reader that can peek ahead without consuming."""
    if isinstance(stream, io.BufferedReader):
        return stream
    return io.BufferedReader(stream, buffer_size=256 * 1024)  # type: ignore[arg-type]


def first_byte(stream: io.BufferedReader) -> bytes:
    """The first byte that is not whitespace or a UTF-8 byte-order mark (b'' if none is seen)."""
    head = stream.peek(4096)[:4096]
    return head.lstrip(b" \t\r\n").removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")[:1]


