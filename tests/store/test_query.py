from __future__ import annotations

from pathlib import Path

import pytest

from trailguard.errors import CaseError, QueryError
from trailguard.ingest.pipeline import Ingest
from trailguard.store.case import Case
from trailguard.store.query import run_query


@pytest.fixture
def case_dir(tmp_path: Path, fixtures: Path) -> Path:
    with Case.open(tmp_path / "case", create=True) as case:
        Ingest(case).run([fixtures / "cloudtrail" / "s3_delivery.json"])
    return tmp_path / "case"


def test_select_works(case_dir: Path) -> None:
    columns, rows = run_query(case_dir, 'SELECT operation, actor_user FROM events ORDER BY time')
    assert columns == ["operation", "actor_user"]
    assert rows[0] == ("ConsoleLogin", "alice")


@pytest.mark.parametrize("sql", [
    "DELETE FROM events",
    "DROP TABLE events",
    "SELECT 1; DELETE FROM events",
    "COPY events TO '/tmp/x.csv'",
    "ATTACH '/tmp/other.duckdb'",
    "INSTALL httpfs",
])
def test_writes_and_side_effects_are_refused(case_dir: Path, sql: str) -> None:
    with pytest.raises(QueryError):
        run_query(case_dir, sql)
    assert run_query(case_dir, "SELECT count(*) FROM events")[1] == [(4,)]


def test_reading_other_files_is_refused(case_dir: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n")
    with pytest.raises(QueryError):
        run_query(case_dir, f"SELECT * FROM read_csv('{secret}')")


def test_missing_case_is_a_case_error(tmp_path: Path) -> None:
    with pytest.raises(CaseError, match="not a TrailGuard case"):
        run_query(tmp_path / "nothing", "SELECT 1")
