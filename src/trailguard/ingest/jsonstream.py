"""Streaming reader for JSON evidence in any of the shapes tools write.

Handles JSON Lines, one pretty-printed document, several documents one after another (as in
SigmaHQ's regression JSON) and top-level arrays, whose elements are yielded one at a time
without loading the array. Each document comes with its position (line number for JSON Lines,
element or document number otherwise) and its raw text.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import orjson

from trailguard.ingest.base import MAX_LINE_BYTES, Record, Rejected, decode, iter_lines

_CHUNK = 1024 * 1024
_WS = " \t\r\n\ufeff"
_DECODER = json.JSONDecoder()


@dataclass(slots=True)
class JsonDoc:
    position: int
    value: Any
    raw: str | bytes
    """The document's text; the UTF-8 bytes of the line for JSON Lines."""


def sniff_json_values(head: bytes, limit: int = 5) -> list[Any]:
    """Decode up to ``limit`` complete JSON values from the start of a file (for sniffers).

    Array elements are returned one by one; a truncated value at the end of ``head`` is ignored.
    """
    text = head.decode("utf-8", errors="ignore").lstrip(_WS)
    values: list[Any] = []
    if text.startswith("["):
        index = 1
        while len(values) < limit:
            while index < len(text) and text[index] in _WS + ",":
                index += 1
            if index >= len(text) or text[index] == "]":
                break
            try:
                value, index = _DECODER.raw_decode(text, index)
            except (ValueError, RecursionError):
                break
            values.append(value)
        return values
    index = 0
    while len(values) < limit and index < len(text):
        while index < len(text) and text[index] in _WS:
            index += 1
        if index >= len(text):
            break
        try:
            value, index = _DECODER.raw_decode(text, index)
        except (ValueError, RecursionError):
            break
        values.append(value)
    return values


Unwrap = Callable[[JsonDoc], Iterable[tuple[Any, "str | bytes"]]]


def iter_json_items(
    stream: IO[bytes], build: Callable[[int, Any, str | bytes], Record | Rejected], unwrap: Unwrap
) -> Iterator[Record | Rejected]:
    """Records from JSON documents that may each hold several (``{"Records": [...]}``).

    ``unwrap`` yields a document's items with their raw text; ``build`` turns one item into a
    Record. An item's position is its document's line number, or the next number when one
    document holds several, so positions stay unique and increasing.
    """
    last = 0
    for doc in iter_json(stream):
        if isinstance(doc, Rejected):
            yield doc
            continue
        for item, raw in unwrap(doc):
            last = max(doc.position, last + 1)
            yield build(last, item, raw)


def iter_json(stream: IO[bytes]) -> Iterator[JsonDoc | Rejected]:
    """Yield every JSON document (or array element) in ``stream``."""
    skipped_lines = 0
    first = stream.read(1)
    if first == b"\xef":  # UTF-8 byte-order mark
        first = stream.read(1) if stream.read(2) == b"\xbb\xbf" else b"\x00"
    while first and first in b" \t\r\n":
        skipped_lines += first == b"\n"
        first = stream.read(1)
    if not first:
        return
    if first == b"[":
        yield from _iter_array(stream)
        return
    yield from _iter_lines_or_documents(first, stream, skipped_lines)


def _iter_lines_or_documents(
    first: bytes, stream: IO[bytes], offset: int
) -> Iterator[JsonDoc | Rejected]:
    """JSON Lines fast path; a document scanner takes over while a line is not whole JSON."""
    carry = ""  # text of a multi-line document being assembled
    carry_start = 0
    got_line = False
    for number, line in iter_lines(stream):
        number += offset
        if not got_line:
            got_line = True
            line = first + line if line is not None else None
        if line is None:
            if carry:
                yield Rejected(carry_start, "unterminated JSON document", carry)
                carry = ""
            yield Rejected(number, f"line longer than {MAX_LINE_BYTES} bytes", b"")
            continue
        if not carry:
            stripped = line.strip()
            if not stripped:
                continue
            try:
                value = orjson.loads(stripped)
            except orjson.JSONDecodeError:
                lenient = _not_utf8(stripped)
                if lenient is not None:  # valid JSON with a few bytes that are not UTF-8
                    yield JsonDoc(number, lenient, stripped)
                    continue
                carry, carry_start = "", number
            else:
                yield JsonDoc(number, value, stripped)
                continue
        carry += decode(line) + "\n"
        if len(carry) > MAX_LINE_BYTES:
            yield Rejected(carry_start, "JSON document larger than the limit", carry)
            carry = ""
            continue
        items, carry, carry_start = _drain(carry_start, carry, final=False)
        yield from items
    if not got_line:
        carry, carry_start = decode(first), offset + 1
    if carry.strip():
        items, _, _ = _drain(carry_start, carry, final=True)
        yield from items


