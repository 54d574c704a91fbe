"""Alibaba Cloud ActionTrail: OSS delivery files, SLS exports (JSON and CSV), LookupEvents output.

ActionTrail records look like CloudTrail's with Alibaba names: ``acsRegion``, ``eventId``,
``sourceIpAddress``, ``userIdentity.type`` = ``root-account | ram-user | assumed-role``
(reference: /work/shared/reference/cloud.md §1; field list
https://www.alibabacloud.com/help/doc-detail/28819.html). Shapes read here:

* **OSS delivery** (``…/AliyunLogs/<EventType>/<Region>/<YYYY>/<MM>/<DD>/Actiontrail_*.gz``,
  decompressed by the pipeline): a JSON array of events, or JSON Lines.
* **LookupEvents** responses: ``{"RequestId": …, "Events": [event, …], "NextToken": …}``.
* **SLS (Simple Log Service) exports**, JSON (lines or array) or CSV with a header row. The
  event is either one JSON string in the field ``event`` or spread over ``event.``-prefixed
  fields (``event.eventName``, ``event.userIdentity.type``, ``event.requestParameterJson`` …;
  https://www.alibabacloud.com/help/en/sls/log-fields-25,
  https://www.alibabacloud.com/help/en/sls/actiontrail). The ``event.`` prefix is removed and
  nested values that SLS keeps as JSON strings are decoded, so the stored names are
  ActionTrail's own (``userIdentity.type``); SLS-only fields (``__topic__``, ``owner_id``,
  ``__time__`` …) keep their names.

Known quirks: ``eventVersion`` is ``1`` or ``"1"``; the MFA flag is
``additionalEventData.isMFAChecked`` (root logon) or ``additionalEventData.mfaChecked`` (RAM
user logon); console-logon ``eventId`` values are not UUIDs (``1.167_1627549154939_****``).
Native fields are stored as found; the normalised view reads either spelling.
"""

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
    first_byte,
    peekable,
    text_of,
)
from trailguard.ingest.jsonstream import JsonDoc, iter_json_items
from trailguard.ingest.parsers._cloud import ip_or_none
from trailguard.ingest.parsers._csv import parse_csv
from trailguard.ingest.timeparse import from_epoch, parse_iso

#: Top-level event fields that hold objects; SLS exports may carry them as JSON strings.
NESTED_FIELDS = frozenset({
    "userIdentity", "requestParameters", "requestParameterJson", "responseElements",
    "additionalEventData", "referencedResources", "serviceEventDetails", "eventAttributes",
    "sessionContext", "attributes",
})
#: Fields at least one of which every ActionTrail event has.
EVENT_FIELDS = ("eventName", "eventId", "eventSource", "eventType")
SIGNIN_EVENTS = frozenset({"ConsoleSignin", "ConsoleSignout"})
SLS_PREFIX = "event."

_ACS_SOURCE = re.compile(rb'"eventSource\\?"\s*:\s*\\?"[A-Za-z0-9.-]+\.aliyuncs\.com')
_SLS_TOPIC = re.compile(rb'"__topic__"\s*:\s*"actiontrail_')
_SLS_FIELD = re.compile(rb'"event\.(?:eventName|eventId|acsRegion|userIdentity\.type)"')
_CSV_HEADER_FIELDS = ("event.eventName", "event.eventId", "event.acsRegion")
_NAME_HINT = re.compile(r"(?:^|[/\\])(?:AliyunLogs[/\\]|Actiontrail_)", re.IGNORECASE)


