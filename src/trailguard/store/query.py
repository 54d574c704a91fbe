"""Read-only queries on a case, for analysts (``trailguard query``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from trailguard.errors import QueryError
from trailguard.store.case import Case

_ALLOWED = {"SELECT", "EXPLAIN"}


def run_query(folder: Path, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run one SELECT on a case opened read-only, with no access to files or extensions."""
    with Case.open(folder, read_only=True) as case:
        con = case.connection
        try:
            statements = con.extract_statements(sql)
        except duckdb.Error as error:
            raise QueryError(f"SQL not understood: {error}") from error
        if len(statements) != 1:
            raise QueryError(f"give exactly one statement (got {len(statements)})")
        kind = statements[0].type.name
        if kind not in _ALLOWED:
            raise QueryError(f"only read-only queries are allowed (got {kind})")
        try:
            cursor = con.execute(sql)
            columns = [column[0] for column in cursor.description or []]
            return columns, cursor.fetchall()
        except duckdb.Error as error:
            raise QueryError(str(error)) from error
