"""VPC flow-log parsers (Alibaba Cloud SLS exports, AWS text and JSON).

Text fixtures reproduce the records of AWS's documented examples
(awsdocs/amazon-vpc-user-guide doc_source/flow-logs-records-examples.md); the Alibaba fixtures
follow the SLS field list (help/doc-detail/173649). Panther's rule tests give public JSON
records in Panther's field names.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.ingest.parsers.conftest import Parsed
from trailguard.ingest.base import ParseContext, Record, Rejected
from trailguard.ingest.parsers.vpcflow import (
    AliyunFlowParser,
    AwsFlowParser,
    header_fields,
    protocol_name,
)

ParseFixture = Callable[..., Parsed]
SniffFixture = Callable[..., "str | None"]

S3_GZ = "123456789010_vpcflowlogs_us-east-1_fl-0a1b2c3d4e5f6a7b8_20190826T1950Z_3f9a2c1d.log.gz"
AWS_FILES = ["aws_default_v2.log", "aws_custom_v5.log", "aws_flow.jsonl", S3_GZ]
ALIYUN_FILES = ["aliyun_flow.jsonl", "aliyun_flow.json", "aliyun_flow.csv"]
DOC_V2 = (b"2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 "
          b"1418530010 1418530070 ACCEPT OK\n")


def _bytes(fixtures: Path, name: str) -> bytes:
    data = (fixtures / "vpcflow" / name).read_bytes()
    return gzip.decompress(data) if name.endswith(".gz") else data


def _text_records(data: bytes) -> int:
    """Independent count: non-empty lines whose first word is not a field name."""
    return sum(1 for line in data.decode().splitlines()
               if line.strip() and not line.split()[0][0].isalpha())


# --- AWS text ------------------------------------------------------------------------------


def test_default_v2_without_header(parse: ParseFixture, fixtures: Path) -> None:
    data = _bytes(fixtures, "aws_default_v2.log")
    parsed = parse("vpcflow_aws", data)
    assert not parsed.rejected
    assert len(parsed.records) == _text_records(data) == 7
    ssh, rdp, nodata, skipdata, ping, pong, ipv6 = parsed.records
    assert ssh.position == 1
    assert ssh.time == datetime(2014, 12, 14, 4, 6, 50)
    assert ssh.key is None
    assert ssh.data["interface-id"] == "eni-1235b8ca123456789"
    assert ssh.data["srcport"] == "20641"
    assert ssh.normal == {
        "category": "network", "operation": "ACCEPT", "outcome": "success",
        "src_ip": "172.31.16.139", "src_port": 20641, "dst_ip": "172.31.16.21", "dst_port": 22,
        "protocol": "tcp", "direction": None, "bytes": 4249, "packets": 20,
        "instance_id": None, "resource": "eni-1235b8ca123456789",
        "cloud_account": "123456789010", "cloud_region": None,
    }
    assert rdp.normal["outcome"] == "failure"
    assert rdp.normal["operation"] == "REJECT"
    # NODATA / SKIPDATA are stored, without addresses; "-" is an absent value.
    assert nodata.data["srcaddr"] is None
    assert nodata.normal["operation"] == "NODATA"
    assert nodata.normal["src_ip"] is None
    assert nodata.normal["outcome"] is None
    assert nodata.time == datetime(2015, 5, 10, 18, 1, 16)
    assert skipdata.normal["operation"] == "SKIPDATA"
    assert ping.normal["protocol"] == "icmp"
    assert pong.normal["outcome"] == "failure"
    assert ipv6.normal["src_ip"] == "2001:db8:1234:a100:8d6e:3477:df66:f105"


def test_s3_delivery_with_header_custom_v3_order(parse: ParseFixture, fixtures: Path) -> None:
    data = _bytes(fixtures, S3_GZ)
    parsed = parse("vpcflow_aws", data, name=S3_GZ)
    assert not parsed.rejected
    assert len(parsed.records) == _text_records(data) == 8
    assert [r.position for r in parsed.records] == list(range(2, 10))
    syn = parsed.records[0]
    assert syn.data["tcp-flags"] == "2"
    assert syn.data["pkt-dstaddr"] == "10.0.0.62"
    assert syn.normal["instance_id"] == "i-01234567890123456"
    assert syn.normal["bytes"] == 568
    assert syn.normal["packets"] == 8
    # The documented record with a double space still has 21 fields.
    assert parsed.records[-1].data["dstport"] == "43638"


def test_custom_v5_flow_direction_and_region(parse: ParseFixture, fixtures: Path) -> None:
    data = _bytes(fixtures, "aws_custom_v5.log")
    parsed = parse("vpcflow_aws", data)
    assert not parsed.rejected
    assert len(parsed.records) == _text_records(data) == 4
    ingress, egress, probe, nodata = parsed.records
    assert ingress.normal["direction"] == "in"
    assert ingress.data["pkt-src-aws-service"] == "S3"
    assert egress.normal["direction"] == "out"
    assert egress.data["traffic-path"] == "8"
    assert egress.normal["cloud_region"] == "ap-southeast-2"
    assert egress.normal["cloud_account"] == "123456789012"
    assert probe.normal["dst_port"] == 3389
    assert probe.normal["outcome"] == "failure"
    assert nodata.normal["operation"] == "NODATA"
    assert nodata.normal["src_ip"] is None


def test_header_in_the_format_string_syntax(parse: ParseFixture) -> None:
    data = b"${version} ${srcaddr} ${dstaddr} ${action}\n2 10.0.0.1 10.0.0.2 ACCEPT\n"
    parsed = parse("vpcflow_aws", data)
    assert parsed.records[0].data == {"version": "2", "srcaddr": "10.0.0.1",
                                      "dstaddr": "10.0.0.2", "action": "ACCEPT"}


def test_concatenated_files_each_with_its_header(parse: ParseFixture) -> None:
    data = (b"version srcaddr dstaddr action log-status\n2 10.0.0.1 10.0.0.2 ACCEPT OK\n"
            b"srcaddr dstaddr dstport\n10.0.0.3 10.0.0.4 443\n")
    parsed = parse("vpcflow_aws", data)
    assert [r.normal["dst_port"] for r in parsed.records] == [None, 443]
    assert not parsed.rejected


def test_text_records_that_do_not_fit_are_rejected(parse: ParseFixture) -> None:
    data = (DOC_V2
            + b"2 123456789010 eni-1 10.0.0.1 10.0.0.2 22 ACCEPT OK\n"
            + b"2 123456789010 eni-1 10.0.0.1 10.0.0.2 http 22 6 1 1 1 1 ACCEPT OK\n"
            + b"\n"
            + DOC_V2)
    parsed = parse("vpcflow_aws", data)
    assert [r.position for r in parsed.records] == [1, 5]
    assert [(r.position, r.reason) for r in parsed.rejected] == [
        (2, "8 fields and no header line (the default v2 format has 14)"),
        (3, "srcport is not a number: 'http'"),
    ]
    data = b"version srcaddr dstaddr\n2 10.0.0.1\n"
    parsed = parse("vpcflow_aws", data)
    assert [r.reason for r in parsed.rejected] == ["expected 3 fields (header), got 2"]


def test_header_detection() -> None:
    nat_header = "instance-id interface-id srcaddr dstaddr pkt-srcaddr pkt-dstaddr"
    assert header_fields(nat_header.split()) == nat_header.split()
    assert header_fields(["${version}", "${srcaddr}"]) == ["version", "srcaddr"]
    assert header_fields(["2", "123456789010"]) is None
    prose = "the action was taken at the start"
    assert header_fields(prose.split()) is None


def test_protocol_names() -> None:
    assert [protocol_name(v) for v in ("6", 17, "1", "58", "253", "-", None, "TCP")] == [
        "tcp", "udp", "icmp", "ipv6-icmp", "253", None, None, "tcp"]


# --- AWS JSON ------------------------------------------------------------------------------


def test_aws_json_in_aws_and_panther_names(parse: ParseFixture, fixtures: Path) -> None:
    data = _bytes(fixtures, "aws_flow.jsonl")
    parsed = parse("vpcflow_aws", data)
    assert not parsed.rejected
    assert len(parsed.records) == len(data.splitlines()) == 4
    hyphen, v5, camel, skip = parsed.records
    assert hyphen.normal["dst_port"] == 22
    assert hyphen.normal["outcome"] == "failure"
    assert v5.normal["direction"] == "out"
    assert camel.data["srcAddr"] == "203.0.113.80"  # stored under its own name
    assert camel.normal["src_ip"] == "203.0.113.80"
    assert camel.normal["direction"] == "in"
    assert camel.normal["cloud_account"] == "123456789010"
    assert camel.normal["instance_id"] == "i-01234567890123456"
    assert camel.time == datetime(2014, 12, 14, 4, 8)  # ISO start, as Panther stores it
    assert skip.normal["operation"] == "SKIPDATA"


def test_json_records_without_flow_fields_are_rejected(parse: ParseFixture) -> None:
    parsed = parse("vpcflow_aws", b'[{"srcaddr": "10.0.0.1"}, "x", {"hello": 1}]')
    assert len(parsed.records) == 1
    assert [r.reason for r in parsed.rejected] == [
        "flow-log record is not a JSON object", "not a flow-log record (no flow fields)"]


def _panther_flow_logs(shared_data: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(flow records, other records) from Panther's VPC rule tests."""
    yaml = pytest.importorskip("yaml")
    flows: list[dict[str, Any]] = []
    others: list[dict[str, Any]] = []
    for path in sorted((shared_data / "panther" / "rules" / "aws_vpc_flow_rules").glob("*.yml")):
        rule = yaml.safe_load(path.read_text())
        for test in rule.get("Tests") or []:
            log = test.get("Log")
            if not isinstance(log, dict):
                continue
            kind = log.get("p_log_type", rule["LogTypes"][0])
            (flows if kind == "AWS.VPCFlow" else others).append(log)
    return flows, others


