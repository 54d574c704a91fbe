"""timeline.csv: Timesketch columns, time order, hostile cells round-trip, formulas defused."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.report.conftest import CSV_HOSTILE, HOSTILE
from trailguard.report.timeline import COLUMNS, defuse, write_timeline
from trailguard.trace.model import TraceResult


def read(result: TraceResult, tmp_path: Path) -> list[dict[str, str]]:
    path = write_timeline(result, tmp_path / "timeline.csv")
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_one_row_per_step_sorted_by_time(result: TraceResult, tmp_path: Path) -> None:
    rows = read(result, tmp_path)
    assert len(rows) == sum(len(incident.chain) for incident in result.incidents)
    assert list(rows[0]) == list(COLUMNS)
    times = [row["datetime"] for row in rows]
    assert times == sorted(times)
    assert all(time.endswith("Z") and "T" in time for time in times)
    assert rows[0]["datetime"] == "2026-03-01T08:00:00Z"
    assert [row["incident"] for row in rows] == ["INC-0001"] * 4 + ["INC-0002"] * 5


def test_columns_describe_the_step(result: TraceResult, tmp_path: Path) -> None:
    first, context = read(result, tmp_path)[:2]
    assert first["timestamp_desc"] == "Alert"
    assert first["tactic"] == "initial-access"
    assert first["technique"] == "T1078.004"
    assert first["rule_id"] == "r-login"
    assert first["rule_title"] == "Console login from new ASN"
    assert first["level"] == "high"
    assert first["source_type"] == "aws_cloudtrail"
    assert first["evidence_file"] == "cloudtrail/2026/03/01/trail.json.gz"
    assert first["evidence_record"] == "10"
    assert first["event_id"] == "e1"
    assert first["alerts"] == "3"
    assert first["message"].startswith(
        "[Initial Access] T1078.004 Cloud Accounts: Console login from new ASN — ip:198.51.100.77")
    assert context["timestamp_desc"] == "Context event"
    assert context["alerts"] == "0"


def test_missing_evidence_file_and_record_are_empty(result: TraceResult,
                                                     tmp_path: Path) -> None:
    stopped = next(row for row in read(result, tmp_path) if row["event_id"] == "h4")
    assert stopped["evidence_file"] == ""
    assert stopped["evidence_record"] == ""


def test_hostile_cells_round_trip(result: TraceResult, tmp_path: Path) -> None:
    rows = read(result, tmp_path)
    exfil = next(row for row in rows if row["event_id"] == "e4")
    # Commas, quotes, CR/LF survive quoting; the leading '=' is defused.
    assert exfil["rule_title"] == "'" + CSV_HOSTILE
    assert CSV_HOSTILE in exfil["message"]
    assert exfil["rule_id"] == "'=cmd"
    shell = next(row for row in rows if row["event_id"] == "h1")
    assert shell["evidence_file"] == f"{HOSTILE}/audit.log"
    assert shell["rule_title"] == f"Web shell {HOSTILE}"


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_formula_cells_get_an_apostrophe(start: str) -> None:
    assert defuse(f"{start}SUM(A1:A9)") == f"'{start}SUM(A1:A9)"


@pytest.mark.parametrize("cell", ["", "plain", "10", "2026-03-01T08:00:00Z", "a=b", " =x"])
def test_other_cells_are_unchanged(cell: str) -> None:
    assert defuse(cell) == cell


def test_no_written_cell_starts_like_a_formula(result: TraceResult, tmp_path: Path) -> None:
    for row in read(result, tmp_path):
        for cell in row.values():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
