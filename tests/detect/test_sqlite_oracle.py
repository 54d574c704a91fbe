"""Differential test: TrailGuard against pySigma-backend-sqlite 2.1.1 on Python's sqlite3.

The same rules and events as `test_compiler` (every case of logsource ``product: windows``) are
converted by the SQLite backend and run over a table laid out as Zircolite lays it out: one
``TEXT COLLATE NOCASE`` column per field, NULL where the event lacks the field (every column a
rule names must exist, as the backend's README demands), a ``fulltext`` column with the event's
values joined by newlines for keyword rules, and ``REGEXP`` registered as the README shows. The
event ids the oracle selects must equal ours on both engine paths.

Where the oracle differs from Sigma by design, the case is excluded below with the reason; where
the oracle cannot convert a rule at all, likewise. Each exclusion is checked to still differ, so
an exclusion that stops being needed fails the test (and can be deleted).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Mapping
from typing import Any, cast

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sigma.backends.sqlite.sqlite import sqliteBackend
from sigma.collection import SigmaCollection
from sigma.exceptions import SigmaError

from tests.detect._support import PATHS, Events, case_table, compiled, matching, rule_yaml
from tests.detect.test_compiler import CASES, Case

UID = "sigma_test_uid"
FULLTEXT = "fulltext"

# Cases where the oracle's answer differs from Sigma's (and TrailGuard's) by design.
ASCII_FOLDING = "SQLite's NOCASE and LIKE fold ASCII letters only (backend README, Limitations)"
TEXT_COMPARISON = (
    "a TEXT column compares with a number as text ('12' < '5'), so |gt/|lt order strings; "
    "Zircolite stores JSON numbers as INTEGER, a text column never is"
)
DIFFERS: dict[str, str] = {
    "unicode_letters_fold": ASCII_FOLDING,
    "dotted_capital_i_folds_to_i": ASCII_FOLDING,
    "non_ascii_contains": ASCII_FOLDING,
    "keywords_folded_letters": ASCII_FOLDING,
    "gt": TEXT_COMPARISON,
    "gte": TEXT_COMPARISON,
    "lt": TEXT_COMPARISON,
    "lte_negative": TEXT_COMPARISON,
    "not_gt_matches_non_numbers": TEXT_COMPARISON,
}
# Cases the oracle refuses to convert.
REFUSED: dict[str, str] = {
    "unresolved_placeholder_matches_any_value":
        "the backend refuses placeholders no pipeline resolved; TrailGuard documents that they "
        "match any value",
    "unresolved_whole_value_placeholder": "as above",
}


def backend() -> Any:
    return cast(Any, sqliteBackend)(fulltext_field=FULLTEXT)


def oracle_sql(detection: str) -> tuple[list[str], list[str]]:
    """The backend's queries for a rule (one per condition) and the fields it names."""
    collection = SigmaCollection.from_yaml(rule_yaml(detection))
    converter = backend()
    queries = [str(query) for query in converter.convert(collection)]
    (rule,) = collection.rules
    return queries, [f for f in converter.required_fields(rule) if f != FULLTEXT]


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def oracle(queries: list[str], required: list[str], events: Events) -> set[str]:
    """The event ids the backend's queries select."""
    names: dict[str, None] = {}
    for fields in events.values():
        names.update(dict.fromkeys(fields))
    known = {n.lower() for n in names}
    names.update(dict.fromkeys(f for f in required if f.lower() not in known))
    connection = sqlite3.connect(":memory:")
    try:
        connection.create_function(
            "regexp", 2, lambda p, v: v is not None and re.search(p, str(v)) is not None)
        columns = ", ".join(f"{quote(n)} TEXT COLLATE NOCASE" for n in [*names, FULLTEXT, UID])
        connection.execute(f"CREATE TABLE logs ({columns})")
        for uid, fields in events.items():
            text = "\n".join(v for v in (fields.get(n) for n in names) if v is not None)
            row = [fields.get(n) for n in names] + [text, uid]
            connection.execute(f"INSERT INTO logs VALUES ({', '.join('?' for _ in row)})", row)
        found: set[str] = set()
        for sql in queries:
            cursor = connection.execute(sql)
            position = [d[0] for d in cursor.description].index(UID)
            found.update(row[position] for row in cursor.fetchall())
        return found
    finally:
        connection.close()


