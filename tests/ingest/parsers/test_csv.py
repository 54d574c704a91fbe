from __future__ import annotations

import io

from trailguard.ingest.base import Record, Rejected
from trailguard.ingest.parsers._csv import parse_csv, split_csv_record


def rows(data: bytes) -> list[Record | Rejected]:
    return list(parse_csv(io.BytesIO(data), lambda pos, fields, raw: Record(pos, fields, raw)))


def test_quoted_cells_may_span_lines() -> None:
    out = rows(b'a,b\n1,"two\nlines"\n3,4\n')
    assert [(r.position, r.data) for r in out if isinstance(r, Record)] == [
        (2, {"a": "1", "b": "two\nlines"}), (4, {"a": "3", "b": "4"})]


def test_an_unclosed_quote_does_not_swallow_the_following_records() -> None:
    out = rows(b'a,b\n1,"cut short\n2,"ok, with comma"\n3,4\n')
    assert [r.position for r in out if isinstance(r, Rejected)] == [2]
    assert [r.data for r in out if isinstance(r, Record)] == [
        {"a": "2", "b": "ok, with comma"}, {"a": "3", "b": "4"}]


def test_wrong_width_and_stray_quotes_are_rejected_with_positions() -> None:
    out = rows(b'a,b\n1,2,3\nx"y,z\n5,6\n')
    assert [(r.position, r.reason.split(" (")[0]) for r in out if isinstance(r, Rejected)] == [
        (2, "expected 2 CSV columns, got 3"), (3, "malformed CSV record")]
    assert split_csv_record('"a""b",c') == ['a"b', "c"]
