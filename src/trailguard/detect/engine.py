"""Running compiled rules over a case.

Rules are grouped by route and table; each group shares scans: one query evaluates a batch of
rules over the rows of the route (channel and event ids, syslog program …), returning for every
row that any of them matches which ones did. A field the table lacks is supplied as a NULL column
(DuckDB folds the comparisons away), and the full text of a row is computed only for groups with
keyword rules. A batch that fails (an invalid regular expression, say) is re-run rule by rule so
that only the faulty rule is reported, with its error.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

import duckdb
import pyarrow as pa
import sqlglot.expressions as exp

from trailguard.detect.dialects import render
from trailguard.detect.logsources import Route
from trailguard.detect.plan import FULLTEXT, SYSTEM_PREFIX, CaseTables, CompiledRoute, CompiledRule
from trailguard.detect.vector import (
    PREFILTER_NEEDLES,
    Batch,
    Text,
    evaluate,
    literal_needles,
    required_literals,
    superset_pattern,
)
from trailguard.store.results import arrow_reader

BATCH = 48
#: Rule groups evaluated at once (threads; DuckDB and Arrow work outside Python's lock).
GROUP_THREADS = min(4, os.cpu_count() or 1)
ROWS_PER_BATCH = 122_880
FULLTEXT_ROWS_PER_BATCH = 8_192


class Match(NamedTuple):
    rule: CompiledRule
    route: Route
    source_type: str
    uid: str
    time: datetime | None
    file_id: int
    record: int


@dataclass
class RunStats:
    queries: int = 0
    groups: int = 0
    skipped_groups: int = 0
    errors: dict[str, str] = field(default_factory=dict)  # rule id -> error


@dataclass
class _Member:
    rule: CompiledRule
    compiled: CompiledRoute


def _route_filter(route: Route, columns: dict[str, str]) -> exp.Expr | None:
    """The rows of the route, or None when the table cannot hold any (a filter column is absent)."""
    conditions: list[exp.Expr] = []
    for column, values in route.where:
        stored = columns.get(column.lower())
        if stored is None:
            return None
        # Windows channel names (and syslog programs) are case-insensitive: "security" in an
        # NXLog export is the Security channel.
        conditions.append(
            exp.In(
                this=exp.Lower(this=exp.column(stored, quoted=True)),
                expressions=[exp.Literal.string(value.lower()) for value in values],
            )
        )
    return exp.and_(*conditions) if conditions else exp.true()


def _projection(columns: dict[str, str], name: str) -> exp.Expr:
    """A column the rules read, as the route's rows provide it: stored, NULL, or full text."""
    stored = columns.get(name.lower())
    if stored is not None:
        return exp.alias_(exp.column(stored, quoted=True), name, quoted=True)
    if name == FULLTEXT:
        return exp.alias_(_fulltext(columns), FULLTEXT, quoted=True)
    return exp.alias_(exp.cast(exp.null(), "VARCHAR"), name, quoted=True)


def _fulltext(columns: dict[str, str]) -> exp.Expr:
    """Every field of a row joined by line feeds (the raw record when the table has none)."""
    natives = [c for c in dict.fromkeys(columns.values()) if not c.startswith(SYSTEM_PREFIX)]
    if not natives:
        return exp.column("_raw", quoted=True)
    # coalesce: CONCAT_WS skips absent fields (sqlglot would otherwise make the whole text NULL
    # when any field of the row is).
    return exp.ConcatWs(expressions=[exp.Literal.string("\n")]
                        + [exp.column(c, quoted=True) for c in natives], coalesce=True)


def _keyword_prefilter(connection: duckdb.DuckDBPyConnection, columns: dict[str, str],
                       members: Sequence[_Member]) -> exp.Expr | None:
    """A condition every row a keyword rule of ``members`` can match meets: its full text holds
    one of the literals the rules require (one RE2 pass inside DuckDB, so only candidate rows
    leave it). None when some rule requires no literal."""
    needles: set[str] = set()
    for member in members:
        program = member.compiled.vector_program()
        required = None if program is None else required_literals(program, FULLTEXT)
        if required is None:
            return None
        needles |= required
    if not needles:
        return exp.false()
    if len(needles) > PREFILTER_NEEDLES or not all(n.isprintable() for n in needles):
        return None  # no pattern RE2 might refuse; control characters stay out of SQL text
    pattern = superset_pattern(needles, _lower_exceptions(connection))
    return exp.RegexpLike(this=_fulltext(columns), expression=exp.Literal.string(pattern))


