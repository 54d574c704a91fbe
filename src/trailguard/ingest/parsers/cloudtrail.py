"""AWS CloudTrail: S3 delivery files, ``lookup-events`` output, JSON Lines and JSON arrays."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import IO, Any, ClassVar

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from trailguard.ingest.base import (
    PARSERS,
    ParseContext,
    Record,
    Rejected,
    SourceParser,
    int_of,
    text_of,
)
from trailguard.ingest.columns import BatchFields, Normaliser, integer, per_value
from trailguard.ingest.jsonstream import JsonDoc, iter_json_items, sniff_json_values
from trailguard.ingest.parsers._cloud import ip_or_none
from trailguard.ingest.timeparse import parse_iso

_AWS_SOURCE = re.compile(rb'"eventSource"\s*:\s*"[a-z0-9.-]+\.amazonaws\.com"')
_LOOKUP = re.compile(rb'"CloudTrailEvent"\s*:\s*"')


@PARSERS.register("cloudtrail")
class CloudTrailParser(SourceParser):
    NAME: ClassVar[str] = "cloudtrail"
    TITLE: ClassVar[str] = (
        "AWS CloudTrail: S3 delivery files ({\"Records\": [...]}, .json.gz), `aws cloudtrail "
        "lookup-events` output, JSON Lines, JSON arrays (Stratus Red Team detonation logs)"
    )
    EXAMPLE: ClassVar[str] = (
        '{"Records": [{"eventVersion": "1.08", "eventTime": "2024-03-01T10:00:00Z", '
        '"eventSource": "iam.amazonaws.com", "eventName": "CreateAccessKey", '
        '"awsRegion": "us-east-1", "sourceIPAddress": "203.0.113.7", '
        '"userIdentity": {"type": "IAMUser", "userName": "alice"}, '
        '"eventID": "5d1c…", "recipientAccountId": "123456789012"}]}'
    )

    @classmethod
    def normaliser(cls) -> Normaliser:
        return _NORMALISER

    @classmethod
    def sniff(cls, head: bytes, name: str) -> int:
        values = sniff_json_values(head, limit=1)
        if values:  # the first record decides (a stray CloudTrail line does not make a trail)
            return 90 if _is_cloudtrail(values[0]) else 0
        # A first document larger than the head: an S3 delivery file or lookup-events output.
        start = head.lstrip(b" \t\r\n\xef\xbb\xbf")[:1]
        if start in (b"{", b"[") and (
            _LOOKUP.search(head) or (_AWS_SOURCE.search(head) and b'"eventVersion"' in head)
        ):
            return 80
        return 0

    def parse(self, stream: IO[bytes], ctx: ParseContext) -> Iterator[Record | Rejected]:
        return iter_json_items(stream, self._record, _unwrap)

    def _record(self, position: int, item: Any, raw: str | bytes) -> Record | Rejected:
        if isinstance(item, str):
            try:
                item = orjson.loads(item)
            except orjson.JSONDecodeError as error:
                return Rejected(position, f"CloudTrailEvent is not JSON: {error}", raw)
        if not isinstance(item, dict):
            return Rejected(position, "CloudTrail record is not a JSON object", raw)
        if "eventName" not in item and "eventSource" not in item:
            return Rejected(position, "not a CloudTrail record (no eventName/eventSource)", raw)
        event_id = item.get("eventID")
        return Record(
            position=position,
            data=item,
            raw=raw,
            time=parse_iso(text_of(item.get("eventTime"))),
            # The same event delivered twice (S3 file and lookup-events) has the same id, time
            # and name, so those three are its key: a record repeating them is counted as a
            # duplicate even if other fields differ (AWS never reuses an eventID; test data and
            # forged records can — they are counted, never silently lost).
            key=f"{event_id}|{item.get('eventTime')}|{item.get('eventName')}"
            if isinstance(event_id, str) and event_id else None,
        )


def _is_cloudtrail(value: Any) -> bool:
    """Whether a JSON value is a CloudTrail record or one of the documents that carry them."""
    if isinstance(value, list):
        return bool(value) and _is_cloudtrail(value[0])
    if not isinstance(value, dict):
        return False
    if isinstance(value.get("Records"), list):
        return not value["Records"] or _is_cloudtrail(value["Records"][0])
    if isinstance(value.get("Events"), list):
        return bool(value["Events"]) and _is_cloudtrail(value["Events"][0])
    if isinstance(value.get("CloudTrailEvent"), str):
        return True
    source = value.get("eventSource")
    return isinstance(source, str) and source.endswith(".amazonaws.com") and (
        "eventName" in value or "eventVersion" in value)


def _unwrap(doc: JsonDoc) -> Iterator[tuple[Any, str | bytes]]:
    """The CloudTrail records in one JSON document, with their raw text."""
    value = doc.value
    if isinstance(value, dict) and isinstance(value.get("Records"), list):
        for item in value["Records"]:
            yield item, orjson.dumps(item).decode()
    elif isinstance(value, dict) and isinstance(value.get("Events"), list):
        for item in value["Events"]:
            yield from _lookup_item(item)
    elif isinstance(value, dict) and "CloudTrailEvent" in value:
        yield from _lookup_item(value)
    elif isinstance(value, list):
        for item in value:
            yield item, orjson.dumps(item).decode()
    else:
        yield value, doc.raw


def _lookup_item(item: Any) -> Iterator[tuple[Any, str | bytes]]:
    """One ``lookup-events`` result: the record is a JSON string in ``CloudTrailEvent``."""
    if isinstance(item, dict) and isinstance(item.get("CloudTrailEvent"), str):
        yield item["CloudTrailEvent"], item["CloudTrailEvent"]
    else:
        yield item, orjson.dumps(item).decode()


_AUTHENTICATION = ("AssumeRoleWithSAML", "ConsoleLogin", "GetSigninToken")
_REQUEST_RESOURCES = ("bucketName", "instanceId", "userName", "roleName", "name")


def normalise_batch(fields: BatchFields) -> dict[str, pa.Array]:
    """The normalised view of a batch of CloudTrail records, from their stored fields (nested
    ones by dotted path; see :mod:`trailguard.ingest.columns`): the event name, ``api`` or
    ``authentication``, failure when there is an ``errorCode`` or a failed console login, the
    identity's ARN (else principal id), user name (else the session issuer's, else the ARN's
    last part), type, access key and principal id, the first resource ARN (else the first
    named resource of the request), bytes sent out, account, region and service."""
    name = fields.value("eventName")
    error = fields.value("errorCode")
    failed_login = fields.flag("responseElements.ConsoleLogin", "Failure")
    arn = fields.value("userIdentity.arn")
    principal = fields.value("userIdentity.principalId")
    authentication = pc.fill_null(pc.is_in(name, value_set=pa.array(_AUTHENTICATION)), False)
    failed = pc.or_(pc.is_valid(error), failed_login)
    return {
        "operation": name,
        "category": pc.if_else(authentication, pa.scalar("authentication"), pa.scalar("api")),
        "outcome": pc.if_else(failed, pa.scalar("failure"), pa.scalar("success")),
        "error_code": pc.coalesce(error, pc.if_else(failed_login, pa.scalar("Failure"),
                                                    pa.scalar(None, pa.string()))),
        "actor_principal": pc.coalesce(arn, principal),
        "actor_user": pc.coalesce(
            fields.value("userIdentity.userName"),
            fields.value("userIdentity.sessionContext.sessionIssuer.userName"),
            per_value(arn, _arn_tail, pa.string())),
        "actor_type": fields.value("userIdentity.type"),
        "actor_access_key": fields.value("userIdentity.accessKeyId"),
        "actor_session": principal,
        "user_agent": fields.value("userAgent"),
        "src_ip": per_value(fields.text("sourceIPAddress"), ip_or_none, pa.string()),
        "instance_id": fields.value("requestParameters.instanceId"),
        "resource": pc.coalesce(
            per_value(fields.text("resources"), _first_resource, pa.string()),
            fields.first(*(f"requestParameters.{name}" for name in _REQUEST_RESOURCES))),
        "bytes": integer(fields.text("additionalEventData.bytesTransferredOut")),
        "cloud_account": fields.first("recipientAccountId", "userIdentity.accountId"),
        "cloud_region": fields.value("awsRegion"),
        "cloud_service": fields.value("eventSource"),
    }


def normalise_event(data: Mapping[str, str]) -> dict[str, Any]:
    """The normalised view of one record, from its stored fields: the specification
    :func:`normalise_batch` is tested against, and faster than it for a handful of records."""
    get = data.get
    name, error = text_of(get("eventName")), text_of(get("errorCode"))
    failed_login = get("responseElements.ConsoleLogin") == "Failure"
    arn, principal = text_of(get("userIdentity.arn")), text_of(get("userIdentity.principalId"))
    user = (text_of(get("userIdentity.userName"))
            or text_of(get("userIdentity.sessionContext.sessionIssuer.userName")))
    if user is None and arn is not None:
        user = _arn_tail(arn)
    resources = get("resources")
    resource = None if resources is None else _first_resource(resources)
    if resource is None:
        for key in _REQUEST_RESOURCES:
            resource = text_of(get(f"requestParameters.{key}"))
            if resource is not None:
                break
    return {
        "operation": name,
        "category": "authentication" if name in _AUTHENTICATION else "api",
        "outcome": "failure" if error or failed_login else "success",
        "error_code": error or ("Failure" if failed_login else None),
        "actor_principal": arn or principal,
        "actor_user": user,
        "actor_type": text_of(get("userIdentity.type")),
        "actor_access_key": text_of(get("userIdentity.accessKeyId")),
        "actor_session": principal,
        "user_agent": text_of(get("userAgent")),
        "src_ip": ip_or_none(get("sourceIPAddress")),
        "instance_id": text_of(get("requestParameters.instanceId")),
        "resource": resource,
        "bytes": int_of(get("additionalEventData.bytesTransferredOut")),
        "cloud_account": text_of(get("recipientAccountId"))
        or text_of(get("userIdentity.accountId")),
        "cloud_region": text_of(get("awsRegion")),
        "cloud_service": text_of(get("eventSource")),
    }


def _first_resource(resources: str) -> str | None:
    """The ARN of the first of a record's ``resources`` (stored as JSON text)."""
    try:
        items = orjson.loads(resources)
    except orjson.JSONDecodeError:
        return None
    if isinstance(items, list) and items and isinstance(items[0], dict):
        return text_of(items[0].get("ARN"))
    return None


def _arn_tail(arn: str) -> str | None:
    if "/" not in arn:
        return None
    return text_of(arn.rsplit("/", 1)[-1])


_NORMALISER = Normaliser(normalise_batch, normalise_event)