@PARSERS.register("actiontrail")
class ActionTrailParser(SourceParser):
    NAME: ClassVar[str] = "actiontrail"
    TITLE: ClassVar[str] = (
        "Alibaba Cloud ActionTrail: OSS delivery files (JSON array / JSON Lines, "
        "AliyunLogs/…/Actiontrail_*.gz), LookupEvents responses, SLS exports (JSON or CSV, "
        "event.* fields)"
    )
    EXAMPLE: ClassVar[str] = (
        '[{"eventId": "239EB588-CD24-522E-B0B5-174A1A588BE0", "eventVersion": 1, '
        '"eventType": "ApiCall", "eventName": "StopInstance", '
        '"eventSource": "ecs-cn-hangzhou-share.aliyuncs.com", "acsRegion": "cn-beijing", '
        '"requestParameters": {"InstanceId": "i-2zeip56clb391fpf****"}, '
        '"userIdentity": {"type": "root-account", "accountId": "154735325685****"}, '
        '"sourceIpAddress": "203.0.113.7", "eventTime": "2021-08-04T06:11:36Z"}]'
    )

    @classmethod
    def sniff(cls, head: bytes, name: str) -> int:
        score = _content_score(head)
        if score and _NAME_HINT.search(name):
            score = min(score + 5, 100)
        return score

    def parse(self, stream: IO[bytes], ctx: ParseContext) -> Iterator[Record | Rejected]:
        reader = peekable(stream)
        if first_byte(reader) in (b"{", b"[", b""):
            yield from self._parse_json(reader)
        else:
            yield from parse_csv(reader, self._record)

    def _parse_json(self, stream: IO[bytes]) -> Iterator[Record | Rejected]:
        return iter_json_items(stream, self._record, _unwrap)

    def _record(self, position: int, item: Any, raw: str | bytes) -> Record | Rejected:
        if not isinstance(item, dict):
            return Rejected(position, "ActionTrail event is not a JSON object", raw)
        event = from_sls(item) if is_sls(item) else decode_nested(dict(item))
        if not any(name in event for name in EVENT_FIELDS):
            return Rejected(position, "not an ActionTrail event (no eventName/eventId)", raw)
        event_id = text_of(event.get("eventId"))
        event_time = text_of(event.get("eventTime")) or ""
        event_name = text_of(event.get("eventName")) or ""
        time = parse_iso(event_time) or from_epoch(text_of(event.get("__time__")))
        return Record(
            position=position,
            data=event,
            raw=raw,
            time=time,
            normal=normalise(event),
            key=f"actiontrail:{event_id}:{event_name}:{event_time}" if event_id else None,
        )


def _content_score(head: bytes) -> int:
    """How sure the content makes us; CloudTrail (``amazonaws.com``, ``awsRegion``) scores 0."""
    if _SLS_TOPIC.search(head) or _SLS_FIELD.search(head):
        return 90
    first_line = head.split(b"\n", 1)[0].decode("utf-8", "ignore")
    if any(field in first_line for field in _CSV_HEADER_FIELDS) and "," in first_line:
        return 90
    if b'"awsRegion"' in head:  # CloudTrail's name for the region
        return 0
    has_name = b"eventName" in head
    if b"acsRegion" in head and has_name:
        return 90
    if _ACS_SOURCE.search(head) and has_name:
        return 80
    if b'"eventId"' in head and has_name and b"awsRegion" not in head:
        return 60
    return 0


def _unwrap(doc: JsonDoc) -> Iterator[tuple[Any, str | bytes]]:
    """The events in one JSON document (LookupEvents page, array or single event)."""
    value = doc.value
    if isinstance(value, dict) and isinstance(value.get("Events"), list):
        for item in value["Events"]:
            yield item, orjson.dumps(item).decode()
    elif isinstance(value, list):
        for item in value:
            yield item, orjson.dumps(item).decode()
    else:
        yield value, doc.raw


def is_sls(item: dict[str, Any]) -> bool:
    """Whether a record is in SLS form (whole event in ``event`` or ``event.``-prefixed fields)."""
    if "event" in item and not any(name in item for name in EVENT_FIELDS):
        return True
    return any(isinstance(key, str) and key.startswith(SLS_PREFIX) for key in item)


def from_sls(item: dict[str, Any]) -> dict[str, Any]:
    """An SLS log entry as an ActionTrail event with native names plus the SLS-only fields."""
    event: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    whole = item.get("event")
    if isinstance(whole, str):
        decoded = _json_value(whole)
        if isinstance(decoded, dict):
            event.update(decoded)
        elif "event" in item:
            extra["event"] = whole
    elif isinstance(whole, dict):
        event.update(whole)
    elif "event" in item:
        extra["event"] = whole
    event = decode_nested(event)
    prefixed = sorted(
        ((key[len(SLS_PREFIX):].split("."), value) for key, value in item.items()
         if isinstance(key, str) and key.startswith(SLS_PREFIX)),
        key=lambda entry: len(entry[0]),
    )
    for path, value in prefixed:
        _put(event, path, value)
    for key, value in item.items():
        if key == "event" or (isinstance(key, str) and key.startswith(SLS_PREFIX)):
            continue
        event[key if key not in event else f"sls:{key}"] = value
    return event


def decode_nested(event: dict[str, Any]) -> dict[str, Any]:
    """Decode JSON-string values of the object fields (SLS keeps them as strings)."""
    for name in NESTED_FIELDS & event.keys():
        value = event[name]
        if isinstance(value, str):
            decoded = _json_value(value)
            if isinstance(decoded, dict | list):
                event[name] = value = decoded
        if isinstance(value, dict):
            decode_nested(value)
    return event