def test_panther_vpc_flow_test_events(parse: ParseFixture, sniff: SniffFixture,
                                      shared_data: Path) -> None:
    flows, others = _panther_flow_logs(shared_data)
    assert len(flows) == 21  # AWS.VPCFlow; 8 OCSF NetworkActivity + 10 DNS tests are others
    assert len(others) == 18
    data = "".join(json.dumps(log) + "\n" for log in flows).encode()
    assert sniff(data, "panther.jsonl") == "vpcflow_aws"
    parsed = parse("vpcflow_aws", data)
    assert not parsed.rejected
    assert len(parsed.records) == len(flows)
    by_position = {r.position: r for r in parsed.records}
    for number, log in enumerate(flows, start=1):
        record = by_position[number]
        assert record.data == log
        if "dstPort" in log:
            assert record.normal["dst_port"] == log["dstPort"]
        if log.get("srcAddr") == "null":
            assert record.normal["src_ip"] is None
        if "flowDirection" in log:
            assert record.normal["direction"] == {"ingress": "in", "egress": "out"}[
                log["flowDirection"]]
        if "instanceId" in log:
            assert record.normal["instance_id"] == log["instanceId"]
    statuses = [r.normal["operation"] for r in parsed.records if "status" in r.data]
    assert statuses == [None, "SKIPDATA"]


