"""Writes encoded batches into the case: native tables, the normalised view and quarantine.

The writer owns the table layout: it maps a batch's field columns onto the native table's
columns (adding new VARCHAR columns as fields appear), sends what cannot be a column to the
``_overflow`` JSON column, and de-duplicates records with natural keys once per ingest.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from trailguard.store import schema
from trailguard.store.case import Case
from trailguard.store.encode import (
    OVERFLOW,
    RAW,
    RECORD,
    SYSTEM_SLOTS,
    TIME,
    UID,
    EncodedBatch,
)
from trailguard.store.schema import SYSTEM_COLUMNS, table_for

#: Queued rows are inserted once this many have gathered (one INSERT per table).
INSERT_ROWS = 20_000
#: Queued batches averaging fewer rows than this are copied into one chunk per column.
SMALL_BATCH_ROWS = 4_096


@lru_cache(maxsize=1)
def _raw_compression() -> bool:
    """Whether this DuckDB takes a column's compression in CREATE TABLE (asked once, of a
    throw-away in-memory database).

    The raw records (most of a case's bytes, seldom read) are compressed with zstd: DuckDB
    picks zstd by itself only for text averaging 4 KB, and stored the ~2 KB raw Windows events
    uncompressed (the OTRF LSASS case took 302 MB on disk, 105 MB with this, for less CPU).
    """
    with duckdb.connect() as probe:
        try:
            probe.execute(exp.Create(this=exp.Schema(
                this=exp.to_table("probe"), expressions=[_raw_definition(True)]),
                kind="TABLE").sql("duckdb"))
        except duckdb.Error:
            return False
    return True


def _raw_definition(compressed: bool) -> exp.ColumnDef:
    constraints = [exp.ColumnConstraint(kind=exp.var("USING COMPRESSION zstd"))]
    return exp.ColumnDef(this=exp.to_identifier("_raw", quoted=True),
                         kind=exp.DataType.build(SYSTEM_COLUMNS["_raw"]),
                         constraints=constraints if compressed else None)


@dataclass(slots=True)
class UnitResult:
    """What the writer stored of the current unit."""

    stored: int = 0
    first: datetime | None = None
    last: datetime | None = None


class _TableColumns:
    """The native columns of one source table: exact names and case-folded names."""

    def __init__(self, names: Iterable[str]) -> None:
        self.exact: set[str] = set(names)
        self.folded: dict[str, str] = {name.lower(): name for name in self.exact}
        self.created = True
        """Whether the table exists in the case (a new one is created with its first batch)."""

    def resolve(self, name: str, pending: dict[str, str]) -> str | None:
        """The column a field goes to (maybe new, in ``pending``), or None for overflow."""
        if name in self.exact:
            return name
        folded = name.lower()
        existing = self.folded.get(folded) or pending.get(folded)
        if existing is not None:
            return existing  # DuckDB names are case-insensitive: share the column
        if len(self.exact) + len(pending) >= schema.MAX_NATIVE_COLUMNS:
            return None
        pending[folded] = name
        return name


class CaseWriter:
    """Writes the records of one evidence unit at a time, in batches."""

    def __init__(self, case: Case, on_widen: Callable[[int], None] | None = None) -> None:
        self.case = case
        self.on_widen = on_widen
        """Told the widest table's column count whenever a table gains columns."""
        self.con = case.connection
        self._columns: dict[str, _TableColumns] = {}
        self._file_id = 0
        self.keyed_tables: set[str] = set()
        """Tables that received records with natural keys (to de-duplicate at the end)."""
        self._pending: dict[str, list[pa.Table]] = {}
        self._pending_rows = 0
        self._unmade: dict[str, list[str]] = {}
        """Columns of queued batches not yet in the case, per table: they are made with the
        INSERT that needs them (a new table in one CREATE with all of them)."""
        self.result = UnitResult()

    # -- unit lifecycle ------------------------------------------------------------------
    def start_unit(self, file_id: int) -> UnitResult:
        """Make a new unit the current one; its figures are returned (and kept up to date)."""
        self._file_id = file_id
        self.result = UnitResult()
        return self.result

    def resume_unit(self, file_id: int, result: UnitResult) -> None:
        """Make a unit started earlier the current one again (units of several evidence files
        may be written in turns)."""
        self._file_id = file_id
        self.result = result

    # -- inserting -----------------------------------------------------------------------
    def insert_quarantine(self, table: pa.Table) -> None:
        table = table.append_column("file_id", pa.array([self._file_id] * table.num_rows,
                                                        pa.int32()))
        self.con.register("tg_quarantine", table)
        try:
            self.con.execute("INSERT INTO quarantine BY NAME SELECT * FROM tg_quarantine"
                             ).fetchall()
        finally:
            self.con.unregister("tg_quarantine")

    def insert_encoded(self, batch: EncodedBatch) -> None:
        """Queue a batch for the next insert (small units are inserted together: an insert into
        a wide table costs milliseconds however few its rows)."""
        table = table_for(batch.source_type)
        native = self._native_table(table, batch.native)
        count = native.num_rows
        normal = batch.normal.append_column("file_id", pa.array([self._file_id] * count,
                                                                pa.int32()))
        if batch.keyed:
            self.keyed_tables.add(table)
        self._pending.setdefault(table, []).append(native)
        self._pending.setdefault("events", []).append(normal)
        self._pending_rows += count
        result = self.result
        result.stored += count
        times = native.column("_time")
        first, last = pc.min(times).as_py(), pc.max(times).as_py()
        if first is not None and (result.first is None or first < result.first):
            result.first = first
        if last is not None and (result.last is None or last > result.last):
            result.last = last
        if self._pending_rows >= INSERT_ROWS:
            self.flush_inserts()

    def discard_pending(self) -> None:
        """Forget queued batches (their transaction is being rolled back), and what is known of
        the tables' columns (read again when needed)."""
        self._pending, self._pending_rows = {}, 0
        self._unmade = {}
        self._columns = {}

    def flush_inserts(self) -> None:
        """Insert the queued batches, one INSERT per table."""
        pending, self._pending, self._pending_rows = self._pending, {}, 0
        for table in list(self._unmade):
            self._make_columns(table)
        for table, parts in pending.items():
            # Queued batches go in as one INSERT: an INSERT into a wide table costs
            # milliseconds however few its rows.
            # Absent columns become nulls. Batches of many small files are made contiguous
            # (DuckDB scans a column of many small chunks slowly); big batches are not copied.
            arrow = parts[0] if len(parts) == 1 else pa.concat_tables(
                parts, promote_options="permissive")
            if len(parts) > 1 and arrow.num_rows < len(parts) * SMALL_BATCH_ROWS:
                arrow = arrow.combine_chunks()
            self.con.register("tg_batch", arrow)
            try:
                insert = f"INSERT INTO {quote_identifier(table)} BY NAME SELECT * FROM tg_batch"
                self.con.execute(insert).fetchall()
            finally:
                with contextlib.suppress(duckdb.Error):  # keep the insert's own error
                    self.con.unregister("tg_batch")

    def _native_table(self, table: str, encoded: pa.Table) -> pa.Table:
        """Map an encoded batch's field columns onto the table's columns."""
        columns = self._table_columns(table)
        pending: dict[str, str] = {}
        targets: dict[str, pa.Array] = {}
        extras: list[tuple[str, pa.Array]] = []
        for name in encoded.column_names:
            if name in SYSTEM_SLOTS:
                continue
            column = encoded.column(name)
            values = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
            target = columns.resolve(name, pending)
            if target is None:
                extras.append((name, values))
            elif target in targets:  # a case twin: fill the gaps, overflow the clashes
                current = targets[target]
                clash = pc.and_(pc.is_valid(current), pc.is_valid(values))
                targets[target] = pc.coalesce(current, values)
                if pc.any(clash).as_py():
                    extras.append((name, pc.if_else(clash, values, pa.scalar(None, pa.string()))))
            else:
                targets[target] = values
        self._add_columns(table, columns, pending)
        overflow_column = encoded.column(OVERFLOW)
        overflow = overflow_column.chunk(0) if overflow_column.num_chunks == 1 \
            else overflow_column.combine_chunks()
        if extras:
            overflow = _merge_overflow(overflow, extras)
        count = encoded.num_rows
        arrays = {
            "_uid": encoded.column(UID),
            "_file": pa.array([self._file_id] * count, pa.int32()),
            "_record": encoded.column(RECORD),
            "_time": encoded.column(TIME),
            "_raw": encoded.column(RAW),
            "_overflow": overflow,
            **targets,
        }
        return pa.table(arrays)

    def _table_columns(self, table: str) -> _TableColumns:
        columns = self._columns.get(table)
        if columns is None:
            exists = self.con.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = 'main' AND table_name = ?", [table]
            ).fetchall()
            names = [row[0] for row in exists if row[0] not in SYSTEM_COLUMNS]
            columns = self._columns[table] = _TableColumns(names)
            columns.created = bool(exists)
        return columns

    def _add_columns(self, table: str, columns: _TableColumns, pending: dict[str, str]) -> None:
        """Take the new field columns into the table's layout; they are made in the case by the
        next INSERT (:meth:`_make_columns`)."""
        if not pending and columns.created:
            return
        unmade = self._unmade.setdefault(table, [])
        for name in pending.values():
            columns.exact.add(name)
            columns.folded[name.lower()] = name
            unmade.append(name)
        if pending and self.on_widen is not None:
            self.on_widen(max(len(each.exact) for each in self._columns.values()))

    def _make_columns(self, table: str) -> None:
        """Make a table's new columns: a new table in one CREATE with all of them, which saves
        DuckDB an ALTER per column (each costs more the wider the table: 0.14 ms at 100 columns,
        0.47 ms at 600; the EVTX attack samples have about 700 fields)."""
        names = self._unmade.pop(table, [])
        columns = self._columns[table]
        target = exp.Table(this=exp.to_identifier(table, quoted=True))
        definitions = [exp.ColumnDef(this=exp.to_identifier(name, quoted=True),
                                     kind=exp.DataType.build("VARCHAR"))
                       for name in names]
        if not columns.created:
            system = [_raw_definition(_raw_compression()) if name == "_raw"
                      else exp.ColumnDef(this=exp.to_identifier(name, quoted=True),
                                         kind=exp.DataType.build(kind))
                      for name, kind in SYSTEM_COLUMNS.items()]
            self.con.execute(exp.Create(
                this=exp.Schema(this=target, expressions=[*system, *definitions]),
                kind="TABLE", exists=True).sql("duckdb"))
            columns.created = True
            return
        for definition in definitions:
            alter = exp.Alter(this=target.copy(), kind="TABLE", actions=[definition])
            self.con.execute(alter.sql("duckdb"))

    # -- de-duplication ------------------------------------------------------------------
    def deduplicate(self) -> dict[int, int]:
        """Remove records whose natural key was already stored; keep the earliest one.

        Runs once per ingest over the tables that received keyed records. Returns how many
        records were removed per file id, and moves them from ``stored`` to ``duplicates`` in
        the files table.
        """
        self.flush_inserts()
        removed: dict[int, int] = {}
        con = self.con
        for table in sorted(self.keyed_tables):
            quoted = quote_identifier(table)
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


def _merge_overflow(overflow: pa.Array, extras: list[tuple[str, pa.Array]]) -> pa.Array:
    """Add fields that could not be columns to the per-row overflow JSON."""
    rows: list[Any] = overflow.to_pylist()
    lists = [(name, values.to_pylist()) for name, values in extras]
    for index in range(len(rows)):
        added = {name: values[index] for name, values in lists if values[index] is not None}
        if added:
            merged = orjson.loads(rows[index]) if rows[index] else {}
            merged.update(added)
            rows[index] = orjson.dumps(merged).decode()
    return pa.array(rows, pa.string())


@lru_cache(maxsize=256)
def quote_identifier(name: str) -> str:
    """A table or column name quoted for DuckDB (through sqlglot)."""
    return exp.to_identifier(name, quoted=True).sql("duckdb")
