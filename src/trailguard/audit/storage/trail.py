"""Bucket access changes over time, from the trail in the case.

Events read (``events`` rows of ActionTrail or CloudTrail, their raw record for the request
parameters): ``PutBucketAcl`` (ActionTrail ``x-oss-acl``/``aclType``/``acl``; CloudTrail
``x-amz-acl`` or an ``AccessControlPolicy`` granting ``AllUsers``/``AuthenticatedUsers``),
``PutBucketPolicy`` (a statement open to ``*``), and the removal or weakening of a public
access block (``DeletePublicAccessBlock``, ``DeleteBucketPublicAccessBlock``,
``PutPublicAccessBlock``/``PutBucketPublicAccessBlock`` with a flag off). Each change that
opens a bucket is reported with who, when and from where, the access before it (the previous
change in the evidence) and the change that closed it again, if any.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from trailguard.audit.logging._json import find, strings, truthy
from trailguard.audit.storage.buckets import PUBLIC_ACLS, PUBLIC_GRANTEES, public_statements

if TYPE_CHECKING:
    import duckdb

OPERATIONS = ("PutBucketAcl", "PutBucketPolicy", "DeleteBucketPolicy", "DeletePublicAccessBlock",
              "DeleteBucketPublicAccessBlock", "PutPublicAccessBlock",
              "PutBucketPublicAccessBlock")
TRAILS = ("actiontrail", "cloudtrail")


def request_parameters(raw: str | None) -> Mapping[str, Any]:
    """The request parameters of a raw ActionTrail/CloudTrail record (plain or SLS form)."""
    try:
        record = json.loads(raw or "{}")
    except ValueError:
        return {}
    if not isinstance(record, Mapping):
        return {}
    for key in ("requestParameters", "event.requestParameters"):
        value = record.get(key)
        if isinstance(value, Mapping):
            return value
    if isinstance(record.get("event"), Mapping):
        value = record["event"].get("requestParameters")
        if isinstance(value, Mapping):
            return value
    text = record.get("event.requestParameterJson") or record.get("requestParameterJson")
    if isinstance(text, str):
        try:
            parsed = json.loads(text)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, Mapping) else {}
    return {}


def classify(operation: str, parameters: Mapping[str, Any]) -> tuple[str, bool | None]:
    """What a change set the bucket to, and whether that is public (None: not decidable)."""
    if operation == "PutBucketAcl":
        acl = find(parameters, "x-oss-acl", "x-amz-acl", "aclType", "acl")
        values = [v.strip().lower() for v in strings(acl)]
        granted = [u for u in strings(find(parameters, "AccessControlPolicy"))
                   if any(u.endswith(g) for g in PUBLIC_GRANTEES)]
        if granted:
            return "grants " + ", ".join(sorted({g.rsplit("/", 1)[-1] for g in granted})), True
        if values:
            return values[0], values[0] in PUBLIC_ACLS
        return "acl (unparsed)", None
    if operation == "PutBucketPolicy":
        policy = find(parameters, "bucketPolicy", "policy", "Policy")
        if policy is None:
            policy = parameters
        public = public_statements(policy if isinstance(policy, Mapping | str) else {})
        if isinstance(policy, str | Mapping):
            public = public or public_statements({"Policy": policy})
        return ("policy open to *" if public else "policy"), bool(public)
    if operation == "DeleteBucketPolicy":
        return "policy deleted", False
    if operation.startswith("Delete"):
        return "public access block removed", True
    flags = {k: truthy(v) for k, v in _flat(parameters).items()
             if k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy",
                      "RestrictPublicBuckets", "BlockPublicAccess")}
    off = sorted(k for k, v in flags.items() if v is False)
    if off:
        return "public access block weakened: " + ", ".join(off) + " off", True
    return "public access block set", False


def _flat(value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(value, Mapping):
        for key, inner in value.items():
            if isinstance(inner, Mapping):
                out.update(_flat(inner))
            else:
                out[str(key)] = inner
    return out


def _iso(value: dt.datetime) -> str:
    return value.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def bucket_changes(connection: duckdb.DuckDBPyConnection, source: str) -> list[dict[str, Any]]:
    """Every bucket access change of one trail source, in time order, classified."""
    table = f"ev_{source}"
    tables = {r[0] for r in connection.execute(
        "SELECT table_name FROM information_schema.tables").fetchall()}
    if table not in tables:
        return []
    rows = connection.execute(
        f'SELECT e.operation, e.resource, e.time, e.actor_user, e.actor_access_key, e.src_ip, '
        f'e.user_agent, e.outcome, e.uid, n._raw FROM events e JOIN "{table}" n '
        f"ON n._uid = e.uid WHERE e.source_type = ? AND e.operation IN ("
        + ", ".join("?" for _ in OPERATIONS) + ") ORDER BY e.time",
        [source, *OPERATIONS]).fetchall()
    changes = []
    for operation, resource, time, user, key, ip, agent, outcome, uid, raw in rows:
        parameters = request_parameters(raw)
        bucket = resource or find(parameters, "BucketName", "bucketName", "bucket")
        state, public = classify(str(operation), parameters)
        changes.append({"bucket": str(bucket or "-"), "operation": operation,
                        "time": _iso(time), "actor": user, "access_key": key,
                        "source_ip": ip, "user_agent": agent, "outcome": outcome,
                        "event": uid, "set_to": state, "public": public})
    return changes


def openings(changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The successful changes that made a bucket public, each with the access before and the
    change that closed it again."""
    found = []
    for change in changes:
        if change["public"] is not True or change["outcome"] == "failure":
            continue
        same = [c for c in changes if c["bucket"] == change["bucket"]
                and c["outcome"] != "failure"]
        position = same.index(change)
        before = same[position - 1]["set_to"] if position else "unknown (before the evidence)"
        closed = next((c for c in same[position + 1:] if c["public"] is False
                       and c["operation"] in (change["operation"], "DeleteBucketPolicy")),
                      None)
        found.append({**change, "before": before,
                      "closed_by": None if closed is None else {
                          k: closed[k] for k in ("operation", "time", "actor", "source_ip",
                                                 "set_to", "event")}})
    return found
