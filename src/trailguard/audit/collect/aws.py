"""AWS collection through boto3, saved as the export layout under the API action names
(``describe_security_groups`` -> ``DescribeSecurityGroups.json``), ``ResponseMetadata`` dropped,
datetimes as ISO 8601.

Per region: EC2 DescribeSecurityGroups, DescribeInstances, DescribeNetworkInterfaces,
DescribeNetworkAcls, DescribeVpcs, DescribeSubnets, DescribeFlowLogs, DescribeManagedPrefixLists
and GetManagedPrefixListEntries (``-<pl-id>``, for every list, AWS-managed ones included: the
entries security-group rules naming the list match); CloudTrail DescribeTrails
(trails whose home is that region: ``includeShadowTrails=False``), GetTrailStatus and
GetEventSelectors (``-<trail name>``). In ``global``: EC2 DescribeRegions, STS
GetCallerIdentity, IAM ListUsers, ListAccessKeys / GetLoginProfile / ListMFADevices /
ListAttachedUserPolicies (``-<user>``), GetAccessKeyLastUsed (``-<key id>``), GetAccountSummary,
GetCredentialReport (generated first; the CSV is saved as text in ``Content``); S3 ListBuckets,
GetBucketAcl / GetBucketPolicy / GetBucketPolicyStatus / GetPublicAccessBlock (``-<bucket>``).

"Not configured" answers (NoSuchEntity for a login profile, NoSuchBucketPolicy,
NoSuchPublicAccessBlockConfiguration) are saved as ``{"<Key>": null, "Code": …}``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from trailguard.audit.collect.base import (
    GLOBAL,
    MAX_PAGES,
    CollectError,
    CollectResult,
    Recorder,
)
from trailguard.respond.clients.aws import THROTTLING_CODES, AwsClient
from trailguard.respond.errors import ThrottledError
from trailguard.respond.model import ApiCall

log = logging.getLogger(__name__)

DEFAULT_REGION = "us-east-1"
ClientFactory = Callable[[str], AwsClient]

MISSING_IS_DATA: dict[str, tuple[str, tuple[str, ...]]] = {
    "GetLoginProfile": ("LoginProfile", ("NoSuchEntity",)),
    "GetBucketPolicy": ("Policy", ("NoSuchBucketPolicy",)),
    "GetBucketPolicyStatus": ("PolicyStatus", ("NoSuchBucketPolicy",)),
    "GetPublicAccessBlock": ("PublicAccessBlockConfiguration",
                             ("NoSuchPublicAccessBlockConfiguration",)),
}

EC2_LISTS = ("describe_security_groups", "describe_instances", "describe_network_interfaces",
             "describe_network_acls", "describe_vpcs", "describe_subnets", "describe_flow_logs")


class AwsCollector:
    """One collection run: a client per region, every call recorded or its error noted."""

    def __init__(self, recorder: Recorder, client_factory: ClientFactory,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.rec = recorder
        self._factory = client_factory
        self._clients: dict[str, AwsClient] = {}
        self._sleep = sleep

    def client(self, region: str) -> AwsClient:
        if region not in self._clients:
            self._clients[region] = self._factory(region)
        return self._clients[region]

    def read(self, client_region: str, region: str, service: str, method: str,
             resource: str | None = None, **kwargs: Any) -> dict[str, Any] | None:
        """One call (throttling retried by the client's policy); None on failure."""
        aws = self.client(client_region)
        sdk = aws.sdk_client(service)
        action = sdk.meta.method_to_api_mapping[method]

        def attempt(number: int) -> dict[str, Any]:
            try:
                return dict(getattr(sdk, method)(**kwargs))
            except ClientError as exc:
                code = str(exc.response.get("Error", {}).get("Code", ""))
                if code in THROTTLING_CODES:
                    raise ThrottledError(code, call=ApiCall(service, action, {}), code=code,
                                         attempts=number) from None
                raise

        try:
            return aws.retry.run(attempt)
        except NoCredentialsError as exc:
            raise CollectError(f"no usable AWS credentials ({exc})") from None
        except ThrottledError as exc:
            self.rec.error(region, service, action, resource, exc.code, "throttled")
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            missing = MISSING_IS_DATA.get(action)
            if missing and code in missing[1]:
                return {missing[0]: None, "Code": code}
            log.info("aws %s:%s in %s failed: %s", service, action, region, code)
            self.rec.error(region, service, action, resource, code or "Error",
                           str(error.get("Message", "")))
        except BotoCoreError as exc:
            self.rec.error(region, service, action, resource, type(exc).__name__, str(exc))
        return None

    def save(self, client_region: str, region: str, service: str, method: str,
             resource: str | None = None, **kwargs: Any) -> dict[str, Any] | None:
        body = self.read(client_region, region, service, method, resource, **kwargs)
        if body is not None:
            action = self.client(client_region).sdk_client(service).meta.method_to_api_mapping[
                method]
            self.rec.save(region, action, body, resource)
        return body

    def paged(self, client_region: str, region: str, service: str, method: str, key: str,
              *, resource: str | None = None, cursor_in: str = "NextToken",
              cursor_out: str = "NextToken", truncated: str | None = None, **kwargs: Any
              ) -> list[Any]:
        """Follow the pagination token; every page saved; the items under ``key``."""
        sdk = self.client(client_region).sdk_client(service)
        action = sdk.meta.method_to_api_mapping[method]
        found: list[Any] = []
        token: Any = None
        for page in range(1, MAX_PAGES + 1):
            extra = {cursor_in: token} if token else {}
            body = self.read(client_region, region, service, method, resource,
                             **kwargs, **extra)
            if body is None:
                break
            self.rec.save(region, action, body, resource, page)
            found += list(body.get(key) or [])
            token = body.get(cursor_out)
            if not token or (truncated is not None and not body.get(truncated)):
                break
        return found

    # ---- services -------------------------------------------------------------------------
    def regions(self, home: str) -> list[str]:
        body = self.save(home, GLOBAL, "ec2", "describe_regions")
        if body is None:
            raise CollectError("EC2 DescribeRegions failed: give the regions with --region")
        return [str(r["RegionName"]) for r in body.get("Regions", []) if r.get("RegionName")]

    def ec2(self, region: str) -> None:
        for method in EC2_LISTS:
            key = self.client(region).sdk_client("ec2").meta.method_to_api_mapping[
                method].removeprefix("Describe")
            self.paged(region, region, "ec2", method,
                       "Reservations" if method == "describe_instances" else key)
        self.prefix_lists(region)

    def prefix_lists(self, region: str) -> None:
        lists = self.paged(region, region, "ec2", "describe_managed_prefix_lists", "PrefixLists")
        for prefix_list in lists:
            list_id = str(prefix_list.get("PrefixListId") or "")
            if list_id:
                self.paged(region, region, "ec2", "get_managed_prefix_list_entries", "Entries",
                           resource=list_id, PrefixListId=list_id)

    def cloudtrail(self, region: str) -> None:
        body = self.save(region, region, "cloudtrail", "describe_trails",
                         includeShadowTrails=False)
        for trail in (body or {}).get("trailList", []):
            name = str(trail.get("Name") or "")
            if name:
                self.save(region, region, "cloudtrail", "get_trail_status", name, Name=name)
                self.save(region, region, "cloudtrail", "get_event_selectors", name,
                          TrailName=name)

    def iam(self, home: str) -> None:
        iam: dict[str, Any] = {"cursor_in": "Marker", "cursor_out": "Marker",
                               "truncated": "IsTruncated"}
        users = self.paged(home, GLOBAL, "iam", "list_users", "Users", **iam)
        for user in users:
            name = str(user.get("UserName") or "")
            keys = self.paged(home, GLOBAL, "iam", "list_access_keys", "AccessKeyMetadata",
                              resource=name, UserName=name, **iam)
            for key in keys:
                key_id = str(key.get("AccessKeyId") or "")
                self.save(home, GLOBAL, "iam", "get_access_key_last_used", key_id,
                          AccessKeyId=key_id)
            self.save(home, GLOBAL, "iam", "get_login_profile", name, UserName=name)
            self.paged(home, GLOBAL, "iam", "list_mfa_devices", "MFADevices", resource=name,
                       UserName=name, **iam)
            self.paged(home, GLOBAL, "iam", "list_attached_user_policies", "AttachedPolicies",
                       resource=name, UserName=name, **iam)
        self.save(home, GLOBAL, "iam", "get_account_summary")
        self.credential_report(home)

    def credential_report(self, home: str, tries: int = 10) -> None:
        for _ in range(tries):
            state = self.read(home, GLOBAL, "iam", "generate_credential_report")
            if state is None:
                return
            if state.get("State") == "COMPLETE":
                break
            self._sleep(2.0)
        self.save(home, GLOBAL, "iam", "get_credential_report")

    def s3(self, home: str, account: str = "") -> None:
        if account:  # the account-wide public-access block (S3 Control)
            self.save(home, GLOBAL, "s3control", "get_public_access_block", AccountId=account)
        body = self.save(home, GLOBAL, "s3", "list_buckets")
        for bucket in (body or {}).get("Buckets", []):
            name = str(bucket.get("Name") or "")
            for method in ("get_bucket_acl", "get_bucket_policy", "get_bucket_policy_status",
                           "get_public_access_block"):
                self.save(home, GLOBAL, "s3", method, name, Bucket=name)


def default_client_factory(region: str) -> AwsClient:
    return AwsClient(region)


def collect_aws(out_folder: Path, regions: Iterable[str] | None = None, *,
                client_factory: ClientFactory | None = None, home_region: str | None = None,
                taken_at: str | None = None, sleep: Callable[[float], None] = time.sleep
                ) -> CollectResult:
    """Collect an AWS account's configuration into ``out_folder``.

    ``regions`` defaults to every region EC2 DescribeRegions lists (the account's enabled
    regions); ``home_region`` (default: the session's region, else us-east-1) is where the
    global services and the region list are asked.
    """
    factory = client_factory or default_client_factory
    recorder = Recorder(out_folder, "aws", taken_at)
    run = AwsCollector(recorder, factory, sleep)
    home = home_region or boto3.session.Session().region_name or DEFAULT_REGION
    identity = run.save(home, GLOBAL, "sts", "get_caller_identity")
    account = str((identity or {}).get("Account") or "")
    if account:
        recorder.set_account(account)
    chosen = list(regions) if regions else run.regions(home)
    for region in chosen:
        run.ec2(region)
        run.cloudtrail(region)
    run.iam(home)
    run.s3(home, account)
    return recorder.close(chosen)