def _put(target: dict[str, Any], path: list[str], value: Any) -> None:
    """Set ``target[a][b]…`` for an SLS dotted name; values already there win (typed JSON)."""
    node = target
    for depth, step in enumerate(path[:-1]):
        child = node.get(step)
        if child is None:
            child = node[step] = {}
        if not isinstance(child, dict):
            rest = ".".join(path[depth:])
            node.setdefault(rest, value)
            return
        node = child
    leaf = path[-1]
    if leaf in NESTED_FIELDS and isinstance(value, str):
        decoded = _json_value(value)
        if isinstance(decoded, dict | list):
            value = decode_nested(decoded) if isinstance(decoded, dict) else decoded
    existing = node.get(leaf)
    if existing is None or existing == "":
        node[leaf] = value
    elif isinstance(existing, dict) and isinstance(value, dict):
        for key, inner in value.items():
            existing.setdefault(key, inner)


def _json_value(text: str) -> Any:
    stripped = text.strip()
    if not stripped.startswith(("{", "[")):
        return None
    try:
        return orjson.loads(stripped)
    except orjson.JSONDecodeError:
        return None


def normalise(event: dict[str, Any]) -> dict[str, Any]:
    """The normalised view of one ActionTrail event (native names, either MFA spelling)."""
    found = event.get("userIdentity")
    identity: dict[str, Any] = found if isinstance(found, dict) else {}
    name = text_of(event.get("eventName"))
    event_type = text_of(event.get("eventType"))
    signin = name in SIGNIN_EVENTS or event_type in SIGNIN_EVENTS
    error = text_of(event.get("errorCode"))
    message = text_of(event.get("errorMessage"))
    # Failed console logons may carry only errorMessage (Alibaba's own SLS alert templates
    # test ``errorMessage: * and not errorMessage: success``).
    failed = bool(error) or (signin and bool(message) and str(message).lower() != "success")
    identity_type = text_of(identity.get("type"))
    mfa = mfa_checked(event)
    return {
        "operation": name,
        "category": "authentication" if signin else "api",
        "outcome": "failure" if failed else "success",
        "error_code": error or (message if failed else None),
        "actor_principal": text_of(identity.get("principalId")),
        "actor_user": text_of(identity.get("userName"))
        or text_of(dig(event, "additionalEventData", "loginAccount")),
        "actor_type": identity_type,
        "actor_access_key": text_of(identity.get("accessKeyId")),
        "actor_session": text_of(identity.get("principalId"))
        if identity_type == "assumed-role" else None,
        "user_agent": text_of(event.get("userAgent")),
        "src_ip": ip_or_none(event.get("sourceIpAddress")),
        "instance_id": instance_id(event),
        "resource": resource(event),
        "cloud_account": text_of(identity.get("accountId"))
        or text_of(event.get("recipientAccountId")) or text_of(event.get("owner_id")),
        "cloud_region": text_of(event.get("acsRegion")),
        "cloud_service": text_of(event.get("eventSource")) or text_of(event.get("serviceName")),
        "message": (f"{name}: MFA {'checked' if mfa else 'not checked'}"
                    if signin and mfa is not None else None),
    }


def mfa_checked(event: dict[str, Any]) -> bool | None:
    """The logon's MFA flag under either spelling (``isMFAChecked`` / ``mfaChecked``)."""
    for value in (
        dig(event, "additionalEventData", "isMFAChecked"),
        dig(event, "additionalEventData", "mfaChecked"),
        dig(event, "userIdentity", "sessionContext", "attributes", "mfaAuthenticated"),
    ):
        flag = _flag(value)
        if flag is not None:
            return flag
    return None


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if value is not None else ""
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    return None


def _params(event: dict[str, Any]) -> list[dict[str, Any]]:
    return [value for value in (event.get("requestParameters"),
                                event.get("requestParameterJson")) if isinstance(value, dict)]


def instance_id(event: dict[str, Any]) -> str | None:
    """``requestParameters.InstanceId``, else the first referenced ``ACS::ECS::Instance``."""
    for params in _params(event):
        found = text_of(params.get("InstanceId"))
        if found:
            return found
    instances = dig(event, "referencedResources", "ACS::ECS::Instance")
    if isinstance(instances, list) and instances:
        return text_of(instances[0])
    if isinstance(instances, str):
        return text_of(instances.split(",")[0])
    return None


def resource(event: dict[str, Any]) -> str | None:
    """The main resource: first referenced resource, SLS ``resourceName``, or a request id."""
    referenced = event.get("referencedResources")
    if isinstance(referenced, dict):
        for values in referenced.values():
            if isinstance(values, list) and values:
                found = text_of(values[0])
                if found:
                    return found
            elif isinstance(values, str) and text_of(values):
                return values.split(",")[0]
    name = text_of(event.get("resourceName"))
    if name:
        return name.split(";")[0]
    for params in _params(event):
        for key in ("InstanceId", "SecurityGroupId", "UserName", "RoleName", "BucketName",
                    "DBInstanceId", "PolicyName", "Name"):
            found = text_of(params.get(key))
            if found:
                return found
    return None