def test_panther_ocsf_and_dns_records_not_claimed(shared_data: Path) -> None:
    _, others = _panther_flow_logs(shared_data)
    for log in others:
        head = json.dumps(log).encode()
        assert AwsFlowParser.sniff(head, "x.json") == 0
        assert AliyunFlowParser.sniff(head, "x.json") == 0


# --- Alibaba Cloud -------------------------------------------------------------------------


def test_aliyun_sls_json_lines(parse: ParseFixture, fixtures: Path) -> None:
    data = _bytes(fixtures, "aliyun_flow.jsonl")
    parsed = parse("vpcflow_aliyun", data)
    assert not parsed.rejected
    assert len(parsed.records) == len(data.splitlines()) == 4
    ssh_in, ssh_out, rdp, dns = parsed.records
    assert ssh_in.time == datetime(2021, 8, 4, 6, 10)
    assert ssh_in.data["vm-id"] == "i-bp1fxzqe8mln0p3q****"
    assert ssh_in.data["__topic__"] == "flow_log"
    assert ssh_in.normal == {
        "category": "network", "operation": "ACCEPT", "outcome": "success",
        "src_ip": "203.0.113.9", "src_port": 51234, "dst_ip": "172.16.0.10", "dst_port": 22,
        "protocol": "tcp", "direction": "in", "bytes": 2214, "packets": 12,
        "instance_id": "i-bp1fxzqe8mln0p3q****", "resource": "eni-bp1ivd6x8zcrdn4f****",
        "cloud_account": "154735325685****", "cloud_region": "cn-hangzhou",
    }
    assert ssh_out.normal["direction"] == "out"
    assert rdp.normal["outcome"] == "failure"
    assert dns.normal["protocol"] == "udp"


