"""Helpers shared by the detection-compiler tests: build a case table, compile, run both paths.

A case table here is what ingestion builds: ``ev_<source_type>`` with every field a VARCHAR column
plus the system columns. Events are ``{event id: {field: text}}``; a field an event lacks is NULL,
and the event id becomes ``_uid``, so a run's result is simply the set of matching event ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import duckdb
from sigma.rule import SigmaRule

from trailguard.detect.engine import RunStats, run_rules
from trailguard.detect.plan import CaseTables, CompiledRule, compile_rule
from trailguard.detect.rules import LoadedRule

Events = Mapping[str, Mapping[str, str | None]]

SYSTEM_COLUMNS = (
    ('"_uid"', "VARCHAR"),
    ('"_file"', "INTEGER"),
    ('"_record"', "BIGINT"),
    ('"_time"', "TIMESTAMP"),
    ('"_raw"', "VARCHAR"),
    ('"_overflow"', "VARCHAR"),
)
SYSMON = "Microsoft-Windows-Sysmon/Operational"
PATHS = ("vectorised", "sql")


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def create_table(connection: duckdb.DuckDBPyConnection, source_type: str, events: Events,
                 columns: Iterable[str] = ()) -> list[str]:
    """``ev_<source_type>`` holding the events; its columns are the union of their fields and
    `columns` (in first-seen order). Values go in as parameters, never as SQL text."""
    names: dict[str, None] = dict.fromkeys(columns)
    for fields in events.values():
        names.update(dict.fromkeys(fields))
    definition = [f"{quote_identifier(n)} VARCHAR" for n in names]
    definition += [f"{name} {kind}" for name, kind in SYSTEM_COLUMNS]
    table = quote_identifier(f"ev_{source_type}")
    connection.execute(f"CREATE TABLE {table} ({', '.join(definition)})")
    row = "(" + ", ".join("?" for _ in range(len(names) + len(SYSTEM_COLUMNS))) + ")"
    values: list[object] = []
    for record, (uid, fields) in enumerate(events.items(), start=1):
        raw = " ".join(v for v in fields.values() if v is not None)
        values += [fields.get(n) for n in names] + [uid, 1, record, None, raw, None]
    if events:
        rows = ", ".join(row for _ in events)
        connection.execute(f"INSERT INTO {table} VALUES {rows}", values)
    return list(names)


def load(text: str) -> LoadedRule:
    """A user rule from YAML text (through `LoadedRule.of` where rules.py offers it)."""
    rule = SigmaRule.from_yaml(text)
    factory = getattr(LoadedRule, "of", None)
    if factory is not None:
        loaded: LoadedRule = factory(rule, Path("t.yml"), "user")
        return loaded
    return cast(Any, LoadedRule)(rule, Path("t.yml"), "user")  # type: ignore[no-any-return]


def compiled(text: str) -> CompiledRule:
    return compile_rule(load(text))


def rule_yaml(detection: str, logsource: str = "product: windows", number: int = 1) -> str:
    """A complete rule around a `detection:` body (not indented); `number` makes its id."""
    body = "\n".join("    " + line if line.strip() else line for line in detection.splitlines())
    return (
        "title: test rule\n"
        f"id: 0b7d3a42-1c1e-4a4c-9a43-{number:012d}\n"
        "status: test\n"
        f"logsource:\n    {logsource.replace(chr(10), chr(10) + '    ')}\n"
        f"detection:\n{body}\n"
        "level: medium\n"
    )


def run(connection: duckdb.DuckDBPyConnection, rules: Iterable[CompiledRule], path: str
        ) -> tuple[set[tuple[str, str]], RunStats]:
    """(rule id, event id) of every match on one engine path ("vectorised" or "sql")."""
    stats = RunStats()
    tables = CaseTables.read(connection)
    matches = run_rules(connection, list(rules), tables, stats, vectorised=path == "vectorised")
    return {(match.rule.loaded.id, match.uid) for match in matches}, stats


def matching(connection: duckdb.DuckDBPyConnection, rule: CompiledRule, path: str) -> set[str]:
    """The event ids one rule matches; a rule error fails the test instead of matching nothing."""
    found, stats = run(connection, [rule], path)
    assert not stats.errors, stats.errors
    return {uid for _, uid in found}


def case_connection(events: Events, source_type: str = "windows_json",
                    columns: Iterable[str] = ()) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    create_table(connection, source_type, events, columns)
    return connection


@contextmanager
def case_table(connection: duckdb.DuckDBPyConnection, events: Events,
               source_type: str = "windows_json", columns: Iterable[str] = ()
               ) -> Iterator[duckdb.DuckDBPyConnection]:
    """The events as the only case table of a shared connection, for the time of a block
    (a new in-memory DuckDB costs tens of milliseconds; a table, well under one)."""
    create_table(connection, source_type, events, columns)
    try:
        yield connection
    finally:
        connection.execute(f"DROP TABLE {quote_identifier('ev_' + source_type)}")


#: A rule for a logsource TrailGuard does not ingest (refused with that reason).
MACOS_RULE_ID = "5a1b0000-0000-4000-8000-000000000701"
MACOS_RULE = f"""\
title: Osascript On A Mac
id: {MACOS_RULE_ID}
status: test
author: TrailGuard tests
logsource:
    product: macos
    category: process_creation
detection:
    selection:
        Image|endswith: '/osascript'
    condition: selection
level: low
"""
