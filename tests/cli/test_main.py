from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from trailguard.cli.main import app

runner = CliRunner()


def test_ingest_json_summary_shape(tmp_path: Path, fixtures: Path) -> None:
    result = runner.invoke(app, ["ingest", str(fixtures / "cloudtrail"), "--case",
                                 str(tmp_path / "case"), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert set(summary) >= {"files", "records", "stored", "quarantined", "duplicates", "sources"}
    stats = summary["sources"]["cloudtrail"]
    assert set(stats) >= {"files", "records", "stored", "quarantined", "first", "last"}
    assert stats["first"].endswith("Z")
    assert summary["records"] == summary["stored"] + summary["quarantined"] + summary["duplicates"]


def test_ingest_table_output_and_warnings(tmp_path: Path, fixtures: Path) -> None:
    (tmp_path / "empty.log").write_bytes(b"")
    result = runner.invoke(app, ["ingest", str(fixtures / "cloudtrail" / "records.ndjson"),
                                 str(tmp_path / "empty.log"), "--case", str(tmp_path / "case")])
    assert result.exit_code == 0
    assert "cloudtrail" in result.stdout
    assert "empty file" in result.stderr


def test_nothing_readable_exits_1(tmp_path: Path) -> None:
    (tmp_path / "junk.bin").write_bytes(b"\x00\x01\x02" * 100)
    result = runner.invoke(app, ["ingest", str(tmp_path / "junk.bin"), "--case",
                                 str(tmp_path / "case"), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["problems"][0]["message"].startswith("format not recognised")


def test_missing_evidence_is_reported(tmp_path: Path) -> None:
    result = runner.invoke(app, ["ingest", str(tmp_path / "nope"), "--case", str(tmp_path / "c")])
    assert result.exit_code == 1
    assert "cannot read" in result.stderr


def test_query_json_and_refusal(tmp_path: Path, fixtures: Path) -> None:
    case = str(tmp_path / "case")
    evidence = str(fixtures / "cloudtrail" / "s3_delivery.json")
    runner.invoke(app, ["ingest", evidence, "--case", case])
    result = runner.invoke(app, ["query", "--case", case, "--json",
                                 'SELECT "userIdentity.userName" AS u, time FROM ev_cloudtrail '
                                 "JOIN events ON uid = _uid ORDER BY time LIMIT 1"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [{"u": "alice", "time": "2024-03-01T10:00:00"}]
    refused = runner.invoke(app, ["query", "--case", case, "DELETE FROM events"])
    assert refused.exit_code == 4
    assert "read-only" in refused.stderr
    table = runner.invoke(app, ["query", "--case", case, "SELECT '[red]x[/red]' AS markup"])
    assert "[red]x[/red]" in table.stdout  # values are shown literally, never as markup


def test_query_on_missing_case_exits_3(tmp_path: Path) -> None:
    result = runner.invoke(app, ["query", "--case", str(tmp_path / "none"), "SELECT 1"])
    assert result.exit_code == 3


def test_sources_lists_every_required_source_type() -> None:
    result = runner.invoke(app, ["sources", "--json"])
    assert result.exit_code == 0
    names = {item["source_type"] for item in json.loads(result.stdout)}
    required = {"actiontrail", "cloudtrail", "vpcflow_aliyun", "vpcflow_aws", "syslog", "auditd",
                "sysmon_linux", "shell_history", "evtx", "windows_json", "k8s_audit", "zeek",
                "web_access", "web_error"}
    assert required <= names
    assert all(item["example"] and item["title"] for item in json.loads(result.stdout))


def test_terminal_escapes_in_evidence_are_neutralised(tmp_path: Path) -> None:
    evidence = tmp_path / "trail.json"
    evidence.write_text(json.dumps({"eventName": "X", "eventSource": "s3.amazonaws.com",
                                    "eventID": "1", "userIdentity": {
                                        "userName": "\x1b[31mred\x1b]0;title\x07"}}) + "\n")
    case = str(tmp_path / "case")
    runner.invoke(app, ["ingest", str(evidence), "--case", case])
    result = runner.invoke(app, ["query", "--case", case,
                                 'SELECT "userIdentity.userName" FROM ev_cloudtrail'])
    assert "\x1b" not in result.stdout
    assert "\\x1b[31mred" in result.stdout


def test_bidirectional_controls_are_shown_not_obeyed() -> None:
    from trailguard.cli.text import shown

    assert shown("invoice\u202egpj.exe") == "invoice\\u202egpj.exe"
    assert shown("a\u2066b\u2069c\u200f") == "a\\u2066b\\u2069c\\u200f"
