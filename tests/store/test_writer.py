from __future__ import annotations

import json
from pathlib import Path

from trailguard.ingest.base import Record, Rejected
from trailguard.store import schema
from trailguard.store.case import Case
from trailguard.store.encode import encode_records, encode_rejected, flatten
from trailguard.store.writer import CaseWriter


def test_flatten_dotted_paths_and_value_text() -> None:
    out: dict[str, str] = {}
    flatten({"a": {"b": {"c": 1}, "empty": {}}, "t": True, "n": None, "f": 1.5,
             "l": [1, {"x": "y"}], "s": "text"}, out)
    assert out == {"a.b.c": "1", "t": "true", "f": "1.5", "l": '[1,{"x":"y"}]', "s": "text"}


def write(tmp_path: Path, records: list[Record], rejected: tuple[Rejected, ...] = ()) -> Case:
    case = Case.open(tmp_path / "case", create=True)
    writer = CaseWriter(case)
    writer.start_unit(1)
    writer.insert_encoded(encode_records("test", records, "k:"))
    if rejected:
        writer.insert_quarantine(encode_rejected("test", list(rejected)))
    writer.flush_inserts()
    return case


def test_hostile_field_names_become_safe_columns(tmp_path: Path) -> None:
    names = ['a"; DROP TABLE events; --', "x' OR '1'='1", "_uid", "tab\tname", "é ü",
             "k" * 300, "Mixed", "mixed", "", " "]
    record = Record(1, dict.fromkeys(names, "v"), raw="{}")
    case = write(tmp_path, [record])
    con = case.connection
    columns = {row[0] for row in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'ev_test'"
    ).fetchall()}
    assert 'a"; DROP TABLE events; --' in columns
    assert "x' OR '1'='1" in columns
    assert "é ü" in columns
    # reserved, unprintable, too long and case twins go to the overflow column, not lost
    overflow = json.loads(con.execute("SELECT _overflow FROM ev_test").fetchall()[0][0])
    assert set(overflow) == {"_uid", "tab\tname", "k" * 300, "mixed", "", " "}
    assert con.execute("SELECT count(*) FROM events").fetchall()[0][0] == 1
    case.close()


def test_column_limit_sends_the_rest_to_overflow(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(schema, "MAX_NATIVE_COLUMNS", 10)
    record = Record(1, {f"f{i}": str(i) for i in range(50)}, raw="{}")
    case = write(tmp_path, [record])
    con = case.connection
    native = con.execute("SELECT count(*) FROM information_schema.columns "
                         "WHERE table_name = 'ev_test' AND column_name NOT LIKE '\\_%' ESCAPE '\\'"
                         ).fetchall()[0][0]
    assert native == 10
    assert '"f49":"49"' in con.execute("SELECT _overflow FROM ev_test").fetchall()[0][0]
    case.close()


def test_normalised_values_are_coerced_and_bad_text_escaped(tmp_path: Path) -> None:
    records = [
        Record(1, {"m": "lone \ud800 surrogate"}, raw="r\ud800",
               normal={"src_port": "443", "bytes": 2**70, "host": 5, "unknown": "x",
                       "dst_port": 10**12}),
    ]
    case = write(tmp_path, records, (Rejected(2, "bad", b"\xff\xfe"),))
    con = case.connection
    row = con.execute("SELECT src_port, bytes, host, dst_port FROM events").fetchall()[0]
    assert row == (443, None, "5", None)
    assert con.execute("SELECT m FROM ev_test").fetchall()[0][0] == "lone \\ud800 surrogate"
    assert con.execute("SELECT raw FROM quarantine").fetchall()[0][0] == "\\xff\\xfe"
    case.close()


def test_natural_keys_deduplicate_within_and_across_batches(tmp_path: Path) -> None:
    records = [Record(i, {"n": str(i)}, raw="{}", key=f"k{i % 3}") for i in range(1, 7)]
    case = write(tmp_path, records)
    con = case.connection
    con.execute("INSERT INTO files (id, path, member, root_sha256, status, stored, ingested_at) "
                "VALUES (1, 'x', '', 'x', 'complete', 6, now())")
    writer = CaseWriter(case)
    writer.keyed_tables.add("ev_test")
    assert writer.deduplicate() == {1: 3}
    assert con.execute("SELECT stored, duplicates FROM files").fetchall() == [(3, 3)]
    assert con.execute("SELECT list(n ORDER BY n) FROM ev_test").fetchall()[0][0] == ["1", "2", "3"]
    assert con.execute("SELECT count(*) FROM events").fetchall()[0][0] == 3
    case.close()
