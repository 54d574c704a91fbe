"""Helpers for parser tests: run a parser over bytes and split what it yields."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa
import pytest

from trailguard.ingest.base import PARSERS, ParseContext, Record, Rejected, SourceParser
from trailguard.ingest.columns import BatchFields
from trailguard.store.encode import SYSTEM_SLOTS, encode_records
from trailguard.store.schema import NORMAL_COLUMNS


@dataclass
class Parsed:
    records: list[Record] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


def run_parser(parser: type[SourceParser] | str, data: bytes, name: str = "evidence.log",
               reference_year: int | None = 2024) -> Parsed:
    cls = PARSERS.get(parser) if isinstance(parser, str) else parser
    out = Parsed()
    for item in cls().parse(io.BytesIO(data), ParseContext(name, reference_year=reference_year)):
        if isinstance(item, Record):
            out.records.append(item)
        else:
            assert isinstance(item, Rejected)
            out.rejected.append(item)
    with_stored_normal(cls, out.records)
    return out


def with_stored_normal(cls: type[SourceParser], records: list[Record]) -> list[Record]:
    """Fill ``Record.normal`` of a parser that computes it from the stored fields, as the store
    will (a batch of the records, normalised as a batch or event by event by its size)."""
    normaliser = cls.normaliser()
    if normaliser is not None and records:
        normal = encode_records(cls.NAME, records, "t:", 0, normaliser).normal
        for record, row in zip(records, normal.to_pylist(), strict=True):
            record.normal = {name: value for name, value in row.items()
                             if name in NORMAL_COLUMNS and value is not None}
    return records


def best_parser(data: bytes, name: str = "evidence.log") -> str | None:
    """Name of the parser whose sniffer is most confident about ``data`` (None if none is)."""
    import trailguard.ingest.parsers  # noqa: F401  (registers the built-ins)

    scores = [(cls.sniff(data[:65536], name), key) for key, cls in PARSERS]
    score, key = max(scores)
    return key if score > 0 else None


@pytest.fixture
def parse() -> Callable[..., Parsed]:
    import trailguard.ingest.parsers  # noqa: F401

    return run_parser


@pytest.fixture
def sniff() -> Callable[..., str | None]:
    return best_parser


def normal_mismatches(cls: type[SourceParser], records: list[Record],
                      limit: int = 5) -> tuple[int, list[str]]:
    """How many records' normalised view computed a batch at a time by ``cls`` differs from
    the one its event-by-event specification gives, with a few examples."""
    normaliser = cls.normaliser()
    assert normaliser is not None
    count, examples = 0, list[str]()
    for start in range(0, len(records), 20_000):  # batches as the reader makes them
        native = encode_records(cls.NAME, records[start:start + 20_000], "t:").native
        columns = {name: native.column(name).combine_chunks() for name in native.column_names}
        normal = normaliser.batch(BatchFields(columns, native.num_rows))
        rows = pa.table(normal).to_pylist() if normal else [{}] * native.num_rows
        for fields, row in zip(native.to_pylist(), rows, strict=True):
            text = {name: value for name, value in fields.items()
                    if value is not None and name not in SYSTEM_SLOTS}
            got = {name: value for name, value in row.items()
                   if name in NORMAL_COLUMNS and value is not None}
            expected = {name: value for name, value in normaliser.event(text).items()
                        if value is not None}
            if got != expected:
                count += 1
                if len(examples) < limit:
                    examples.append(f"{text}\n  batch: {got}\n  event: {expected}")
    return count, examples