def _not_utf8(line: bytes) -> Any:
    """A JSON line that is valid but for bytes that are not UTF-8, decoded; otherwise None.

    The odd bytes survive as surrogate escapes and are stored as ``\\xNN`` text.
    """
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        try:
            return json.loads(line.decode("utf-8", "surrogateescape"))
        except (ValueError, RecursionError):
            return None
    return None


def _drain(start: int, text: str, final: bool) -> tuple[list[JsonDoc | Rejected], str, int]:
    """Decode the complete documents in ``text``.

    Returns the documents (or rejections), the unfinished tail and the line it starts on.
    """
    items: list[JsonDoc | Rejected] = []
    index = 0
    line = start
    while True:
        while index < len(text) and text[index] in _WS:
            if text[index] == "\n":
                line += 1
            index += 1
        if index >= len(text):
            return items, "", line
        try:
            value, end = _DECODER.raw_decode(text, index)
        except (json.JSONDecodeError, RecursionError) as error:
            if isinstance(error, json.JSONDecodeError):
                if not final and error.pos >= len(text.rstrip(_WS)):
                    return items, text[index:], line
                reason = f"invalid JSON: {error.msg}"
            else:
                reason = "JSON nested too deeply"
            # Not readable: reject the rest of this line and resynchronise on the next one.
            newline = text.find("\n", index)
            stop = len(text) if newline < 0 else newline
            items.append(Rejected(line, reason, text[index:stop]))
            if newline < 0:
                return items, "", line
            index = newline
            continue
        raw = text[index:end]
        items.append(JsonDoc(line, value, raw))
        line += raw.count("\n")
        index = end


def _iter_array(stream: IO[bytes]) -> Iterator[JsonDoc | Rejected]:
    """Yield the elements of a top-level JSON array one by one."""
    buffer = ""
    index = 0
    element = 0
    eof = False
    decoder = _DECODER

    def refill() -> bool:
        nonlocal buffer, index, eof
        chunk = stream.read(_CHUNK)
        if not chunk:
            eof = True
            return False
        buffer = buffer[index:] + _decode_chunk(chunk, stream)
        index = 0
        return True

    refill()
    while True:
        while True:
            while index < len(buffer) and buffer[index] in _WS:
                index += 1
            if index < len(buffer) or eof or not refill():
                break
        if index >= len(buffer):
            yield Rejected(element + 1, "JSON array not closed (truncated file?)", "")
            return
        char = buffer[index]
        if char == "]":
            return
        if char == "," and element > 0:
            index += 1
            continue
        while True:
            try:
                value, end = decoder.raw_decode(buffer, index)
            except (json.JSONDecodeError, RecursionError) as error:
                if isinstance(error, RecursionError):
                    yield Rejected(element + 1, "JSON nested too deeply (the rest of the array "
                                   "cannot be delimited)", buffer[index:])
                    return
                if not eof and (len(buffer) - index) < MAX_LINE_BYTES and refill():
                    continue
                element += 1
                yield Rejected(element, f"invalid JSON in array: {error.msg}",
                               buffer[index:])
                return
            break
        element += 1
        yield JsonDoc(element, value, buffer[index:end])
        index = end


def _decode_chunk(chunk: bytes, stream: IO[bytes]) -> str:
    """Decode a chunk, completing a UTF-8 sequence cut at the chunk's end."""
    for _ in range(3):
        try:
            return chunk.decode("utf-8")
        except UnicodeDecodeError as error:
            if error.start < len(chunk) - 3:
                return chunk.decode("utf-8", errors="backslashreplace")
            more = stream.read(1)
            if not more:
                break
            chunk += more
    return chunk.decode("utf-8", errors="backslashreplace")
