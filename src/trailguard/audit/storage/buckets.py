"""OSS and S3 buckets open to the public, read from the export.

Responses read (global folder or any region), ``<bucket>`` as the resource id:

* Alibaba OSS: ``ListBuckets``, ``GetBucketAcl-<bucket>`` (``Grant`` private | public-read |
  public-read-write), ``GetBucketPolicy-<bucket>``, ``GetBucketPolicyStatus-<bucket>``,
  ``GetPublicAccessBlock`` (account) and ``GetBucketPublicAccessBlock-<bucket>``
  (``BlockPublicAccess``).
* AWS S3: ``ListBuckets``, ``GetBucketAcl-<bucket>`` (``Grants``; grantee URI ``…/AllUsers`` or
  ``…/AuthenticatedUsers``), ``GetBucketPolicy-<bucket>`` (``Policy`` as a JSON string),
  ``GetBucketPolicyStatus-<bucket>`` (``IsPublic``), ``GetPublicAccessBlock`` (account, s3control)
  and ``GetPublicAccessBlock-<bucket>`` (four flags). A saved error
  ``NoSuchPublicAccessBlockConfiguration`` means no block.

A policy statement is public when it allows ``Principal`` ``*`` (or ``{"AWS": "*"}``) without a
condition that narrows *who* may call (:data:`RESTRICTING_CONDITION_KEYS`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from trailguard.audit.export import ExportReader
from trailguard.audit.logging._json import document, find, items, strings, truthy

PUBLIC_ACLS = frozenset({"public-read", "public-read-write", "authenticated-read"})
PUBLIC_GRANTEES = ("/global/AllUsers", "/global/AuthenticatedUsers")
RESTRICTING_CONDITION_KEYS = frozenset({
    "sourceip", "sourcevpc", "sourcevpce", "sourceaccount", "sourcearn", "sourceowner",
    "principalorgid", "principalorgpaths", "principalaccount", "principalarn", "userid",
    "username", "accesspointnetworkorigin",
})
_BLOCK_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy",
                "RestrictPublicBuckets")


def _responses(export: ExportReader, action: str) -> Iterator[tuple[str | None, Any]]:
    for response in export.responses(action):
        yield response.resource, response.body


def bucket_names(export: ExportReader) -> list[str]:
    names = {str(b.get("Name")) for _r, body in _responses(export, "ListBuckets")
             for b in items(body, "Buckets", "Bucket") if b.get("Name")}
    for action in ("GetBucketAcl", "GetBucketPolicy", "GetBucketPolicyStatus",
                   "GetBucketPublicAccessBlock", "GetPublicAccessBlock"):
        names.update(r for r, _body in _responses(export, action) if r)
    return sorted(names)


def _body(export: ExportReader, action: str, resource: str | None) -> Any:
    for found, body in _responses(export, action):
        if found == resource:
            return body
    return None


def acl_exposure(body: Any) -> str | None:
    """``public-read``, ``public-read-write``, ``AllUsers:READ`` … or None when private."""
    if body is None:
        return None
    grants = items(body, "Grants")
    public = [f"{str(g.get('Grantee', {}).get('URI', '')).rsplit('/', 1)[-1]}:"
              f"{g.get('Permission')}" for g in grants
              if isinstance(g.get("Grantee"), Mapping)
              and any(str(g["Grantee"].get("URI", "")).endswith(u) for u in PUBLIC_GRANTEES)]
    if public:
        return ", ".join(sorted(public))
    grant = find(body, "Grant", "ACL", "Acl")
    if isinstance(grant, str) and grant.strip().lower() in PUBLIC_ACLS:
        return grant.strip().lower()
    return None


def _restricted(condition: Any) -> bool:
    if not isinstance(condition, Mapping):
        return False
    for operator in condition.values():
        if isinstance(operator, Mapping):
            for key in operator:
                if str(key).split(":")[-1].lower() in RESTRICTING_CONDITION_KEYS:
                    return True
    return False


def public_statements(policy: Any) -> list[Mapping[str, Any]]:
    """The statements of a bucket policy that allow anyone in."""
    parsed = document(find(policy, "Policy") if find(policy, "Statement") is None else policy)
    if parsed is None:
        return []
    statements = parsed.get("Statement", [])
    if isinstance(statements, Mapping):
        statements = [statements]
    public = []
    for statement in statements if isinstance(statements, list) else []:
        if not isinstance(statement, Mapping):
            continue
        if str(statement.get("Effect", "")).lower() != "allow":
            continue
        principal = statement.get("Principal")
        if "*" not in set(strings(principal)):
            continue
        if _restricted(statement.get("Condition")):
            continue
        public.append(statement)
    return public


def block_state(body: Any) -> dict[str, bool] | None:
    """The public-access-block flags, ``{}`` when none is configured, None when unknown."""
    if body is None:
        return None
    code = find(body, "Code")
    if isinstance(code, str) and "NoSuch" in code:
        return {}
    flags = {flag: truthy(find(body, flag)) for flag in (*_BLOCK_FLAGS, "BlockPublicAccess")}
    return {flag: bool(value) for flag, value in flags.items() if value is not None}


def fully_blocked(state: dict[str, bool] | None) -> bool:
    if not state:
        return False
    if "BlockPublicAccess" in state:
        return state["BlockPublicAccess"]
    return all(state.get(flag, False) for flag in _BLOCK_FLAGS)


@dataclass(frozen=True)
class BucketExposure:
    bucket: str
    acl: str | None
    policy: list[Mapping[str, Any]]
    policy_status_public: bool | None
    account_block: dict[str, bool] | None
    bucket_block: dict[str, bool] | None

    @property
    def blocked(self) -> bool:
        return fully_blocked(self.account_block) or fully_blocked(self.bucket_block)

    def evidence(self) -> dict[str, Any]:
        return {"bucket": self.bucket, "acl": self.acl,
                "public_policy_statements": list(self.policy),
                "policy_status_is_public": self.policy_status_public,
                "account_public_access_block": self.account_block,
                "bucket_public_access_block": self.bucket_block,
                "blocked_by_public_access_block": self.blocked}


def exposures(export: ExportReader) -> list[BucketExposure]:
    account = block_state(_body(export, "GetPublicAccessBlock", None))
    found = []
    for bucket in bucket_names(export):
        bucket_block = block_state(_body(export, "GetBucketPublicAccessBlock", bucket))
        if bucket_block is None:
            bucket_block = block_state(_body(export, "GetPublicAccessBlock", bucket))
        status = _body(export, "GetBucketPolicyStatus", bucket)
        found.append(BucketExposure(
            bucket, acl_exposure(_body(export, "GetBucketAcl", bucket)),
            public_statements(_body(export, "GetBucketPolicy", bucket)),
            truthy(find(status, "IsPublic")) if status is not None else None,
            account, bucket_block))
    return found


def exposure_of(export: ExportReader, bucket: str) -> BucketExposure | None:
    """One bucket's exposure (for the trail-bucket check), None when the export lacks it."""
    for exposure in exposures(export):
        if exposure.bucket == bucket:
            return exposure
    return None
