"""ActionTrail parser: OSS delivery, LookupEvents, SLS JSON/CSV exports, sniffing, hostile input.

There is no public ActionTrail data; the fixtures are written from Alibaba's documented sample
events (reference/cloud.md §1.2) with masked IDs as Alibaba masks them.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.ingest.parsers.conftest import Parsed
from trailguard.ingest.base import Record, Rejected
from trailguard.ingest.parsers.actiontrail import ActionTrailParser, mfa_checked

ParseFixture = Callable[..., Parsed]
SniffFixture = Callable[..., "str | None"]

API_GZ = ("AliyunLogs/ApiCall/cn-hangzhou/2021/08/04/"
          "Actiontrail_cn-hangzhou_20210804064500_1002_5_5488_ff424ac1f5a1f646d1a954b4bcd913c5.gz")
SIGNIN_GZ = ("AliyunLogs/ConsoleSignin/cn-hangzhou/2021/01/01/"
             "Actiontrail_cn-hangzhou_20210101033500_1002_4_2400_91f4cc508bfbd1ab46e03593f02c4ced.gz")
PLAIN_FILES = ["lookup_events.json", "sls_export.jsonl", "sls_export.json", "sls_export.csv"]


def _bytes(fixtures: Path, name: str) -> bytes:
    data = (fixtures / "actiontrail" / name).read_bytes()
    return gzip.decompress(data) if name.endswith(".gz") else data


def _by_name(records: list[Record]) -> dict[str, Record]:
    return {f"{r.data['eventName']}@{r.data['eventTime']}": r for r in records}


# --- OSS delivery files -------------------------------------------------------------------


def test_oss_delivery_array_every_event_stored(parse: ParseFixture, fixtures: Path) -> None:
    data = _bytes(fixtures, API_GZ)
    parsed = parse("actiontrail", data, name=API_GZ)
    assert not parsed.rejected
    assert len(parsed.records) == len(json.loads(data)) == 5
    assert [r.position for r in parsed.records] == [1, 2, 3, 4, 5]
    stop, create, authorize, run, stop_logging = parsed.records

    assert stop.time == datetime(2021, 8, 4, 6, 11, 36)
    assert stop.key == ("actiontrail:239EB588-CD24-522E-B0B5-174A1A588BE0:StopInstance:"
                        "2021-08-04T06:11:36Z")
    assert stop.data["eventVersion"] == 1  # native value kept as it came (number here)
    assert stop.data["userIdentity"]["type"] == "root-account"
    assert stop.normal == {
        "operation": "StopInstance", "category": "api", "outcome": "success",
        "error_code": None, "actor_principal": "154735325685****", "actor_user": "root",
        "actor_type": "root-account", "actor_access_key": "LTAI5tHz2xEXAMPLE****",
        "actor_session": None, "user_agent": "ecs.console.aliyun.com",
        "src_ip": None,  # "192.168.XX.XX" is Alibaba's masking, not an address
        "instance_id": "i-2zeip56clb391fpf****", "resource": "i-2zeip56clb391fpf****",
        "cloud_account": "154735325685****", "cloud_region": "cn-beijing",
        "cloud_service": "ecs-cn-hangzhou-share.aliyuncs.com", "message": None,
    }

    assert create.normal["actor_type"] == "ram-user"
    assert create.normal["actor_user"] == "ops-admin"
    assert create.normal["src_ip"] == "198.51.100.23"
    assert create.normal["resource"] == "backup-svc"
    assert create.data["responseElements"]["AccessKey"]["AccessKeyId"] == "LTAI5tQ9newEXAMPLE****"

    assert authorize.normal["actor_type"] == "assumed-role"
    assert authorize.normal["actor_access_key"].startswith("STS.")
    assert authorize.normal["actor_session"] == "33790230632788****:u1"
    assert authorize.normal["resource"] == "sg-bp1d3ui0yqx8ncbv****"
    assert authorize.normal["instance_id"] is None

    # RunCommand names its instance as InstanceId.1: the referenced resources supply it.
    assert run.normal["instance_id"] == "i-bp67acfmxazb4p****"

    assert stop_logging.data["eventVersion"] == "1"
    assert stop_logging.normal["outcome"] == "failure"
    assert stop_logging.normal["error_code"] == "NoPermission"


def test_oss_delivery_json_lines_console_logons(parse: ParseFixture, fixtures: Path) -> None:
    data = _bytes(fixtures, SIGNIN_GZ)
    parsed = parse("actiontrail", data, name=SIGNIN_GZ)
    assert not parsed.rejected
    assert len(parsed.records) == len(data.splitlines()) == 4
    assert [r.position for r in parsed.records] == [1, 2, 3, 4]
    ram, root, failed, signout = parsed.records

    # Console-logon eventIds are not UUIDs; the key still carries them.
    assert ram.key == "actiontrail:1.167_1627549154939_****:ConsoleSignin:2021-01-01T00:00:00Z"
    assert ram.normal["category"] == "authentication"
    assert ram.normal["outcome"] == "success"
    assert ram.normal["actor_type"] == "ram-user"
    assert ram.normal["actor_user"] == "Alice"
    assert ram.normal["cloud_service"] == "signin.aliyun.com"
    assert ram.data["additionalEventData"]["mfaChecked"] == "false"  # native spelling kept
    assert ram.normal["message"] == "ConsoleSignin: MFA not checked"

    assert root.normal["actor_type"] == "root-account"
    assert root.data["additionalEventData"]["isMFAChecked"] == "true"  # the other spelling
    assert root.normal["message"] == "ConsoleSignin: MFA checked"
    assert root.normal["cloud_service"] == "http://account.aliyun.com/login/login_aliyun.htm"

    assert failed.normal["outcome"] == "failure"
    assert failed.normal["src_ip"] == "203.0.113.99"

    assert signout.normal["category"] == "authentication"
    assert signout.normal["message"] is None


def test_name_of_oss_delivery_adds_only_a_small_bonus(fixtures: Path) -> None:
    data = _bytes(fixtures, API_GZ)
    plain = ActionTrailParser.sniff(data[:65536], "events.json")
    assert plain >= 80
    assert ActionTrailParser.sniff(data[:65536], API_GZ) == min(plain + 5, 100)
    assert ActionTrailParser.sniff(b'{"hello": "world"}', API_GZ) == 0


# --- LookupEvents --------------------------------------------------------------------------


def test_lookup_events_response(parse: ParseFixture, fixtures: Path) -> None:
    data = _bytes(fixtures, "lookup_events.json")
    parsed = parse("actiontrail", data)
    assert not parsed.rejected
    assert len(parsed.records) == len(json.loads(data)["Events"]) == 3
    assert [r.data["eventName"] for r in parsed.records] == [
        "StopInstance", "CreateAccessKey", "ConsoleSignin"]
    assert [r.position for r in parsed.records] == [1, 2, 3]
    assert json.loads(parsed.records[1].raw)["eventName"] == "CreateAccessKey"
    assert "RequestId" not in parsed.records[0].data


def test_several_lookup_pages_as_json_lines_keep_positions_unique(parse: ParseFixture) -> None:
    page = {"RequestId": "r", "Events": [
        {"eventId": "a", "eventName": "DescribeInstances", "eventTime": "2021-08-04T00:00:00Z"},
        {"eventId": "b", "eventName": "StopInstance", "eventTime": "2021-08-04T00:00:01Z"}]}
    single = {"eventId": "c", "eventName": "StartInstance", "eventTime": "2021-08-04T00:00:02Z"}
    data = b"\n".join(json.dumps(doc).encode() for doc in (page, single, page))
    parsed = parse("actiontrail", data)
    positions = [r.position for r in parsed.records]
    assert len(positions) == 5
    assert len(set(positions)) == 5
    assert positions == sorted(positions)


# --- SLS exports ---------------------------------------------------------------------------


def test_sls_json_lines_strip_the_event_prefix(parse: ParseFixture, fixtures: Path) -> None:
    data = _bytes(fixtures, "sls_export.jsonl")
    parsed = parse("actiontrail", data)
    assert not parsed.rejected
    assert len(parsed.records) == len(data.splitlines()) == 5
    stop, authorize, root, ram, run = parsed.records

    # Native ActionTrail names, nested values decoded from SLS's JSON strings.
    assert "event.eventName" not in stop.data
    assert stop.data["eventName"] == "StopInstance"
    assert stop.data["userIdentity"]["type"] == "root-account"
    assert stop.data["requestParameters"]["InstanceId"] == "i-2zeip56clb391fpf****"
    assert stop.data["requestParameterJson"]["ForceStop"] is False
    assert stop.data["referencedResources"] == {"ACS::ECS::Instance": ["i-2zeip56clb391fpf****"]}
    # SLS-only fields keep their own names.
    assert stop.data["__topic__"] == "actiontrail_audit_event"
    assert stop.data["owner_id"] == "154735325685****"
    assert stop.data["__time__"] == "1628057496"
    assert stop.data["resourceName"] == "i-2zeip56clb391fpf****"
    assert stop.normal["instance_id"] == "i-2zeip56clb391fpf****"
    assert stop.time == datetime(2021, 8, 4, 6, 11, 36)

    assert authorize.normal["actor_access_key"] == "STS.NUgYrLnoC37mZZCNnAbez****"
    assert root.normal["message"] == "ConsoleSignin: MFA checked"

    # Older topic with sub-fields flattened by SLS's index next to the JSON string.
    assert ram.data["__topic__"] == "actiontrail_event"
    assert ram.data["userIdentity"]["userName"] == "Alice"
    assert ram.data["additionalEventData"]["mfaChecked"] == "false"
    assert ram.normal["message"] == "ConsoleSignin: MFA not checked"

    # Raw SLS form: the whole event is one JSON string in the field "event".
    assert run.data["eventName"] == "RunCommand"
    assert run.data["userIdentity"]["type"] == "assumed-role"
    assert run.data["__topic__"] == "actiontrail_audit_event"
    assert "event" not in run.data
    assert run.normal["instance_id"] == "i-bp67acfmxazb4p****"


def test_sls_json_array(parse: ParseFixture, fixtures: Path) -> None:
    data = _bytes(fixtures, "sls_export.json")
    parsed = parse("actiontrail", data)
    assert not parsed.rejected
    assert len(parsed.records) == len(json.loads(data)) == 3
    create, stop_logging, failed = parsed.records
    assert create.normal["resource"] == "backup-svc"
    assert stop_logging.normal["error_code"] == "NoPermission"
    assert failed.normal["outcome"] == "failure"


def test_sls_csv_export(parse: ParseFixture, fixtures: Path) -> None:
    data = _bytes(fixtures, "sls_export.csv")
    parsed = parse("actiontrail", data, name="sls_export.csv")
    assert not parsed.rejected
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert len(parsed.records) == len(rows) == 8
    assert [r.position for r in parsed.records] == list(range(2, 10))  # line numbers
    first = parsed.records[0]
    assert first.data["__topic__"] == "actiontrail_audit_event"  # BOM not glued to the name
    assert first.data["userIdentity"]["principalId"] == "154735325685****"
    assert first.data["requestParameters"]["ForceStop"] is False
    assert "errorCode" not in first.data  # empty cells are absent fields
    assert isinstance(first.raw, str)
    assert first.raw.startswith('"actiontrail_audit_event"')


def test_same_event_same_normal_view_in_every_shape(parse: ParseFixture, fixtures: Path) -> None:
    """The shapes hold the same events; their normalised views must agree."""
    oss = _by_name(parse("actiontrail", _bytes(fixtures, API_GZ)).records)
    oss |= _by_name(parse("actiontrail", _bytes(fixtures, SIGNIN_GZ)).records)
    compared = 0
    for name in PLAIN_FILES:
        for key, record in _by_name(parse("actiontrail", _bytes(fixtures, name)).records).items():
            assert record.normal == oss[key].normal, (name, key)
            assert record.key == oss[key].key
            assert record.time == oss[key].time
            compared += 1
    assert compared == 19


# --- rejections ----------------------------------------------------------------------------


def test_records_that_are_not_actiontrail_are_rejected(parse: ParseFixture) -> None:
    data = b'[{"eventName": "StopInstance", "acsRegion": "cn-hangzhou"}, 7, {"a": 1}]'
    parsed = parse("actiontrail", data)
    assert len(parsed.records) == 1
    assert [r.reason.split(" (")[0] for r in parsed.rejected] == [
        "ActionTrail event is not a JSON object", "not an ActionTrail event"]
    assert [r.position for r in parsed.rejected] == [2, 3]


def test_bad_json_line_rejected_and_parsing_goes_on(parse: ParseFixture) -> None:
    data = (b'{"eventId": "1", "eventName": "A"}\n{"eventId": \n'
            b'{"eventId": "2", "eventName": "B"}\n')
    parsed = parse("actiontrail", data)
    assert [r.data["eventName"] for r in parsed.records] == ["A", "B"]
    assert len(parsed.rejected) == 1


def test_csv_row_with_wrong_column_count_rejected(parse: ParseFixture) -> None:
    data = (b"__topic__,event.eventName,event.eventId\n"
            b"actiontrail_audit_event,StopInstance,e1\n"
            b"actiontrail_audit_event,StopInstance\n"
            b"actiontrail_audit_event,StartInstance,e3\n")
    parsed = parse("actiontrail", data)
    assert [r.data["eventId"] for r in parsed.records] == ["e1", "e3"]
    assert [(r.position, r.reason) for r in parsed.rejected] == [
        (3, "expected 3 CSV columns, got 2")]


def test_csv_quoted_newline_and_unbalanced_quotes(parse: ParseFixture) -> None:
    data = (b'event.eventName,event.errorMessage\n'
            b'A,"two\nlines"\n'
            b'B,"never closed\n')
    parsed = parse("actiontrail", data)
    assert [r.data["errorMessage"] for r in parsed.records] == ["two\nlines"]
    assert parsed.records[0].position == 2
    assert len(parsed.rejected) == 1
    assert parsed.rejected[0].position == 4


def test_csv_escaped_quotes_and_a_cell_larger_than_the_csv_module_limit(
        parse: ParseFixture) -> None:
    big = {"eventId": "e1", "eventName": "DescribeInstances", "responseElements": {
        "Instances": ["i-" + "x" * 200_000]}}
    cell = json.dumps(big).replace('"', '""')
    data = f'__topic__,event\nactiontrail_audit_event,"{cell}"\n'.encode()
    parsed = parse("actiontrail", data)
    assert not parsed.rejected
    assert parsed.records[0].data["responseElements"]["Instances"][0].startswith("i-xxx")
    assert parsed.records[0].data["__topic__"] == "actiontrail_audit_event"


def test_mfa_flag_spellings() -> None:
    assert mfa_checked({"additionalEventData": {"isMFAChecked": "true"}}) is True
    assert mfa_checked({"additionalEventData": {"mfaChecked": False}}) is False
    assert mfa_checked({"userIdentity": {"sessionContext": {"attributes": {
        "mfaAuthenticated": "true"}}}}) is True
    assert mfa_checked({"additionalEventData": {"mfaChecked": "maybe"}}) is None


def test_event_id_absent_means_no_key(parse: ParseFixture) -> None:
    parsed = parse("actiontrail", b'{"eventName": "X", "acsRegion": "cn-hangzhou"}')
    assert parsed.records[0].key is None
    assert parsed.records[0].time is None


# --- sniffing ------------------------------------------------------------------------------




@pytest.mark.parametrize("sample", [
    b'{"Records": [{"eventVersion": "1.08", "eventTime": "2024-03-01T10:00:00Z", '
    b'"eventSource": "iam.amazonaws.com", "eventName": "CreateAccessKey", '
    b'"awsRegion": "us-east-1", "eventID": "5d1c"}]}',
    b'{"eventID": "x", "eventName": "ConsoleLogin", "awsRegion": "us-east-1", '
    b'"eventSource": "signin.amazonaws.com", "eventId": "x"}',
    b"2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 "
    b"1418530010 1418530070 ACCEPT OK\n",
    b"Mar  1 10:00:00 web sshd[123]: Accepted password for root from 203.0.113.7 port 22\n",
    b'{"__topic__": "flow_log", "srcaddr": "10.0.0.1", "dstaddr": "10.0.0.2"}\n',
    b"a,b,c\n1,2,3\n",
])
def test_other_formats_not_claimed(sample: bytes) -> None:
    assert ActionTrailParser.sniff(sample, "evidence.json") == 0


def test_real_cloudtrail_files_not_claimed(shared_data: Path) -> None:
    files = sorted((shared_data / "stratus" / "docs" / "detonation-logs").glob("*.json"))
    assert files
    for path in files:
        assert ActionTrailParser.sniff(path.read_bytes()[:65536], path.name) == 0, path.name


def test_panther_cloudtrail_events_not_claimed(shared_data: Path) -> None:
    yaml = pytest.importorskip("yaml")
    checked = 0
    for path in sorted((shared_data / "panther" / "rules" / "aws_cloudtrail_rules").glob("*.yml")):
        rule = yaml.safe_load(path.read_text())
        for test in rule.get("Tests") or []:
            log = test.get("Log")
            if isinstance(log, dict):
                assert ActionTrailParser.sniff(json.dumps(log).encode(), "x.json") == 0
                checked += 1
    assert checked > 400


# --- hostile input -------------------------------------------------------------------------


def _check(items: list[Record | Rejected]) -> None:
    for item in items:
        assert isinstance(item, Record | Rejected)
        assert item.position > 0


def _run(data: bytes) -> list[Record | Rejected]:
    from trailguard.ingest.base import ParseContext
    return list(ActionTrailParser().parse(io.BytesIO(data), ParseContext("x")))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=120), max_size=12))
def test_random_text_lines_never_raise(lines: list[str]) -> None:
    _check(_run("\n".join(lines).encode()))
    _check(_run(("event.eventName,event.eventId\n" + "\n".join(lines)).encode()))


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([API_GZ, SIGNIN_GZ, *PLAIN_FILES]), st.floats(0, 1))
def test_truncated_fixtures_never_raise(name: str, fraction: float) -> None:
    data = _bytes(Path(__file__).resolve().parents[2] / "fixtures", name)
    items = _run(data[: int(len(data) * fraction)])
    _check(items)
    positions = [item.position for item in items if isinstance(item, Record)]
    assert len(positions) == len(set(positions))
