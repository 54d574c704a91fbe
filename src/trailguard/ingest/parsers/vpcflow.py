"""VPC flow logs: Alibaba Cloud (SLS exports) and AWS (S3/CloudWatch text and JSON).

Reference: /work/shared/reference/cloud.md §3.

* **Alibaba Cloud** flow logs live in SLS only (https://www.alibabacloud.com/help/en/sls/vpc,
  https://www.alibabacloud.com/help/doc-detail/173649.htm). Exports are JSON (lines or array)
  or CSV with a header row; fields ``version account-id eni-id vm-id vpc-id vswitch-id srcaddr
  srcport dstaddr dstport protocol direction packets bytes start end action log-status
  tcp-flags traffic_path`` plus SLS fields (``__topic__`` = ``flow_log``, ``region`` …).
* **AWS** flow-log records (awsdocs/amazon-vpc-user-guide ``doc_source/flow-logs.md``,
  https://docs.aws.amazon.com/vpc/latest/userguide/flow-log-records) are space-separated.
  Files delivered to S3 start with a header line naming the fields (any custom order or
  subset, versions 2–8); without a header the default version-2 order is assumed
  (``version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes
  start end action log-status``). ``-`` marks an absent value; NODATA and SKIPDATA records
  have no addresses and are stored like any other. JSON records are read too, under the
  AWS names or the names other tools give them (Panther's ``srcAddr``, ``dstPort``,
  ``interfaceId``, ``status`` …; snake_case; PascalCase).

Native names are stored as found; the normalised view maps every spelling.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any, ClassVar

import orjson

from trailguard.ingest.base import (
    PARSERS,
    ParseContext,
    Record,
    Rejected,
    SourceParser,
    decode,
    first_byte,
    int_of,
    iter_lines,
    peekable,
    text_of,
    too_long,
)
from trailguard.ingest.jsonstream import JsonDoc, iter_json_items, sniff_json_values
from trailguard.ingest.parsers._cloud import ip_or_none
from trailguard.ingest.parsers._csv import parse_csv
from trailguard.ingest.timeparse import from_epoch, parse_iso

#: Default AWS format (version 2), the field order of header-less records.
AWS_V2_FIELDS = (
    "version", "account-id", "interface-id", "srcaddr", "dstaddr", "srcport", "dstport",
    "protocol", "packets", "bytes", "start", "end", "action", "log-status",
)
#: Every AWS field name by version (v3–v5 per the archived guide, v7/v8 per current docs).
AWS_FIELDS = frozenset(AWS_V2_FIELDS) | {
    "vpc-id", "subnet-id", "instance-id", "tcp-flags", "type", "pkt-srcaddr", "pkt-dstaddr",
    "region", "az-id", "sublocation-type", "sublocation-id",
    "pkt-src-aws-service", "pkt-dst-aws-service", "flow-direction", "traffic-path",
    "ecs-cluster-arn", "ecs-cluster-name", "ecs-container-instance-arn",
    "ecs-container-instance-id", "ecs-container-id", "ecs-second-container-id",
    "ecs-service-name", "ecs-task-definition-arn", "ecs-task-arn", "ecs-task-id",
    "reject-reason",
}
#: AWS fields that are always numbers (or ``-``): a record with anything else is not a flow.
AWS_NUMERIC = frozenset({"version", "srcport", "dstport", "protocol", "packets", "bytes",
                         "start", "end", "tcp-flags"})

#: Field roles by canonical name (lower case, ``-`` and ``_`` removed), across spellings.
ROLES: dict[str, str] = {
    "srcaddr": "src_ip", "dstaddr": "dst_ip", "srcport": "src_port", "dstport": "dst_port",
    "protocol": "protocol", "packets": "packets", "bytes": "bytes", "start": "start",
    "end": "end", "action": "action", "logstatus": "status", "status": "status",
    "flowdirection": "direction", "direction": "direction", "vmid": "instance",
    "instanceid": "instance", "accountid": "account", "account": "account",
    "region": "region", "interfaceid": "interface", "eniid": "interface",
    "version": "version",
}
#: IANA protocol numbers with a common name (https://www.iana.org/assignments/protocol-numbers).
PROTOCOLS = {1: "icmp", 2: "igmp", 4: "ipip", 6: "tcp", 17: "udp", 41: "ipv6", 47: "gre",
             50: "esp", 51: "ah", 58: "ipv6-icmp", 89: "ospf", 112: "vrrp", 132: "sctp"}
DIRECTIONS = {"in": "in", "ingress": "in", "inbound": "in",
              "out": "out", "egress": "out", "outbound": "out"}

_ALIYUN_MARKERS = frozenset({"eni-id", "vm-id", "vswitch-id", "traffic_path"})
_AWS_JSON_MARKERS = frozenset({"interface-id", "interfaceId", "interface_id", "InterfaceId",
                               "flow-direction", "flowDirection", "subnet-id", "subNetId",
                               "pkt-srcaddr", "pktSrcAddr", "log-status", "LogStatus"})
_AWS_CAMEL = frozenset({"srcAddr", "dstAddr", "srcPort", "dstPort"})
_HEADER_TOKEN = re.compile(r"^(?:\$\{)?[a-z][a-z0-9_-]*\}?$")
_V2_LINE = re.compile(
    r"^\d{1,2} \S+ \S+ \S+ \S+ (?:\d+|-) (?:\d+|-) (?:\d+|-) (?:\d+|-) (?:\d+|-) "
    r"(?:\d+|-) (?:\d+|-) (?:ACCEPT|REJECT|-) (?:OK|NODATA|SKIPDATA|-)$"
)


class _FlowParser(SourceParser):
    """What both flow-log parsers share: JSON records, normalisation, record building."""

    def _parse_json(self, stream: IO[bytes]) -> Iterator[Record | Rejected]:
        return iter_json_items(stream, self._record, _unwrap)

    def _record(self, position: int, item: Any, raw: str | bytes) -> Record | Rejected:
        if not isinstance(item, dict):
            return Rejected(position, "flow-log record is not a JSON object", raw)
        fields = canonical(item)
        if not fields:
            return Rejected(position, "not a flow-log record (no flow fields)", raw)
        return Record(position=position, data=item, raw=raw, time=flow_time(fields, item),
                      normal=normalise(fields))


@PARSERS.register("vpcflow_aliyun")
class AliyunFlowParser(_FlowParser):
    NAME: ClassVar[str] = "vpcflow_aliyun"
    TITLE: ClassVar[str] = (
        "Alibaba Cloud VPC flow logs exported from SLS (JSON lines / array or CSV; "
        "__topic__ flow_log, eni-id, vm-id, srcaddr …)"
    )
    EXAMPLE: ClassVar[str] = (
        '{"__topic__": "flow_log", "version": "1", "account-id": "154735325685****", '
        '"eni-id": "eni-bp1ivd6x8zcrdn4f****", "vm-id": "i-bp1fxzqe8mln0p3q****", '
        '"srcaddr": "203.0.113.9", "srcport": "51234", "dstaddr": "172.16.0.10", '
        '"dstport": "22", "protocol": "6", "direction": "in", "packets": "12", '
        '"bytes": "2214", "start": "1628057400", "end": "1628057460", "action": "ACCEPT", '
        '"log-status": "OK"}'
    )

    @classmethod
    def sniff(cls, head: bytes, name: str) -> int:
        for value in sniff_json_values(head):
            if isinstance(value, dict):
                if value.get("__topic__") == "flow_log":
                    return 95
                if _ALIYUN_MARKERS & value.keys() and {"srcaddr", "dstaddr"} & value.keys():
                    return 90
        columns = _csv_header(head)
        if {"srcaddr", "dstaddr"} <= columns:
            if _ALIYUN_MARKERS & columns or "__topic__" in columns:
                return 90
            return 40
        return 0

    def parse(self, stream: IO[bytes], ctx: ParseContext) -> Iterator[Record | Rejected]:
        reader = peekable(stream)
        if first_byte(reader) in (b"{", b"[", b""):
            yield from self._parse_json(reader)
        else:
            yield from parse_csv(reader, self._record)


@PARSERS.register("vpcflow_aws")
class AwsFlowParser(_FlowParser):
    NAME: ClassVar[str] = "vpcflow_aws"
    TITLE: ClassVar[str] = (
        "AWS VPC flow logs: space-separated records (versions 2–8, with a header line or in "
        "the default v2 order) and JSON records (AWS, Panther or snake_case field names)"
    )
    EXAMPLE: ClassVar[str] = (
        "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets "
        "bytes start end action log-status\n"
        "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 "
        "1418530010 1418530070 ACCEPT OK"
    )

    @classmethod
    def sniff(cls, head: bytes, name: str) -> int:
        lines = [line.strip() for line in head.decode("utf-8", "ignore").splitlines()]
        lines = [line for line in lines if line][:20]
        if lines and header_fields(lines[0].lstrip("\ufeff").split()):
            return 95
        if lines:
            matching = sum(1 for line in lines if _V2_LINE.match(line))
            if matching and matching * 2 >= len(lines):
                return 90
        for value in sniff_json_values(head):
            if not isinstance(value, dict):
                continue
            if value.get("p_log_type") == "AWS.VPCFlow":
                return 95
            keys = value.keys()
            if _ALIYUN_MARKERS & keys or value.get("__topic__") == "flow_log":
                return 0
            if _AWS_JSON_MARKERS & keys and canonical(value).keys() & {"src_ip", "dst_ip"}:
                return 85
            if _AWS_CAMEL & keys:
                return 75
            if {"srcaddr", "dstaddr"} <= keys:
                return 50
        return 0

    def parse(self, stream: IO[bytes], ctx: ParseContext) -> Iterator[Record | Rejected]:
        reader = peekable(stream)
        if first_byte(reader) in (b"{", b"["):
            yield from self._parse_json(reader)
        else:
            yield from self._parse_text(reader)

    def _parse_text(self, stream: IO[bytes]) -> Iterator[Record | Rejected]:
        header: list[str] | None = None
        for number, line in iter_lines(stream):
            if line is None:
                yield too_long(number)
                continue
            raw = decode(line)
            tokens = raw.lstrip("\ufeff").split()
            if not tokens:
                continue
            names = header_fields(tokens)
            if names:
                header = names
                continue
            yield self._text_record(number, tokens, raw, header)

    def _text_record(self, number: int, tokens: list[str], raw: str,
                     header: list[str] | None) -> Record | Rejected:
        names: list[str] | tuple[str, ...] | None = header
        if names is None:
            if len(tokens) != len(AWS_V2_FIELDS):
                return Rejected(number, f"{len(tokens)} fields and no header line (the "
                                f"default v2 format has {len(AWS_V2_FIELDS)})", raw)
            names = AWS_V2_FIELDS
        if len(tokens) != len(names):
            return Rejected(number, f"expected {len(names)} fields (header), got {len(tokens)}",
                            raw)
        data: dict[str, Any] = {}
        for name, cell in zip(names, tokens, strict=True):
            value = None if cell == "-" else cell
            if value is not None and name in AWS_NUMERIC and not value.isdigit():
                return Rejected(number, f"{name} is not a number: {value[:40]!r}", raw)
            data[name] = value
        fields = canonical(data)
        return Record(position=number, data=data, raw=raw, time=flow_time(fields, data),
                      normal=normalise(fields))


def header_fields(tokens: list[str]) -> list[str] | None:
    """The field names if ``tokens`` are an AWS header line (``${name}`` format strings too)."""
    if len(tokens) < 2 or not all(_HEADER_TOKEN.match(token) for token in tokens):
        return None
    names = [token.removeprefix("${").removesuffix("}") for token in tokens]
    known = sum(1 for name in names if name in AWS_FIELDS)
    if known * 2 < len(names) or not {"srcaddr", "dstaddr", "log-status", "action",
                                      "interface-id", "start"} & set(names):
        return None
    return names


def _csv_header(head: bytes) -> set[str]:
    """Column names of a CSV file's first line (empty when it is not comma-separated)."""
    first = head.split(b"\n", 1)[0].decode("utf-8", "ignore").lstrip("\ufeff").strip()
    if "," not in first:
        return set()
    return {cell.strip().strip('"') for cell in first.split(",")}


