"""The CloudTrail normalised view, computed a batch at a time, against its record-by-record
specification (``normalise_event``, plain Python over one record's stored field text): on the
Stratus Red Team detonations, Panther's CloudTrail test events, our fixtures and generated
records."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.ingest.parsers.conftest import normal_mismatches
from trailguard.ingest.base import ParseContext, Record
from trailguard.ingest.parsers.cloudtrail import CloudTrailParser

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "cloudtrail"


def records_of(data: bytes) -> list[Record]:
    items = CloudTrailParser().parse(io.BytesIO(data), ParseContext("trail.json"))
    return [item for item in items if isinstance(item, Record)]


def assert_same(records: list[Record]) -> None:
    count, examples = normal_mismatches(CloudTrailParser, records)
    assert count == 0, "\n".join(examples)


texts = st.one_of(
    st.sampled_from(["", "-", "ConsoleLogin", "Failure", "Success", "AccessDenied", "alice",
                     "arn:aws:iam::123456789012:user/alice", "arn:aws:sts::1:assumed-role/r/",
                     "203.0.113.7", "2001:db8::1", "s3.amazonaws.com", "1048576", "1e3",
                     "0x10", "i-0abc"]),
    st.text(max_size=6), st.integers(), st.booleans(), st.none())


@st.composite
def cloudtrail_records(draw: st.DrawFn) -> dict[str, Any]:
    record: dict[str, Any] = {"eventName": draw(texts), "eventSource": draw(texts)}
    for key in ("errorCode", "userAgent", "sourceIPAddress", "awsRegion", "recipientAccountId"):
        if draw(st.booleans()):
            record[key] = draw(texts)
    record["userIdentity"] = draw(st.dictionaries(st.sampled_from(
        ["arn", "principalId", "userName", "type", "accessKeyId", "accountId"]), texts))
    if draw(st.booleans()):
        record["userIdentity"]["sessionContext"] = {"sessionIssuer": {"userName": draw(texts)}}
    record["requestParameters"] = draw(st.one_of(st.none(), texts, st.dictionaries(
        st.sampled_from(["bucketName", "instanceId", "userName", "roleName", "name"]), texts)))
    record["resources"] = draw(st.one_of(st.none(), texts, st.lists(st.one_of(
        st.fixed_dictionaries({"ARN": texts}), texts), max_size=2)))
    record["responseElements"] = draw(st.one_of(st.none(), st.fixed_dictionaries(
        {"ConsoleLogin": texts})))
    record["additionalEventData"] = draw(st.one_of(st.none(), st.fixed_dictionaries(
        {"bytesTransferredOut": st.one_of(texts, st.floats(allow_nan=True))})))
    return record


@settings(max_examples=300, deadline=None)
@given(st.lists(cloudtrail_records(), min_size=1, max_size=8))
def test_generated_records_agree_with_the_event_form(batch):
    assert_same([Record(position=index, data=data, raw="{}") for index, data in enumerate(batch)])


def test_fixtures_agree_with_the_event_form():
    records: list[Record] = []
    for name in ("s3_delivery.json", "lookup_events.json", "records.ndjson"):
        records += records_of((FIXTURES / name).read_bytes())
    assert len(records) > 5
    assert_same(records)


def test_stratus_and_panther_records_agree_with_the_event_form(shared_data):
    records: list[Record] = []
    for path in sorted((shared_data / "stratus" / "docs" / "detonation-logs").glob("*.json")):
        records += records_of(path.read_bytes())
    events = []
    for path in sorted((shared_data / "panther" / "rules" / "aws_cloudtrail_rules").glob("*.yml")):
        rule = yaml.safe_load(path.read_text())
        if "AWS.CloudTrail" in (rule.get("LogTypes") or []):
            events += [test["Log"] for test in rule.get("Tests") or []
                       if isinstance(test.get("Log"), dict) and "eventName" in test["Log"]]
    records += records_of("\n".join(json.dumps(event, default=str) for event in events).encode())
    if len(records) < 700:
        pytest.fail(f"expected the 310 Stratus and 400+ Panther records, found {len(records)}")
    assert_same(records)
