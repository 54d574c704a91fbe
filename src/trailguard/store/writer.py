"""Writes parsed records into the case: native tables, the normalised view and quarantine.

Records are buffered per source type and flushed as Arrow batches. A batch's native fields
are flattened to dotted paths; new fields become new VARCHAR columns. Records with a natural
key are de-duplicated against what the case already holds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from trailguard.ingest.base import Record, Rejected, int_of
from trailguard.store.case import Case
from trailguard.store.schema import (
    INTEGER_COLUMNS,
    MAX_COLUMN_NAME,
    MAX_NATIVE_COLUMNS,
    NORMAL_COLUMNS,
    SYSTEM_COLUMNS,
    table_for,
)

BATCH_RECORDS = 20_000
BATCH_BYTES = 48 * 1024 * 1024
QUARANTINE_RAW_LIMIT = 64 * 1024

_ARROW_TYPES = {"VARCHAR": pa.string(), "INTEGER": pa.int32(), "BIGINT": pa.int64(),
                "TIMESTAMP": pa.timestamp("us")}


@dataclass(slots=True)
class FlushResult:
    stored: int = 0
    duplicates: int = 0
    first: datetime | None = None
    last: datetime | None = None


def flatten(data: dict[str, Any], out: dict[str, str], prefix: str = "") -> None:
    """Flatten nested mappings to dotted paths; scalars become text, lists JSON text.

    None and empty mappings produce no field (Sigma's ``null`` then matches a missing field).
    """
    for key, value in data.items():
        name = prefix + key if prefix else key
        if isinstance(value, str):
            out[name] = value
        elif isinstance(value, dict):
            if value:
                flatten(value, out, name + ".")
        elif value is None:
            continue
        elif isinstance(value, bool):
            out[name] = "true" if value else "false"
        elif isinstance(value, int | float):
            out[name] = str(value)
        else:
            out[name] = orjson.dumps(value, default=str).decode()


class _TableColumns:
    """The native columns of one source table: exact names, case-folded names, the limit."""

    def __init__(self, names: Iterable[str]) -> None:
        self.exact: set[str] = set(names)
        self.folded: dict[str, str] = {name.lower(): name for name in self.exact}

    def resolve(self, name: str, pending: dict[str, str]) -> str | None:
        """The column a field goes to, or None for the overflow column."""
        if name in self.exact:
            return name
        folded = name.lower()
        existing = self.folded.get(folded)
        if existing is not None:
            return existing  # DuckDB names are case-insensitive: share the column
        if (
            len(self.exact) + len(pending) >= MAX_NATIVE_COLUMNS
            or len(name) > MAX_COLUMN_NAME
            or not name.isprintable()
            or name in SYSTEM_COLUMNS
        ):
            return None
        pending.setdefault(folded, name)
        return pending[folded]


class CaseWriter:
    """Buffers records of one evidence unit at a time and writes them in batches."""

    def __init__(self, case: Case) -> None:
        self.case = case
        self.con = case.connection
        self._columns: dict[str, _TableColumns] = {}
        self._buffer: dict[str, list[Record]] = {}
        self._buffer_bytes = 0
        self._rejected: list[tuple[str, Rejected]] = []
        self._file_id = 0
        self._unit_key = ""
        self.keyed_tables: set[str] = set()
        """Tables that received records with natural keys (to de-duplicate at the end)."""
        self.result = FlushResult()

    # -- unit lifecycle ------------------------------------------------------------------
    def start_unit(self, file_id: int, unit_key: str) -> None:
        self._file_id = file_id
        self._unit_key = unit_key
        self.result = FlushResult()

    def add(self, source_type: str, record: Record) -> None:
        records = self._buffer.setdefault(source_type, [])
        records.append(record)
        self._buffer_bytes += len(record.raw)
        if len(records) >= BATCH_RECORDS or self._buffer_bytes >= BATCH_BYTES:
            self.flush()

    def add_many(self, source_type: str, records: list[Record]) -> None:
        """Write a batch of records at once (the pipeline's fast path)."""
        self.flush()
        if records:
            self._write(source_type, records)

    def reject(self, source_type: str | None, rejected: Rejected) -> None:
        self._rejected.append((source_type or "", rejected))
        if len(self._rejected) >= BATCH_RECORDS:
            self._flush_quarantine()

    def flush(self) -> None:
        for source_type, records in self._buffer.items():
            if records:
                self._write(source_type, records)
        self._buffer = {}
        self._buffer_bytes = 0
        self._flush_quarantine()

    # -- writing -------------------------------------------------------------------------
    def _table_columns(self, table: str) -> _TableColumns:
        columns = self._columns.get(table)
        if columns is None:
            exists = self.con.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = 'main' AND table_name = ?", [table]
            ).fetchall()
            if not exists:
                definitions = [
                    exp.ColumnDef(this=exp.to_identifier(name, quoted=True),
                                  kind=exp.DataType.build(kind))
                    for name, kind in SYSTEM_COLUMNS.items()
                ]
                self.con.execute(exp.Create(
                    this=exp.Schema(this=exp.to_table(table), expressions=definitions),
                    kind="TABLE", exists=True).sql("duckdb"))
                names: list[str] = []
            else:
                names = [row[0] for row in exists if row[0] not in SYSTEM_COLUMNS]
            columns = self._columns[table] = _TableColumns(names)
        return columns

    def _write(self, source_type: str, records: list[Record]) -> None:
        table = table_for(source_type)
        columns = self._table_columns(table)
        count = len(records)
        native: dict[str, list[str | None]] = {}  # column -> values of this batch
        slots: dict[str, list[str | None] | None] = {}  # field name -> its column's values
        overflow: list[str | None] = [None] * count
        pending: dict[str, str] = {}
        uids: list[str] = []
        keyed = False
        prefix = self._unit_key
        dumps = orjson.dumps
        for index, record in enumerate(records):
            extra: dict[str, str] | None = None
            stack: list[tuple[dict[str, Any], str]] = [(record.data, "")]
            while stack:
                data, path = stack.pop()
                for key, value in data.items():
                    name = path + key if path else key
                    kind = type(value)
                    if kind is str:
                        text = value
                    elif kind is dict:
                        if value:
                            stack.append((value, name + "."))
                        continue
                    elif value is None:
                        continue
                    elif kind is bool:
                        text = "true" if value else "false"
                    elif kind is int or kind is float:
                        text = str(value)
                    elif isinstance(value, dict):
                        if value:
                            stack.append((dict(value), name + "."))
                        continue
                    else:
                        text = dumps(value, default=str).decode()
                    values = slots.get(name)
                    if values is None:
                        if name in slots:  # known to go to the overflow column
                            extra = extra or {}
                            extra[name] = text
                            continue
                        column = columns.resolve(name, pending)
                        if column is None:
                            slots[name] = None
                            extra = extra or {}
                            extra[name] = text
                            continue
                        values = native.get(column)
                        if values is None:
                            values = native[column] = [None] * count
                        slots[name] = values
                    if values[index] is not None:  # the same name in another letter case
                        extra = extra or {}
                        extra[name] = text
                        continue
                    values[index] = text
            if extra:
                overflow[index] = dumps(extra).decode()
            if record.key:
                keyed = True
                uids.append(hashlib.blake2b(f"{source_type}\x00{record.key}".encode(),
                                            digest_size=16).hexdigest())
            else:
                uids.append(f"{prefix}{record.position:x}")
        self._add_columns(table, columns, pending)
        times = [record.time for record in records]
        system = {
            "_uid": pa.array(uids, pa.string()),
            "_file": pa.array([self._file_id] * count, pa.int32()),
            "_record": pa.array([record.position for record in records], pa.int64()),
            "_time": pa.array(times, pa.timestamp("us")),
            "_raw": _text_array([record.raw for record in records]),
            "_overflow": pa.array(overflow, pa.string()),
        }
        native_arrays = {name: _text_array(values) for name, values in native.items()}
        batch = pa.table({**system, **native_arrays})
        normal = pa.table(self._normal_columns(source_type, records, uids, times))
        self._insert(table, batch, normal, keyed)

    def _normal_columns(self, source_type: str, records: list[Record], uids: list[str],
                        times: list[datetime | None]) -> dict[str, Any]:
        count = len(records)
        columns: dict[str, Any] = {
            "uid": pa.array(uids, pa.string()),
            "source_type": pa.array([source_type] * count, pa.string()),
            "file_id": pa.array([self._file_id] * count, pa.int32()),
            "record": pa.array([record.position for record in records], pa.int64()),
            "time": pa.array(times, pa.timestamp("us")),
        }
        values: dict[str, list[Any]] = {}
        for index, record in enumerate(records):
            for name, value in record.normal.items():
                if value is None or name not in NORMAL_COLUMNS:
                    continue
                target = values.get(name)
                if target is None:
                    target = values[name] = [None] * count
                if name in INTEGER_COLUMNS:
                    number = int_of(value)
                    if number is not None and NORMAL_COLUMNS[name] == "INTEGER" \
                            and not -(2**31) <= number < 2**31:
                        number = None
                    target[index] = number
                else:
                    target[index] = value if type(value) is str else str(value)
        for name, items in values.items():
            kind = NORMAL_COLUMNS[name]
            columns[name] = _text_array(items) if kind == "VARCHAR" \
                else pa.array(items, _ARROW_TYPES[kind])
        return columns

    def _add_columns(self, table: str, columns: _TableColumns, pending: dict[str, str]) -> None:
        for name in pending.values():
            alter = exp.Alter(
                this=exp.to_table(table), kind="TABLE",
                actions=[exp.ColumnDef(this=exp.to_identifier(name, quoted=True),
                                       kind=exp.DataType.build("VARCHAR"))],
            )
            self.con.execute(alter.sql("duckdb"))
            columns.exact.add(name)
            columns.folded[name.lower()] = name

    def _insert(self, table: str, batch: pa.Table, normal: pa.Table, keyed: bool) -> None:
        con = self.con
        if keyed:
            self.keyed_tables.add(table)
        con.register("tg_batch", batch)
        con.register("tg_normal", normal)
        try:
            for target, source, arrow in ((table, "tg_batch", batch),
                                          ("events", "tg_normal", normal)):
                names = arrow.column_names
                select = exp.select(*[exp.column(n, quoted=True) for n in names]).from_(source)
                con.execute(exp.insert(select, exp.to_table(target),
                                       columns=[exp.to_identifier(n, quoted=True) for n in names])
                            .sql("duckdb")).fetchall()
        finally:
            con.unregister("tg_batch")
            con.unregister("tg_normal")
        result = self.result
        result.stored += batch.num_rows
        times = batch.column("_time")
        first, last = pc.min(times).as_py(), pc.max(times).as_py()
        if first is not None and (result.first is None or first < result.first):
            result.first = first
        if last is not None and (result.last is None or last > result.last):
            result.last = last

    def deduplicate(self) -> dict[int, int]:
        """Remove records whose natural key was already stored; keep the earliest one.

        Runs once per ingest over the tables that received keyed records. Returns how many
        records were removed per file id, and moves them from ``stored`` to ``duplicates`` in
        the files table.
        """
        removed: dict[int, int] = {}
        con = self.con
        for table in sorted(self.keyed_tables):
            quoted = _quote(table)
            con.execute(
                "CREATE OR REPLACE TEMP TABLE tg_dupes AS "
                "SELECT _uid, _file, _record FROM (SELECT _uid, _file, _record, row_number() "
                "OVER (PARTITION BY _uid ORDER BY _file, _record) AS rn "
                f"FROM {quoted} WHERE _uid IN (SELECT _uid FROM {quoted} GROUP BY _uid "
                "HAVING count(*) > 1)) WHERE rn > 1"
            )
            counts = con.execute("SELECT _file, count(*) FROM tg_dupes GROUP BY 1").fetchall()
            if counts:
                con.execute(f"DELETE FROM {quoted} t USING tg_dupes d WHERE t._uid = d._uid "
                            "AND t._file = d._file AND t._record = d._record").fetchall()
                con.execute("DELETE FROM events e USING tg_dupes d WHERE e.uid = d._uid "
                            "AND e.file_id = d._file AND e.record = d._record").fetchall()
                for file_id, number in counts:
                    removed[int(file_id)] = removed.get(int(file_id), 0) + int(number)
                    con.execute("UPDATE files SET stored = stored - ?, duplicates = "
                                "duplicates + ? WHERE id = ?", [number, number, file_id])
            con.execute("DROP TABLE IF EXISTS tg_dupes")
        self.keyed_tables.clear()
        return removed

    def _flush_quarantine(self) -> None:
        if not self._rejected:
            return
        rows = self._rejected
        self._rejected = []
        raws = [_raw_text(item.raw) for _, item in rows]
        table = pa.table({
            "file_id": pa.array([self._file_id] * len(rows), pa.int32()),
            "source_type": pa.array([source or None for source, _ in rows], pa.string()),
            "position": pa.array([item.position for _, item in rows], pa.int64()),
            "reason": _text_array([item.reason for _, item in rows]),
            "raw": _text_array([raw[:QUARANTINE_RAW_LIMIT] for raw in raws]),
            "raw_length": pa.array([len(raw) for raw in raws], pa.int64()),
        })
        self.con.register("tg_quarantine", table)
        try:
            self.con.execute("INSERT INTO quarantine BY NAME SELECT * FROM tg_quarantine")
        finally:
            self.con.unregister("tg_quarantine")


def _quote(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql("duckdb")


def _raw_text(raw: str | bytes) -> str:
    if isinstance(raw, bytes):
        return raw.decode("utf-8", errors="backslashreplace")
    return raw


def _text_array(values: list[str | None]) -> pa.Array:
    """Arrow strings; text that is not valid Unicode (lone surrogates) is escaped, not lost."""
    try:
        return pa.array(values, pa.string())
    except (pa.ArrowInvalid, UnicodeEncodeError):
        return pa.array(
            [None if value is None else value.encode("utf-8", "backslashreplace").decode()
             for value in values],
            pa.string(),
        )