def _unwrap(doc: JsonDoc) -> Iterator[tuple[Any, str | bytes]]:
    value = doc.value
    if isinstance(value, list):
        for item in value:
            yield item, orjson.dumps(item).decode()
    else:
        yield value, doc.raw


def canonical(item: dict[str, Any]) -> dict[str, Any]:
    """The flow fields of a record by role, whatever their spelling (first spelling wins)."""
    fields: dict[str, Any] = {}
    for key, value in item.items():
        role = ROLES.get(key.lower().replace("-", "").replace("_", ""))
        if role and role not in fields:
            fields[role] = value
    return fields


def flow_time(fields: dict[str, Any], item: dict[str, Any]) -> datetime | None:
    """The flow's start (epoch seconds), else its end, else SLS's ``__time__``."""
    for value in (fields.get("start"), fields.get("end"), item.get("__time__")):
        text = text_of(value)
        if text:
            found = from_epoch(text) or parse_iso(text)
            if found:
                return found
    return None


def normalise(fields: dict[str, Any]) -> dict[str, Any]:
    action = (text_of(fields.get("action")) or "").upper() or None
    status = (text_of(fields.get("status")) or "").upper() or None
    direction = text_of(fields.get("direction"))
    return {
        "category": "network",
        "operation": action or (status if status and status != "OK" else None),
        "outcome": {"ACCEPT": "success", "REJECT": "failure"}.get(action or ""),
        "src_ip": ip_or_none(text_of(fields.get("src_ip"))),
        "src_port": port(fields.get("src_port")),
        "dst_ip": ip_or_none(text_of(fields.get("dst_ip"))),
        "dst_port": port(fields.get("dst_port")),
        "protocol": protocol_name(fields.get("protocol")),
        "direction": DIRECTIONS.get(direction.lower()) if direction else None,
        "bytes": int_of(fields.get("bytes")),
        "packets": int_of(fields.get("packets")),
        "instance_id": text_of(fields.get("instance")),
        "resource": text_of(fields.get("interface")),
        "cloud_account": text_of(fields.get("account")),
        "cloud_region": text_of(fields.get("region")),
    }


def port(value: Any) -> int | None:
    number = int_of(value)
    return number if number is not None and 0 <= number <= 65535 else None


def protocol_name(value: Any) -> str | None:
    """``tcp``/``udp``/``icmp``… for an IANA number; other numbers as text; names lower-cased."""
    text = text_of(value)
    if text is None:
        return None
    number = int_of(text) if text.strip().isdigit() else None
    if number is None:
        return text.strip().lower() or None
    return PROTOCOLS.get(number, str(number))
