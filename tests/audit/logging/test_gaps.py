"""Gaps, delivery and stopped trails in the ingested demo case."""

from __future__ import annotations

import datetime as dt

import duckdb

from tests.audit.logging._support import by_check, demo_case, run
from trailguard.audit.logging.delivery import (
    delivered_files,
    delivery_time,
    late_deliveries,
    out_of_order,
    trail_stops,
)
from trailguard.audit.logging.gaps import analyse_case


def _truth_gap() -> tuple[dt.datetime, dt.datetime]:
    note = next(n for n in demo_case().truth["environment"]["notes"] if "ActionTrail" in n)
    words = note.split()
    start = words[words.index("from") + 1]
    end = words[words.index("to") + 1]
    return (dt.datetime.fromisoformat(start.replace("Z", "")),
            dt.datetime.fromisoformat(end.replace("Z", "")))


def _at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", ""))


def test_the_demo_actiontrail_outage_is_found_within_minutes_of_the_truth() -> None:
    with demo_case().connect() as connection:
        findings = by_check(run("aliyun", connection=connection, prefix="aliyun.logging."))
    [gap] = findings["aliyun.logging.gap_in_ingested_logs"]
    start, end = _truth_gap()
    assert abs((_at(gap.evidence["from"]) - start).total_seconds()) < 300
    assert abs((_at(gap.evidence["to"]) - end).total_seconds()) < 300
    assert gap.resource.startswith("actiontrail:")
    assert gap.evidence["expected_events"] > 100
    assert gap.evidence["statistic"]["p_value"] < 1e-4
    [stop] = findings["aliyun.logging.trail_stopped_in_trail"]
    assert stop.evidence["operation"] == "StopLogging"
    assert stop.evidence["ended_by"]["operation"] == "StartLogging"
    assert "aliyun.logging.late_delivery" not in findings
    assert "aliyun.logging.out_of_order_records" not in findings


def test_no_false_gaps_in_the_demo_streams_that_have_none() -> None:
    with demo_case().connect() as connection:
        results = analyse_case(connection)
    flagged = {r.stream.label for r in results if r.judgement.gaps}
    assert len(flagged) == 1 and next(iter(flagged)).startswith("actiontrail:")
    judged_hosts = [r for r in results if r.stream.source_type in ("auditd", "syslog")]
    assert len(judged_hosts) == 6 and all(r.rhythm.judged for r in judged_hosts)
    unjudged = [r for r in results if not r.rhythm.judged]
    assert all(r.rhythm.events < 30 for r in unjudged)  # the one-event regions


def test_trail_stops_pair_with_their_restart() -> None:
    with demo_case().connect() as connection:
        [stop] = trail_stops(connection, ["actiontrail"])
    assert stop["trail"] == "acme-account-trail"
    assert stop["silence"].startswith("1d 4h")


def test_delivery_times_from_object_names() -> None:
    assert delivery_time("actiontrail", "Actiontrail_cn-hangzhou_20261012000500_1002_2_1_x.gz"
                         ) == dt.datetime(2026, 10, 12, 0, 5)
    assert delivery_time("cloudtrail", "123456789012_CloudTrail_us-east-1_20261012T0005Z_ab.json"
                         ".gz") == dt.datetime(2026, 10, 12, 0, 5)
    assert delivery_time("actiontrail", "access.log") is None


def _tiny_case() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute("CREATE TABLE files (id INTEGER, path VARCHAR, member VARCHAR)")
    connection.execute("CREATE TABLE events (uid VARCHAR, source_type VARCHAR, file_id INTEGER, "
                       "record BIGINT, time TIMESTAMP, cloud_account VARCHAR, "
                       "cloud_region VARCHAR)")
    base = "oss/b/AliyunLogs/ApiCall/cn-hangzhou/2026/10/12/"
    files = [(1, base + "Actiontrail_cn-hangzhou_20261012010500_1002_2_1_a.gz"),
             (2, base + "Actiontrail_cn-hangzhou_20261012011000_1002_2_1_b.gz"),
             (3, base + "Actiontrail_cn-hangzhou_20261012011500_1002_2_1_c.gz"),
             (4, "hosts/web-01/var/log/auth.log")]
    connection.executemany("INSERT INTO files VALUES (?, ?, '')", files)
    rows = [("a1", "actiontrail", 1, 1, "2026-10-12 01:01:00", "1", "cn-hangzhou"),
            ("b1", "actiontrail", 2, 1, "2026-10-12 01:06:00", "1", "cn-hangzhou"),
            # held back four hours: delivered at 01:15 but happened at 21:10 the day before
            ("c1", "actiontrail", 3, 1, "2026-10-11 21:10:00", "1", "cn-hangzhou"),
            ("h1", "syslog", 4, 1, "2026-10-12 01:00:00", None, None),
            ("h2", "syslog", 4, 2, "2026-10-12 01:30:00", None, None),
            ("h3", "syslog", 4, 3, "2026-10-12 00:10:00", None, None),  # an hour back
            ("h4", "syslog", 4, 4, "2026-10-12 01:31:00", None, None)]
    connection.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    return connection


def test_late_delivery_is_measured_against_the_stream_median_lag() -> None:
    with _tiny_case() as connection:
        report = late_deliveries(delivered_files(connection, ["actiontrail"]))
    [stream] = report.values()
    assert stream["late_files"] == 1
    assert stream["examples"][0]["file"].endswith("_c.gz")


def test_records_going_back_in_time_within_a_file_are_reported() -> None:
    with _tiny_case() as connection:
        [item] = out_of_order(connection, ["syslog", "actiontrail"])
    assert item["file"].endswith("auth.log")
    assert item["records_out_of_order"] == 1
    assert item["at_record"] == 3
    assert item["largest_step_back_seconds"] == 4800
