"""CSV exports (SLS console/CLI and similar): RFC 4180 records with quoted newlines.

Written out rather than with :mod:`csv`, whose process-wide field-size limit (128 KiB) would
reject large cells such as an SLS ``event`` column holding a whole event.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import IO, Any

from trailguard.ingest.base import Record, Rejected, decode, iter_lines, too_long

#: A quoted cell left open longer than this many lines ends the record (it is malformed).
MAX_CSV_RECORD_LINES = 10_000
#: A quoted CSV cell; possessive quantifiers keep hostile input from backtracking.
_QUOTED_CELL = re.compile(r'"((?:[^"]++|"")*+)"')


def parse_csv(
    stream: IO[bytes], build: Callable[[int, Any, str], Record | Rejected]
) -> Iterator[Record | Rejected]:
    """A CSV export (SLS console or CLI): a header row of field names, then one record per row.

    Shared with the VPC flow-log parser; ``build(position, fields, raw)`` makes the record.
    A quoted cell may span lines; but when a line's open quote does not lead to a well-formed
    record of the header's width, only that line is rejected and the following lines are read
    again as records of their own (one broken quote must not swallow the rest of the file).
    """
    header: list[str] | None = None
    lines = _Lines(stream)
    while (item := lines.next()) is not None:
        number, text = item
        if text is None:
            yield too_long(number)
            continue
        if not text.strip():
            continue
        taken = [item]
        quotes = text.count('"')
        while quotes % 2 == 1 and len(taken) < MAX_CSV_RECORD_LINES:
            more = lines.next()
            if more is None or more[1] is None:
                lines.push_back([more] if more is not None else [])
                break
            taken.append(more)
            quotes += more[1].count('"')
        raw = "\n".join(str(line) for _, line in taken)
        cells = split_csv_record(raw)
        width_ok = cells is not None and (header is None or len(cells) == len(header))
        if not width_ok and len(taken) > 1:
            yield Rejected(number, "malformed CSV record (a quote is never closed)", text)
            lines.push_back(taken[1:])
            continue
        if cells is None:
            yield Rejected(number, "malformed CSV record (stray or unbalanced quotes)", raw)
            continue
        if header is None:
            header = [cell.strip() for cell in cells]
            continue
        if len(cells) != len(header):
            yield Rejected(number, f"expected {len(header)} CSV columns, got {len(cells)}", raw)
            continue
        # An export's columns are the union over all rows: an empty cell is an absent field.
        yield build(number, {name: cell for name, cell in zip(header, cells, strict=True)
                             if cell != ""}, raw)


class _Lines:
    """Decoded lines of a stream, with lines pushed back to be read again."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.source = iter_lines(stream)
        self.again: list[tuple[int, str | None]] = []

    def next(self) -> tuple[int, str | None] | None:
        if self.again:
            return self.again.pop()
        item = next(self.source, None)
        if item is None:
            return None
        number, line = item
        if line is None:
            return number, None
        text = decode(line)
        return number, text.removeprefix("\ufeff") if number == 1 else text

    def push_back(self, items: list[tuple[int, str | None]]) -> None:
        self.again.extend(reversed(items))


def split_csv_record(text: str) -> list[str] | None:
    """The cells of one RFC 4180 record (``""`` escapes a quote), None when it is malformed.

    Written out rather than with :mod:`csv`, whose process-wide field-size limit (128 KiB)
    would reject large SLS ``event`` cells.
    """
    cells: list[str] = []
    index, end = 0, len(text)
    while True:
        if index < end and text[index] == '"':
            match = _QUOTED_CELL.match(text, index)
            if match is None:
                return None
            cells.append(match.group(1).replace('""', '"'))
            index = match.end()
        else:
            comma = text.find(",", index)
            stop = end if comma < 0 else comma
            cell = text[index:stop]
            if '"' in cell or "\n" in cell:
                return None
            cells.append(cell)
            index = stop
        if index >= end:
            return cells
        if text[index] != ",":
            return None
        index += 1


