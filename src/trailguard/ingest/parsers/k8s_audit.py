"""Kubernetes API-server audit events (``audit.k8s.io/v1`` ``Event``).

The API server's log backend writes one JSON ``Event`` per line (``--audit-log-path``); the
webhook backend and ``kubectl``-style dumps send an ``EventList`` document whose ``items`` are
the events. Managed clusters export the same objects: EKS control-plane logs (CloudWatch
``kube-apiserver-audit``), AKS ``kube-audit`` and GKE's audit pipeline before conversion.
Reference: https://kubernetes.io/docs/reference/config-api/apiserver-audit.v1/ (``Event``)
and https://kubernetes.io/docs/tasks/debug/debug-cluster/audit/.

Fields are stored with their native nested names, which is also how Sigma's
``rules/application/kubernetes`` rules and Panther's EKS rules address them: ``verb``,
``user.username``, ``user.groups``, ``objectRef.resource`` / ``.namespace`` / ``.name`` /
``.subresource`` / ``.apiGroup``, ``sourceIPs``, ``userAgent``, ``requestURI``,
``responseStatus.code``, ``requestObject…``, ``annotations`` (``authorization.k8s.io/decision``
…). A few Sigma rules use non-native short names (``apiGroup``, ``hostPath``,
``capabilities``); those belong in the rule engine's field mapping, not in the stored event.

One request produces up to four events, one per ``stage`` (``RequestReceived``,
``ResponseStarted``, ``ResponseComplete``, ``Panic``) sharing one ``auditID``, so the natural
key is ``auditID`` plus ``stage``.

Not handled here: GCP Cloud Audit Logs (``protoPayload`` …) and Azure Monitor wrappers
(``properties.log`` holding the event as a string) are other formats.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO, Any, ClassVar, TypeGuard

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
from trailguard.ingest.jsonstream import iter_json, sniff_json_values
from trailguard.ingest.parsers._cloud import ip_or_none
from trailguard.ingest.timeparse import parse_iso

AUDIT_API_PREFIX = "audit.k8s.io/"
#: Fields of an audit Event; an object without ``apiVersion`` needs ``kind: Event`` and one.
EVENT_FIELDS = ("auditID", "verb", "stage", "requestURI", "objectRef", "user", "sourceIPs")
#: HTTP status from which a response counts as a failure.
FAILURE_STATUS = 400

_AUDIT_API = re.compile(rb'"apiVersion"\s*:\s*"audit\.k8s\.io/v1(?:beta1|alpha1)?"')
_AUDIT_SHAPE = re.compile(rb'"auditID"\s*:\s*"[^"]+".{0,2000}?"stage"\s*:', re.DOTALL)


def is_audit_event(value: Any) -> TypeGuard[dict[str, Any]]:
    """True for a Kubernetes audit ``Event`` (and not, e.g., a core ``v1`` cluster Event)."""
    if not isinstance(value, dict):
        return False
    api = value.get("apiVersion")
    if isinstance(api, str):
        return api.startswith(AUDIT_API_PREFIX)
    if value.get("kind") == "Event":
        return any(name in value for name in EVENT_FIELDS)
    return "auditID" in value and ("verb" in value or "stage" in value)


def _is_event_list(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and value.get("kind") == "EventList"
        and isinstance(value.get("items"), list)
    )


@PARSERS.register("k8s_audit")
class KubernetesAuditParser(SourceParser):
    NAME: ClassVar[str] = "k8s_audit"
    TITLE: ClassVar[str] = (
        "Kubernetes API-server audit log: audit.k8s.io/v1 Event objects as JSON Lines, an "
        "EventList document or a JSON array (self-managed clusters, EKS/AKS exports)"
    )
    EXAMPLE: ClassVar[str] = (
        '{"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", '
        '"auditID": "8a4f…", "stage": "ResponseComplete", '
        '"requestURI": "/api/v1/namespaces/default/pods/web-0/exec?command=sh", '
        '"verb": "create", "user": {"username": "alice", "groups": ["system:authenticated"]}, '
        '"sourceIPs": ["203.0.113.7"], "userAgent": "kubectl/v1.29.1", '
        '"objectRef": {"resource": "pods", "namespace": "default", "name": "web-0", '
        '"subresource": "exec"}, "responseStatus": {"code": 101}, '
        '"stageTimestamp": "2024-03-01T10:00:00.123456Z"}'
    )

    @classmethod
    def sniff(cls, head: bytes, name: str) -> int:
        values = sniff_json_values(head)
        for value in values:
            if _is_event_list(value) or (
                isinstance(value, dict) and str(value.get("apiVersion", "")).startswith(
                    AUDIT_API_PREFIX)
            ):
                return 95
        if any(is_audit_event(value) for value in values):
            return 80
        # A first document larger than the head: look at its text (JSON text only: rule
        # files and notes that quote an audit event are not audit logs).
        if head.lstrip(b" \t\r\n\xef\xbb\xbf")[:1] not in (b"{", b"["):
            return 0
        if _AUDIT_API.search(head):
            return 85
        if _AUDIT_SHAPE.search(head) and b'"verb"' in head:
            return 60
        return 0

    def parse(self, stream: IO[bytes], ctx: ParseContext) -> Iterator[Record | Rejected]:
        number = 0
        for doc in iter_json(stream):
            if isinstance(doc, Rejected):
                yield doc
                continue
            if _is_event_list(doc.value):
                for item in doc.value["items"]:
                    number += 1
                    yield _record(number, item, orjson.dumps(item).decode())
                continue
            number += 1
            yield _record(doc.position, doc.value, doc.raw)


def _record(position: int, item: Any, raw: str | bytes) -> Record | Rejected:
    if not is_audit_event(item):
        return Rejected(position, "not a Kubernetes audit event (audit.k8s.io Event)", raw)
    audit_id = text_of(item.get("auditID"))
    stage = text_of(item.get("stage")) or ""
    time = parse_iso(text_of(item.get("stageTimestamp"))) or parse_iso(
        text_of(item.get("requestReceivedTimestamp"))
    )
    return Record(
        position=position,
        data=item,
        raw=raw,
        time=time,
        normal=normalise(item),
        key=f"k8s:{audit_id}:{stage}" if audit_id else None,
    )


def normalise(item: dict[str, Any]) -> dict[str, Any]:
    """The normalised view of one audit event."""
    code = int_of(dig(item, "responseStatus", "code"))
    decision = text_of(dig(item, "annotations", "authorization.k8s.io/decision"))
    if code is not None:
        outcome = "failure" if code >= FAILURE_STATUS else "success"
    elif decision == "forbid":
        outcome = "failure"
    else:
        outcome = "unknown"
    source_ips = item.get("sourceIPs")
    first_ip = source_ips[0] if isinstance(source_ips, list) and source_ips else None
    user = item.get("user")
    if not isinstance(user, dict):
        user = {}
    normal = {
        "operation": operation_of(item),
        "category": "api",
        "outcome": outcome,
        "error_code": str(code) if code is not None and code >= FAILURE_STATUS else None,
        "actor_user": text_of(user.get("username")),
        "actor_principal": text_of(user.get("uid")) or _first(dig(user, "extra", "arn")),
        "actor_access_key": _first(dig(user, "extra", "accessKeyId")),
        "user_agent": text_of(item.get("userAgent")),
        "src_ip": ip_or_none(first_ip),
        "resource": resource_of(item),
        "url": text_of(item.get("requestURI")),
        "cloud_service": "kubernetes",
        "message": text_of(dig(item, "responseStatus", "message")),
    }
    return {key: value for key, value in normal.items() if value is not None}


def operation_of(item: dict[str, Any]) -> str | None:
    """``verb resource[/subresource]`` (``create pods/exec``), or ``verb /path`` without one."""
    verb = text_of(item.get("verb"))
    resource = text_of(dig(item, "objectRef", "resource"))
    subresource = text_of(dig(item, "objectRef", "subresource"))
    if resource and subresource:
        resource = f"{resource}/{subresource}"
    if not resource:
        uri = text_of(item.get("requestURI"))
        resource = uri.split("?", 1)[0] if uri else None
    parts = [part for part in (verb, resource) if part]
    return " ".join(parts) or None


def resource_of(item: dict[str, Any]) -> str | None:
    """``namespace/name`` of the object acted on (either part alone when the other is absent)."""
    namespace = text_of(dig(item, "objectRef", "namespace"))
    name = text_of(dig(item, "objectRef", "name"))
    if namespace and name:
        return f"{namespace}/{name}"
    return name or namespace


def _first(value: Any) -> str | None:
    """First element of a list value (``user.extra`` values are lists of strings)."""
    if isinstance(value, list):
        return text_of(value[0]) if value else None
    return text_of(value)