def test_aliyun_sls_json_array_with_nodata(parse: ParseFixture, fixtures: Path) -> None:
    data = _bytes(fixtures, "aliyun_flow.json")
    parsed = parse("vpcflow_aliyun", data)
    assert not parsed.rejected
    assert len(parsed.records) == len(json.loads(data)) == 3
    _dns, icmp, nodata = parsed.records
    assert icmp.normal["protocol"] == "icmp"
    assert icmp.data["traffic_path"] == "7"
    assert nodata.normal["operation"] == "NODATA"
    assert nodata.normal["src_ip"] is None
    assert nodata.time == datetime(2021, 8, 4, 6, 13)


def test_aliyun_sls_csv(parse: ParseFixture, fixtures: Path) -> None:
    data = _bytes(fixtures, "aliyun_flow.csv")
    parsed = parse("vpcflow_aliyun", data)
    assert not parsed.rejected
    rows = list(csv.DictReader(io.StringIO(data.decode(), newline="")))
    assert len(parsed.records) == len(rows) == 6
    assert [r.position for r in parsed.records] == list(range(2, 8))
    assert parsed.records[0].data["eni-id"] == "eni-bp1ivd6x8zcrdn4f****"
    nodata = parsed.records[-1]
    assert "srcaddr" not in nodata.data  # empty cell: absent field
    assert nodata.normal["operation"] == "NODATA"
    jsonl = parse("vpcflow_aliyun", _bytes(fixtures, "aliyun_flow.jsonl")).records
    assert [r.normal for r in parsed.records[:4]] == [r.normal for r in jsonl]


# --- sniffing ------------------------------------------------------------------------------






def test_documented_v2_line_sniffed(sniff: SniffFixture) -> None:
    assert sniff(DOC_V2, "flow.log") == "vpcflow_aws"
    assert AwsFlowParser.sniff(DOC_V2, "flow.log") >= 90


@pytest.mark.parametrize("sample", [
    b'{"Records": [{"eventVersion": "1.08", "eventSource": "iam.amazonaws.com", '
    b'"eventName": "CreateAccessKey", "awsRegion": "us-east-1"}]}',
    b'[{"eventId": "x", "eventName": "StopInstance", "acsRegion": "cn-hangzhou"}]',
    b"Mar  1 10:00:00 web sshd[123]: Accepted password for root from 203.0.113.7 port 22\n",
    b"#separator \\x09\n#set_separator\t,\n#fields\tts\tuid\tid.orig_h\n",
    b"ts,src,dst\n1,10.0.0.1,10.0.0.2\n",
    b"the action was taken at the start of the end\n",
])
def test_other_formats_not_claimed(sample: bytes) -> None:
    assert AwsFlowParser.sniff(sample, "evidence.log") == 0
    assert AliyunFlowParser.sniff(sample, "evidence.log") == 0


# --- hostile input -------------------------------------------------------------------------


def _run(parser: type[AwsFlowParser | AliyunFlowParser], data: bytes) -> list[Record | Rejected]:
    items = list(parser().parse(io.BytesIO(data), ParseContext("x")))
    for item in items:
        assert isinstance(item, Record | Rejected)
        assert item.position > 0
    positions = [item.position for item in items if isinstance(item, Record)]
    assert len(positions) == len(set(positions))
    return items


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(codec="utf-8"), max_size=100), max_size=12))
def test_random_text_lines_never_raise(lines: list[str]) -> None:
    text = "\n".join(lines)
    _run(AwsFlowParser, text.encode())
    _run(AwsFlowParser, ("version srcaddr dstaddr srcport\n" + text).encode())
    _run(AliyunFlowParser, ("srcaddr,dstaddr,eni-id\n" + text).encode())


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(AWS_FILES + ALIYUN_FILES), st.floats(0, 1))
def test_truncated_fixtures_never_raise(name: str, fraction: float) -> None:
    data = _bytes(Path(__file__).resolve().parents[2] / "fixtures", name)
    parser = AliyunFlowParser if name.startswith("aliyun") else AwsFlowParser
    _run(parser, data[: int(len(data) * fraction)])
