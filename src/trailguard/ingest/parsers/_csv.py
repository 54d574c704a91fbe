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
    """
    header: list[str] | None = None
    for position, row, raw in iter_csv_rows(stream):
        if isinstance(row, Rejected):
            yield row
            continue
        if not row:
            continue
        if header is None:
            header = [cell.strip() for cell in row]
            continue
        if len(row) != len(header):
            yield Rejected(position, f"expected {len(header)} CSV columns, got {len(row)}", raw)
            continue
        # An export's columns are the union over all rows: an empty cell is an absent field.
        yield build(position, {name: cell for name, cell in zip(header, row, strict=True)
                               if cell != ""}, raw)


def iter_csv_rows(stream: IO[bytes]) -> Iterator[tuple[int, list[str] | Rejected, str]]:
    """Yield ``(first_line_number, cells, raw_text)`` per CSV record, quoted newlines included.

    Over-long lines and malformed rows come back as :class:`Rejected` in place of the cells.
    """
    parts: list[str] = []
    quotes = 0
    start = 0
    for number, line in iter_lines(stream):
        if line is None:
            if parts:
                raw = "\n".join(parts)
                yield start, Rejected(start, "CSV record cut by an over-long line", raw), raw
                parts, quotes = [], 0
            yield number, too_long(number), ""
            continue
        text = decode(line)
        if number == 1:
            text = text.removeprefix("\ufeff")
        if not parts:
            start = number
        parts.append(text)
        quotes += text.count('"')
        # A record goes on while a quoted cell is open (an odd number of quotes so far).
        if quotes % 2 == 1 and len(parts) < MAX_CSV_RECORD_LINES:
            continue
        raw = "\n".join(parts)
        parts, quotes = [], 0
        yield start, _csv_cells(start, raw), raw
    if parts:
        raw = "\n".join(parts)
        yield start, _csv_cells(start, raw), raw


def _csv_cells(position: int, raw: str) -> list[str] | Rejected:
    cells = split_csv_record(raw)
    if cells is None:
        return Rejected(position, "malformed CSV record (stray or unbalanced quotes)", raw)
    return cells


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