_LOWER_EXCEPTIONS: list[dict[str, str]] = []


def _lower_exceptions(connection: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Characters DuckDB's ``lower`` maps onto another one that a case-insensitive RE2 match of
    the latter does not find (İ → i), by the character they become: asked of DuckDB once."""
    if not _LOWER_EXCEPTIONS:
        rows = connection.execute(
            "SELECT chr(cp::INTEGER), lower(chr(cp::INTEGER)) FROM range(128, 1114112) t(cp) "
            "WHERE (cp < 55296 OR cp > 57343) AND lower(chr(cp::INTEGER)) <> chr(cp::INTEGER) "
            "AND NOT regexp_matches(chr(cp::INTEGER), "
            "'(?i)' || regexp_escape(lower(chr(cp::INTEGER))))").fetchall()
        found: dict[str, str] = {}
        for original, lowered in rows:
            found[str(lowered)] = found.get(str(lowered), "") + str(original)
        _LOWER_EXCEPTIONS.append(found)
    return _LOWER_EXCEPTIONS[0]


def _rows_query(table: str, columns: dict[str, str], needed: Sequence[str],
                where: exp.Expr) -> exp.Select:
    """The route's rows with the columns its rules read (a field the table lacks is NULL)."""
    projections: list[exp.Expr] = [exp.column(c) for c in ("_uid", "_time", "_file",
                                                                 "_record")]
    seen = {"_uid", "_time", "_file", "_record"}
    for name in needed:
        if name.lower() not in seen:
            seen.add(name.lower())
            projections.append(_projection(columns, name))
    return (
        exp.select(*projections, copy=False)
        .from_(exp.to_table(f"ev_{table}", quoted=True), copy=False)
        .where(where.copy(), copy=False)
    )


def _fragment(member: _Member) -> exp.Expr:
    """A compiled predicate as a node of a query: its DuckDB text, rendered by sqlglot from the
    rule's tree when it was compiled (or read back from the compiled-rule cache)."""
    return exp.Paren(this=exp.Var(this=member.compiled.sql()))


def run_rules(
    connection: duckdb.DuckDBPyConnection, rules: Sequence[CompiledRule], tables: CaseTables,
    stats: RunStats | None = None, vectorised: bool = True,
) -> Generator[Match, None, None]:
    """Every (rule, event) match of the given rules in the case.

    Groups run on a few threads, each with its own cursor: most of a group's time is spent in
    DuckDB and Arrow, which let other threads run meanwhile (a keyword scan of every Windows
    event overlaps the other groups' rules). Matches come out in group order, whatever the
    threads' timing, and each group's outcome depends on that group alone."""
    stats = stats if stats is not None else RunStats()
    groups: dict[tuple[str, str], tuple[Route, list[_Member]]] = {}
    for rule in rules:
        for compiled in rule.routes:
            for source_type in compiled.route.source_types:
                if source_type in tables.columns:
                    key = (compiled.route.label, source_type)
                    groups.setdefault(key, (compiled.route, []))[1].append(_Member(rule, compiled))
    present = _RoutePresence(connection, [(table, route) for (_, table), (route, _) in
                                          groups.items()], tables)
    work: list[_Group] = []
    for (_, table), (route, members) in groups.items():
        columns = dict(tables.columns[table])
        where = _route_filter(route, columns)
        stats.groups += 1
        if where is None or not present.has_rows(table, route):
            stats.skipped_groups += 1
            continue
        work.append(_Group(table, columns, where, members))
        if vectorised:  # prepared here, once: a rule's route may serve several tables
            for member in members:
                member.compiled.vector_program()
    if vectorised and any(FULLTEXT in m.compiled.columns for group in work
                          for m in group.members):
        _lower_exceptions(connection)  # asked once, before the threads start
    threads = max(1, min(GROUP_THREADS, len(work)))
    running = _Cursors(connection)
    # DuckDB's own threads are shared out among the groups running at once: more threads than
    # cores made LSASS's detection 10 % slower.
    duckdb_threads = int(connection.execute("SELECT current_setting('threads')").fetchall()[0][0])
    connection.execute("SET threads = ?", [max(1, duckdb_threads // threads)]).fetchall()
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="trailguard-detect")
    try:
        for matches, group_stats in pool.map(
                lambda group: _run_group(running, group, vectorised), work):
            stats.queries += group_stats.queries
            stats.errors.update(group_stats.errors)
            yield from matches
    except BaseException:  # Ctrl-C, a failure, or the caller stopped reading: stop at once
        pool.shutdown(wait=False, cancel_futures=True)
        running.interrupt()
        raise
    finally:
        pool.shutdown(wait=True)
        connection.execute("SET threads = ?", [duckdb_threads]).fetchall()


class _Cursors:
    """The cursors the groups run on: each one at the connection's current database and
    schema (a case is attached under a name of its own), and all of them interruptible."""

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self.connection = connection
        database, schema = connection.execute(
            "SELECT current_database(), current_schema()").fetchall()[0]
        self.use = exp.Use(this=exp.Table(this=exp.to_identifier(str(schema), quoted=True),
                                          db=exp.to_identifier(str(database), quoted=True))
                           ).sql("duckdb")
        self.open: list[duckdb.DuckDBPyConnection] = []
        self.stopped = False

    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if self.stopped:
            raise duckdb.InterruptException("detection was stopped")
        with self.connection.cursor() as cursor:
            cursor.execute(self.use)
            self.open.append(cursor)
            try:
                yield cursor
            finally:
                self.open.remove(cursor)

    def interrupt(self) -> None:
        self.stopped = True
        for cursor in list(self.open):
            with suppress(duckdb.Error):
                cursor.interrupt()


@dataclass
class _Group:
    """The rules of one route over one table."""

    table: str
    columns: dict[str, str]
    where: exp.Expr
    members: list[_Member]


def _run_group(cursors: _Cursors, group: _Group,
               vectorised: bool) -> tuple[list[Match], RunStats]:
    stats = RunStats()
    table, columns, where, members = group.table, group.columns, group.where, group.members
    with cursors.cursor() as cursor:
        if not vectorised:
            matches = [match for start in range(0, len(members), BATCH)
                       for match in _run_sql(cursor, table, columns, where,
                                             members[start : start + BATCH], stats)]
            return matches, stats
        # Keyword rules read the full text of a row (every field joined, kilobytes per event):
        # they get a pass of their own in small batches, so memory stays bounded.
        plain = [m for m in members if FULLTEXT not in m.compiled.columns]
        keyword = [m for m in members if FULLTEXT in m.compiled.columns]
        matches = []
        if plain:
            matches += _run_vectorised(cursor, table, columns, where, plain, stats)
        if keyword:
            matches += _run_vectorised(cursor, table, columns, where, keyword, stats,
                                       FULLTEXT_ROWS_PER_BATCH,
                                       _keyword_prefilter(cursor, columns, keyword))
    return matches, stats


class _RoutePresence:
    """Which routes have rows in a table, from one query per table: the distinct combinations
    of the (lower-cased) values its routes filter on, tested against each route here."""

    def __init__(self, connection: duckdb.DuckDBPyConnection,
                 routes: Sequence[tuple[str, Route]], tables: CaseTables) -> None:
        self.connection = connection
        self.tables = tables
        self.filters: dict[str, list[str]] = {}  # table -> stored filter columns
        for table, route in routes:
            columns = tables.columns[table]
            wanted = self.filters.setdefault(table, [])
            for column, _ in route.where:
                stored = columns.get(column.lower())
                if stored is not None and stored not in wanted:
                    wanted.append(stored)
        self.combinations: dict[str, list[tuple[str | None, ...]]] = {}

    def has_rows(self, table: str, route: Route) -> bool:
        if table not in self.combinations:
            wanted = self.filters.get(table, [])
            selected: list[exp.Expr] = [exp.Lower(this=exp.column(c, quoted=True))
                                        for c in wanted] or [exp.Literal.number(1)]
            query = exp.select(*selected).distinct().from_(
                exp.to_table(f"ev_{table}", quoted=True))
            self.combinations[table] = [tuple(row) for row in self.connection.execute(
                render(query, "duckdb")).fetchall()]
        columns = self.tables.columns[table]
        positions = {name: index for index, name in enumerate(self.filters.get(table, []))}
        tests = [(positions[columns[column.lower()]], {value.lower() for value in values})
                 for column, values in route.where]
        return any(all(row[index] in allowed for index, allowed in tests)
                   for row in self.combinations[table])


def _run_vectorised(
    connection: duckdb.DuckDBPyConnection, table: str, columns: dict[str, str],
    where: exp.Expr, members: Sequence[_Member], stats: RunStats,
    rows_per_batch: int = 0, prefilter: exp.Expr | None = None,
) -> Iterator[Match]:
    """The rules' matches, evaluated over Arrow batches of the route's rows (``prefilter``, a
    condition every matching row meets, narrows the scan; rules the vectoriser cannot take run
    as SQL over all the route's rows)."""
    rows_per_batch = rows_per_batch or ROWS_PER_BATCH
    needed = sorted({name for m in members for name in m.compiled.columns})
    scan = where if prefilter is None else exp.and_(where, prefilter)
    query = render(_rows_query(table, columns, needed, scan), "duckdb")
    stats.queries += 1
    relation = connection.sql(query)
    reader = arrow_reader(relation, rows_per_batch)
    fallback: dict[int, _Member] = {}
    needles: dict[Text, set[str]] = {}
    for member in members:
        program = member.compiled.vector_program()
        if program is not None:
            literal_needles(program, needles)
    for record_batch in _gathered(reader, rows_per_batch):
        batch = Batch(pa.Table.from_batches([record_batch]))
        batch.share_literals(needles)
        uids = record_batch.column(0)
        for index, member in enumerate(members):
            if index in fallback or member.rule.loaded.id in stats.errors:
                continue
            program = member.compiled.vector_program()
            if program is None:
                fallback[index] = member
                continue
            try:
                hits = evaluate(program, batch)
            except (pa.ArrowException, ValueError) as error:
                stats.errors[member.rule.loaded.id] = str(error).splitlines()[0]
                continue
            if len(hits):
                yield from _matches(member, table, record_batch, uids, hits.tolist())
    for member in fallback.values():
        yield from _run_sql(connection, table, columns, where, [member], stats)


def _gathered(reader: pa.RecordBatchReader, rows: int) -> Iterator[pa.RecordBatch]:
    """The reader's batches joined up to ``rows`` rows each: a parallel scan yields one batch
    per row group, and every batch costs each rule of the group a pass of its own."""
    waiting: list[pa.RecordBatch] = []
    count = 0
    for record_batch in reader:
        if waiting and count + record_batch.num_rows > rows:
            yield _joined(waiting)
            waiting, count = [], 0
        waiting.append(record_batch)
        count += record_batch.num_rows
    if waiting:
        yield _joined(waiting)


def _joined(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    joined = pa.Table.from_batches(batches).combine_chunks().to_batches()
    return joined[0] if len(joined) == 1 else batches[0]  # one batch, or no rows at all


def _matches(member: _Member, table: str, record_batch: pa.RecordBatch, uids: pa.Array,
             rows: list[int]) -> Iterator[Match]:
    taken = pa.array(rows, pa.int64())
    columns = [record_batch.column(i).take(taken).to_pylist() for i in range(4)]
    rule, route = member.rule, member.compiled.route
    for uid, time, file_id, record in zip(*columns, strict=True):
        yield Match(rule, route, table, uid, time, file_id, record)


def _run_sql(
    connection: duckdb.DuckDBPyConnection, table: str, columns: dict[str, str],
    where: exp.Expr, batch: Sequence[_Member], stats: RunStats,
) -> Iterator[Match]:
    """A batch of rules as one SQL query; on an error, each rule alone."""
    needed = sorted({name for m in batch for name in m.compiled.columns})
    source = _rows_query(table, columns, needed, where).subquery("rows", copy=False)
    select = exp.select(
        "_uid", "_time", "_file", "_record",
        *(exp.alias_(_fragment(m), f"m{i}", copy=False) for i, m in enumerate(batch)),
        copy=False,
    ).from_(source, copy=False)
    if not any(m.compiled.sql() == "TRUE" for m in batch):
        select = select.where(exp.or_(*(_fragment(m) for m in batch), copy=False), copy=False)
    try:
        stats.queries += 1
        rows = connection.execute(select.sql("duckdb")).fetchall()
    except duckdb.Error as error:
        if len(batch) == 1:
            stats.errors[batch[0].rule.loaded.id] = str(error).splitlines()[0]
            return
        for member in batch:
            yield from _run_sql(connection, table, columns, where, [member], stats)
        return
    for row in rows:
        uid, time, file_id, record = row[0], row[1], row[2], row[3]
        for index, member in enumerate(batch):
            if row[4 + index]:
                yield Match(member.rule, member.compiled.route, table, uid, time, file_id,
                            record)
