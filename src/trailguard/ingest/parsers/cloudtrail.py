"""AWS CloudTrail: S3 delivery files, ``lookup-events`` output, JSON Lines and JSON arrays."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO, Any, ClassVar

import orjson

from trailguard.ingest.base import (
    PARSERS,
    ParseContext,
    Record,
    Rejected,
    SourceParser,
    dig,
    int_of,
    text_of,
)
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
            normal=normalise(item),
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


_AUTHENTICATION = frozenset({"ConsoleLogin", "GetSigninToken", "AssumeRoleWithSAML"})


def normalise(item: dict[str, Any]) -> dict[str, Any]:
    """The normalised view of a CloudTrail record (written for speed: it runs per event)."""
    identity = item.get("userIdentity")
    if not isinstance(identity, dict):
        identity = {}
    params = item.get("requestParameters")
    if not isinstance(params, dict):
        params = {}
    name = _text(item.get("eventName"))
    error = _text(item.get("errorCode"))
    response = item.get("responseElements")
    login = response.get("ConsoleLogin") if isinstance(response, dict) else None
    arn = _text(identity.get("arn"))
    principal = _text(identity.get("principalId"))
    user = _text(identity.get("userName"))
    if user is None:
        user = _text(dig(identity, "sessionContext", "sessionIssuer", "userName")) \
            or _arn_tail(arn)
    resource = None
    resources = item.get("resources")
    if isinstance(resources, list) and resources and isinstance(resources[0], dict):
        resource = _text(resources[0].get("ARN"))
    if resource is None and params:
        resource = _text(params.get("bucketName") or params.get("instanceId")
                         or params.get("userName") or params.get("roleName")
                         or params.get("name"))
    extra = item.get("additionalEventData")
    return {
        "operation": name,
        "category": "authentication" if name in _AUTHENTICATION else "api",
        "outcome": "failure" if error or login == "Failure" else "success",
        "error_code": error or ("Failure" if login == "Failure" else None),
        "actor_principal": arn or principal,
        "actor_user": user,
        "actor_type": _text(identity.get("type")),
        "actor_access_key": _text(identity.get("accessKeyId")),
        "actor_session": principal,
        "user_agent": _text(item.get("userAgent")),
        "src_ip": ip_or_none(item.get("sourceIPAddress")),
        "instance_id": _text(params.get("instanceId")) if params else None,
        "resource": resource,
        "bytes": int_of(extra.get("bytesTransferredOut")) if isinstance(extra, dict) else None,
        "cloud_account": _text(item.get("recipientAccountId"))
        or _text(identity.get("accountId")),
        "cloud_region": _text(item.get("awsRegion")),
        "cloud_service": _text(item.get("eventSource")),
    }


def _text(value: Any) -> str | None:
    """Like ``text_of``, with the common case (a non-empty string) first."""
    if type(value) is str:
        return value if value and value != "-" else None
    return text_of(value)


def _arn_tail(arn: str | None) -> str | None:
    if not arn or "/" not in arn:
        return None
    return arn.rsplit("/", 1)[-1]
