"""OSS collection through ``oss2``, Alibaba's OSS SDK (which sends through ``requests``, so the
tests fake it at the HTTP level like the RPC calls).

OSS is not an RPC API: its answers are XML. The SDK parses them; each body is saved as JSON
named after the XML elements of the API reference, all in ``global``:

- ``ListBuckets[.N].json``: ``{"Buckets": {"Bucket": [{"Name", "Location", "Region",
  "CreationDate", "ExtranetEndpoint", "IntranetEndpoint", "StorageClass"}]}, "IsTruncated",
  "NextMarker"}`` (ListAllMyBucketsResult);
- ``GetPublicAccessBlock.json``: the account-wide block ``{"PublicAccessBlockConfiguration":
  {"BlockPublicAccess": bool}}``;
- per bucket ``GetBucketAcl-<bucket>.json`` ``{"AccessControlPolicy": {"AccessControlList":
  {"Grant": "private|public-read|public-read-write"}}}``, ``GetBucketPolicy-<bucket>.json``
  ``{"Policy": {…the policy document…}}`` or ``{"Policy": null, "Code": "NoSuchBucketPolicy"}``,
  ``GetBucketPublicAccessBlock-<bucket>.json`` as above.

``oss2`` 2.19 has no GetBucketPolicyStatus call, so that one is not collected; whether a policy
makes a bucket public is judged from the saved policy document.

Credentials come from the same default chain as the RPC calls (``alibabacloud_credentials``),
adapted to ``oss2``'s credentials-provider interface; signatures are V4.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import oss2
from alibabacloud_credentials.client import Client as CredentialClient
from alibabacloud_credentials.exceptions import CredentialException

from trailguard.audit.collect.base import GLOBAL, MAX_PAGES, CollectError, Recorder

log = logging.getLogger(__name__)

MISSING_IS_DATA = {"GetBucketPolicy": ("Policy", ("NoSuchBucketPolicy",))}


class ChainCredentials(oss2.credentials.CredentialsProvider):  # type: ignore[misc]
    """``oss2`` credentials from the ``alibabacloud_credentials`` default chain."""

    def __init__(self, client: Any = None) -> None:
        self._client = client

    def get_credentials(self) -> Any:
        if self._client is None:
            self._client = CredentialClient()
        credential = self._client.get_credential()
        return oss2.credentials.Credentials(credential.access_key_id,
                                            credential.access_key_secret,
                                            credential.security_token)


def _region_of(bucket: Any, home: str) -> str:
    region = str(getattr(bucket, "region", "") or "")
    if region:
        return region
    location = str(getattr(bucket, "location", "") or "")
    return location.removeprefix("oss-") or home


def _call(recorder: Recorder, action: str, resource: str | None,
          fetch: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
    try:
        return fetch()
    except CredentialException as exc:
        raise CollectError(f"no usable Alibaba Cloud credentials ({exc.message})") from None
    except oss2.exceptions.OssError as exc:
        code = str(exc.code or ("NetworkError" if exc.status < 0 else exc.status))
        missing = MISSING_IS_DATA.get(action)
        if missing and code in missing[1]:
            return {missing[0]: None, "Code": code}
        log.info("oss %s %s failed: %s", action, resource or "", code)
        recorder.error(GLOBAL, "oss", action, resource, code, str(exc.message or code))
        return None


def _bucket_info(bucket: Any) -> dict[str, Any]:
    return {"Name": bucket.name, "Location": bucket.location, "Region": bucket.region,
            "CreationDate": bucket.creation_date, "ExtranetEndpoint": bucket.extranet_endpoint,
            "IntranetEndpoint": bucket.intranet_endpoint, "StorageClass": bucket.storage_class}


def _policy(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _acl_of(bucket: Any) -> Callable[[], dict[str, Any]]:
    return lambda: {"AccessControlPolicy": {"AccessControlList": {
        "Grant": bucket.get_bucket_acl().acl}}}


def _policy_of(bucket: Any) -> Callable[[], dict[str, Any]]:
    return lambda: {"Policy": _policy(bucket.get_bucket_policy().policy)}


def _block_of(bucket: Any) -> Callable[[], dict[str, Any]]:
    return lambda: {"PublicAccessBlockConfiguration": {
        "BlockPublicAccess": bucket.get_bucket_public_access_block().block_public_access}}


def collect_oss(recorder: Recorder, home: str, *, auth: Any = None, session: Any = None) -> None:
    """Save the bucket list, the account's public-access block and each bucket's ACL, policy and
    public-access block."""
    auth = auth or oss2.ProviderAuthV4(ChainCredentials())
    service = oss2.Service(auth, f"https://oss-{home}.aliyuncs.com", session=session,
                           region=home)
    buckets: list[Any] = []
    marker = ""
    for page in range(1, MAX_PAGES + 1):
        def fetch(marker: str = marker) -> dict[str, Any]:
            result = service.list_buckets(marker=marker, max_keys=1000)
            buckets.extend(result.buckets)
            return {"Buckets": {"Bucket": [_bucket_info(b) for b in result.buckets]},
                    "IsTruncated": bool(result.is_truncated),
                    "NextMarker": result.next_marker or ""}

        body = _call(recorder, "ListBuckets", None, fetch)
        if body is None:
            return
        recorder.save(GLOBAL, "ListBuckets", body, page=page)
        marker = str(body["NextMarker"])
        if not body["IsTruncated"] or not marker:
            break
    block = _call(recorder, "GetPublicAccessBlock", None, lambda: {
        "PublicAccessBlockConfiguration": {
            "BlockPublicAccess": service.get_public_access_block().block_public_access}})
    if block is not None:
        recorder.save(GLOBAL, "GetPublicAccessBlock", block)
    for info in buckets:
        region = _region_of(info, home)
        endpoint = f"https://{info.extranet_endpoint or f'oss-{region}.aliyuncs.com'}"
        bucket = oss2.Bucket(auth, endpoint, info.name, session=session, region=region)
        calls: dict[str, Callable[[], dict[str, Any]]] = {
            "GetBucketAcl": _acl_of(bucket), "GetBucketPolicy": _policy_of(bucket),
            "GetBucketPublicAccessBlock": _block_of(bucket)}
        for action, fetch_one in calls.items():
            body = _call(recorder, action, info.name, fetch_one)
            if body is not None:
                recorder.save(GLOBAL, action, body, resource=info.name)