ORACLE_CASES = [c for c in CASES if c.logsource == "product: windows" and not c.known_bug]


@pytest.fixture(scope="module")
def duck() -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect() as connection:
        yield connection


def ours(connection: duckdb.DuckDBPyConnection, spec: Case) -> Mapping[str, set[str]]:
    rule = compiled(rule_yaml(spec.detection))
    with case_table(connection, spec.events) as table:
        return {path: matching(table, rule, path) for path in PATHS}


@pytest.mark.parametrize("spec", ORACLE_CASES, ids=[c.name for c in ORACLE_CASES])
def test_agrees_with_the_sqlite_backend(duck: duckdb.DuckDBPyConnection, spec: Case) -> None:
    found = ours(duck, spec)
    assert found["vectorised"] == found["sql"] == spec.expected
    if spec.name in REFUSED:
        with pytest.raises(SigmaError):
            oracle_sql(spec.detection)
        return
    queries, required = oracle_sql(spec.detection)
    answer = oracle(queries, required, spec.events)
    if spec.name in DIFFERS:
        assert answer != spec.expected, f"no longer differs: {DIFFERS[spec.name]}"
    else:
        assert answer == spec.expected


# --- random ASCII rules ---------------------------------------------------------------------
# ASCII only, so the oracle's ASCII-only folding is Sigma's folding; hostile to LIKE, GLOB and
# SQL quoting alike.
ASCII = st.lists(st.sampled_from([*"aAbBzZ09%_\\*?'\"[]^;- \n\t", "--", "'; DROP TABLE logs; --"]),
                max_size=5).map("".join)


@st.composite
def sigma_strings(draw: st.DrawFn) -> tuple[str, str]:
    """(rule text, a literal it is built from): escaped literals with wildcards between."""
    parts = draw(st.lists(st.one_of(ASCII, st.sampled_from(["*", "?"]).map(lambda w: "\0" + w)),
                          min_size=1, max_size=4))
    text = "".join(
        p[1] if p.startswith("\0") else
        p.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")
        for p in parts
    )
    literal = "".join(p for p in parts if not p.startswith("\0"))
    return text, literal


@st.composite
def random_cases(draw: st.DrawFn) -> tuple[str, Events]:
    modifier = draw(st.sampled_from(["", "|contains", "|startswith", "|endswith"]))
    cased = draw(st.sampled_from(["", "|cased"]))
    strings = draw(st.lists(sigma_strings(), min_size=1, max_size=3))
    every = "|all" if len(strings) > 1 and draw(st.booleans()) else ""
    negated = draw(st.booleans())
    values = "\n".join(f"    - {quote_yaml(text)}" for text, _ in strings)
    detection = (f"sel:\n  Field{modifier}{cased}{every}:\n{values}\n"
                 f"condition: {'not sel' if negated else 'sel'}")
    literals = [literal for _, literal in strings]
    near = st.sampled_from(literals).flatmap(lambda lit: st.sampled_from(
        [lit, lit.upper(), lit.swapcase(), "x" + lit, lit + "x", lit[1:], lit[:-1]]))
    events = draw(st.lists(st.one_of(near, ASCII, st.none()), min_size=1, max_size=8))
    return detection, {f"e{i}": ({"Field": v} if v is not None else {"Other": "x"})
                       for i, v in enumerate(events)}


def quote_yaml(text: str) -> str:
    """A YAML double-quoted scalar holding exactly `text`."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + escaped.replace("\t", "\\t") + '"'


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(case=random_cases())
def test_random_ascii_rules_agree(duck: duckdb.DuckDBPyConnection,
                                  case: tuple[str, Events]) -> None:
    detection, events = case
    rule = compiled(rule_yaml(detection))
    with case_table(duck, events, columns=["Field", "Other"]) as table:
        found = {path: matching(table, rule, path) for path in PATHS}
    queries, required = oracle_sql(detection)
    assert found["vectorised"] == found["sql"] == oracle(queries, required, events)
