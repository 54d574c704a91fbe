from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from trailguard.ingest.parsers.cloudtrail import CloudTrailParser


def test_s3_delivery_file_records_and_normalised_view(parse, fixtures: Path) -> None:
    parsed = parse("cloudtrail", (fixtures / "cloudtrail" / "s3_delivery.json").read_bytes())
    assert not parsed.rejected
    assert [r.data["eventName"] for r in parsed.records] == [
        "ConsoleLogin", "CreateAccessKey", "GetObject", "StopLogging"]
    login, create, get, stop = parsed.records
    assert login.time == datetime(2024, 3, 1, 10, 0)
    assert login.normal["category"] == "authentication"
    assert login.normal["actor_user"] == "alice"
    assert login.normal["src_ip"] == "203.0.113.7"
    assert create.key == "0b3c1d1e-0000-4000-8000-000000000002|2024-03-01T10:05:00Z|CreateAccessKey"
    assert create.normal["actor_access_key"] == "AKIAEXAMPLEALICE01"
    assert create.normal["resource"] == "backdoor"
    assert get.normal["actor_user"] == "web"
    assert get.normal["bytes"] == 1048576
    assert get.normal["resource"] == "arn:aws:s3:::payroll/2024/salaries.csv"
    assert stop.normal["outcome"] == "failure"
    assert stop.normal["error_code"] == "AccessDenied"
    assert json.loads(get.raw)["eventID"].endswith("03")


def test_lookup_events_output_reads_the_embedded_json_string(parse, fixtures: Path) -> None:
    parsed = parse("cloudtrail", (fixtures / "cloudtrail" / "lookup_events.json").read_bytes())
    assert [r.data["eventName"] for r in parsed.records] == ["CreateAccessKey", "DeleteTrail"]
    assert parsed.records[1].normal["actor_type"] == "Root"
    assert parsed.records[0].raw.startswith('{"eventVersion"')


def test_ndjson_keeps_going_after_a_bad_line(parse, fixtures: Path) -> None:
    parsed = parse("cloudtrail", (fixtures / "cloudtrail" / "records.ndjson").read_bytes())
    assert [r.position for r in parsed.records] == [1, 3]
    assert [r.position for r in parsed.rejected] == [2]
    assert parsed.records[1].data["requestParameters"]["groupId"] == "sg-0123"


def test_records_that_are_not_cloudtrail_are_rejected(parse) -> None:
    data = b'[{"eventName": "X", "eventSource": "a.amazonaws.com"}, 3, {"a": 1}]'
    parsed = parse("cloudtrail", data)
    assert len(parsed.records) == 1
    assert [r.reason.split(" (")[0] for r in parsed.rejected] == [
        "CloudTrail record is not a JSON object", "not a CloudTrail record"]




def test_not_claimed_for_other_json() -> None:
    assert CloudTrailParser.sniff(b'{"eventName": "x", "acsRegion": "cn-hangzhou", '
                                  b'"eventSource": "ecs.aliyuncs.com"}', "x.json") == 0


def test_stratus_detonations_every_record_stored(parse, shared_data: Path) -> None:
    files = sorted((shared_data / "stratus" / "docs" / "detonation-logs").glob("*.json"))
    assert len(files) == 35
    total = 0
    for path in files:
        expected = len(json.loads(path.read_bytes()))
        parsed = parse("cloudtrail", path.read_bytes(), name=path.name)
        assert len(parsed.records) == expected, path.name
        assert not parsed.rejected
        assert all(r.time is not None and r.key for r in parsed.records)
        total += expected
    assert total == 310


def test_panther_cloudtrail_test_events(parse, shared_data: Path) -> None:
    yaml = pytest.importorskip("yaml")
    events = []
    for path in sorted((shared_data / "panther" / "rules" / "aws_cloudtrail_rules").glob("*.yml")):
        rule = yaml.safe_load(path.read_text())
        if "AWS.CloudTrail" not in (rule.get("LogTypes") or []):
            continue
        for test in rule.get("Tests") or []:
            log = test.get("Log")
            if isinstance(log, dict) and ("eventName" in log or "eventSource" in log):
                events.append(log)
    data = "\n".join(json.dumps(event, default=str) for event in events).encode()
    parsed = parse("cloudtrail", data)
    assert len(parsed.records) == len(events) > 400
    assert not parsed.rejected
