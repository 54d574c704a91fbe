"""Alibaba Cloud collection: read-only RPC calls through the Tea OpenAPI SDK, saved as the export
layout (:mod:`trailguard.audit.export`).

Per region: ECS DescribeSecurityGroups, DescribeSecurityGroupAttribute (``-<sg-id>``),
DescribeInstances, DescribeNetworkInterfaces, DescribePrefixLists, DescribePrefixListAttributes
(``-<pl-id>``: the entries, which security-group rules naming the list match); VPC
DescribeVpcs, DescribeVSwitches, DescribeFlowLogs; ActionTrail DescribeTrails, GetTrailStatus
(``-<trail name>``). In ``global``: ECS DescribeRegions, STS GetCallerIdentity, RAM ListUsers,
ListAccessKeys / GetLoginProfile / ListPoliciesForUser (``-<user>``), GetAccountSummary,
GetSecurityPreference, GetPasswordPolicy, and OSS (see :mod:`trailguard.audit.collect.aliyun_oss`).

A user without a console password answers GetLoginProfile with 404
``EntityNotExist.User.LoginProfile``; that absence is saved as ``{"LoginProfile": null, "Code":
…}`` so a check can tell "no console access" from "not collected".
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import requests
from alibabacloud_credentials.exceptions import CredentialException
from alibabacloud_tea_openapi import models as openapi_models
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException, ThrottlingException
from alibabacloud_tea_util import models as util_models
from Tea.exceptions import UnretryableException

from trailguard.audit.collect.base import (
    GLOBAL,
    MAX_PAGES,
    CollectError,
    CollectResult,
    Recorder,
)
from trailguard.respond.clients.aliyun import (
    API_VERSIONS,
    AliyunClient,
    _transport_error,
    is_throttling,
)
from trailguard.respond.clients.base import CallResponse, ProviderClient
from trailguard.respond.errors import CloudCallError, ThrottledError
from trailguard.respond.model import ApiCall
from trailguard.respond.redact import redact_text

log = logging.getLogger(__name__)

READ_API_VERSIONS: dict[str, str] = {"actiontrail": "2020-07-06", "sts": "2015-04-01"}
"""Services the audit reads beyond those of :data:`API_VERSIONS` (ecs, ram, vpc)."""

DEFAULT_REGION = "cn-hangzhou"
ClientFactory = Callable[[str], ProviderClient]
"""region id -> a client whose ``call(ApiCall)`` answers ecs, vpc, ram, actiontrail and sts."""

MISSING_IS_DATA: dict[str, tuple[str, tuple[str, ...]]] = {
    "GetLoginProfile": ("LoginProfile", ("EntityNotExist.User.LoginProfile",)),
}
"""Action -> (body key, error codes) for "not found" answers that are recorded as a body."""


class AliyunReadClient(AliyunClient):
    """:class:`AliyunClient` that also reads ActionTrail and STS (same signing, same errors)."""

    def _send(self, call: ApiCall, attempt: int) -> CallResponse:
        if call.service in API_VERSIONS:
            return super()._send(call, attempt)
        version = READ_API_VERSIONS.get(call.service)
        if version is None:
            raise CloudCallError(f"unknown Alibaba service {call.service!r}", call=call,
                                 code="UnknownService")
        params = openapi_models.Params(
            action=call.action, version=version, protocol="HTTPS", pathname="/", method="POST",
            auth_type="AK", style="RPC", req_body_type="formData", body_type="json")
        query = {k: str(v).lower() if isinstance(v, bool) else str(v)
                 for k, v in call.parameters.items() if v is not None}
        try:
            raw = self._client(call.service).call_api(
                params, openapi_models.OpenApiRequest(query=query), util_models.RuntimeOptions())
        except AlibabaCloudException as exc:
            code = str(exc.code or "")
            kind = (ThrottledError if is_throttling(code) or isinstance(exc, ThrottlingException)
                    else CloudCallError)
            raise kind(redact_text(str(exc.message or code)), call=call, code=code,
                       request_id=exc.request_id, status=exc.status_code,
                       attempts=attempt) from None
        except (UnretryableException, requests.RequestException, CredentialException) as exc:
            inner = exc.inner_exception if isinstance(exc, UnretryableException) else exc
            raise _transport_error(call, inner, attempt) from None
        body = raw.get("body") if isinstance(raw, Mapping) else None
        body = dict(body) if isinstance(body, Mapping) else {}
        request_id = body.get("RequestId")
        return CallResponse(body, attempt, str(request_id) if request_id else None)


def items(body: Mapping[str, Any] | None, *path: str) -> list[Any]:
    """The list at ``path`` (``"Instances", "Instance"``); [] when absent."""
    node: Any = body or {}
    for key in path:
        node = node.get(key) if isinstance(node, Mapping) else None
    if node is None:
        return []
    return node if isinstance(node, list) else [node]


class AliyunCollector:
    """One collection run: a client per region, every call recorded or its error noted."""

    def __init__(self, recorder: Recorder, client_factory: ClientFactory) -> None:
        self.rec = recorder
        self._factory = client_factory
        self._clients: dict[str, ProviderClient] = {}

    def client(self, region: str) -> ProviderClient:
        if region not in self._clients:
            self._clients[region] = self._factory(region)
        return self._clients[region]

    # ---- calls ----------------------------------------------------------------------------
    def read(self, client_region: str, region: str, service: str, action: str,
             parameters: Mapping[str, Any], resource: str | None = None
             ) -> Mapping[str, Any] | None:
        """One read; None (and an error in the manifest) when it fails."""
        call = ApiCall(service, action, dict(parameters))
        try:
            return self.client(client_region).call(call).body
        except CloudCallError as exc:
            if exc.code == "CredentialsUnavailable":
                raise CollectError(str(exc)) from None
            missing = MISSING_IS_DATA.get(action)
            if missing and exc.code in missing[1]:
                return {missing[0]: None, "Code": exc.code}
            log.info("aliyun %s:%s in %s failed: %s", service, action, region, exc.code)
            self.rec.error(region, service, action, resource, exc.code or "Error", exc.message)
            return None

    def save(self, client_region: str, region: str, service: str, action: str,
             parameters: Mapping[str, Any], resource: str | None = None
             ) -> Mapping[str, Any] | None:
        body = self.read(client_region, region, service, action, parameters, resource)
        if body is not None:
            self.rec.save(region, action, body, resource)
        return body

    def numbered(self, region: str, service: str, action: str, parameters: Mapping[str, Any],
                 path: tuple[str, ...], page_size: int) -> list[Any]:
        """PageNumber/PageSize pagination; every page saved; the items of all pages."""
        found: list[Any] = []
        for page in range(1, MAX_PAGES + 1):
            body = self.read(region, region, service, action,
                             {**parameters, "PageNumber": page, "PageSize": page_size})
            if body is None:
                break
            self.rec.save(region, action, body, page=page)
            batch = items(body, *path)
            found += batch
            total = body.get("TotalCount")
            if not batch or (len(found) >= total if isinstance(total, int)
                             else len(batch) < page_size):
                break
        return found

    def tokened(self, client_region: str, region: str, service: str, action: str,
                parameters: Mapping[str, Any], path: tuple[str, ...], *,
                resource: str | None = None, cursor: str = "NextToken",
                truncated: str | None = None) -> list[Any]:
        """NextToken (or RAM's Marker/IsTruncated) pagination; every page saved."""
        found: list[Any] = []
        next_token: Any = None
        for page in range(1, MAX_PAGES + 1):
            extra = {cursor: next_token} if next_token else {}
            body = self.read(client_region, region, service, action, {**parameters, **extra},
                             resource)
            if body is None:
                break
            self.rec.save(region, action, body, resource, page)
            found += items(body, *path)
            next_token = body.get(cursor)
            if not next_token or (truncated is not None and not body.get(truncated)):
                break
        return found

    # ---- services -------------------------------------------------------------------------
    def regions(self, home: str) -> list[str]:
        body = self.save(home, GLOBAL, "ecs", "DescribeRegions", {"RegionId": home})
        if body is None:
            raise CollectError("ECS DescribeRegions failed: give the regions with --region")
        return [str(r["RegionId"]) for r in items(body, "Regions", "Region") if r.get("RegionId")]

    def ecs(self, region: str) -> None:
        groups = self.numbered(region, "ecs", "DescribeSecurityGroups", {"RegionId": region},
                               ("SecurityGroups", "SecurityGroup"), 50)
        for group in groups:
            group_id = str(group.get("SecurityGroupId") or "")
            if group_id:
                self.tokened(region, region, "ecs", "DescribeSecurityGroupAttribute",
                             {"RegionId": region, "SecurityGroupId": group_id}, (),
                             resource=group_id)
        self.numbered(region, "ecs", "DescribeInstances", {"RegionId": region},
                      ("Instances", "Instance"), 100)
        self.tokened(region, region, "ecs", "DescribeNetworkInterfaces",
                     {"RegionId": region, "MaxResults": 500},
                     ("NetworkInterfaceSets", "NetworkInterfaceSet"))
        self.prefix_lists(region)

    def prefix_lists(self, region: str) -> None:
        """Every prefix list of the region and its entries (DescribePrefixLists omits them)."""
        lists = self.tokened(region, region, "ecs", "DescribePrefixLists",
                             {"RegionId": region, "MaxResults": 100},
                             ("PrefixLists", "PrefixList"))
        for prefix_list in lists:
            list_id = str(prefix_list.get("PrefixListId") or "")
            if list_id:
                self.save(region, region, "ecs", "DescribePrefixListAttributes",
                          {"RegionId": region, "PrefixListId": list_id}, resource=list_id)

    def vpc(self, region: str) -> None:
        for action, path in (("DescribeVpcs", ("Vpcs", "Vpc")),
                             ("DescribeVSwitches", ("VSwitches", "VSwitch")),
                             ("DescribeFlowLogs", ("FlowLogs", "FlowLog"))):
            self.numbered(region, "vpc", action, {"RegionId": region}, path, 50)

    def actiontrail(self, region: str) -> None:
        body = self.save(region, region, "actiontrail", "DescribeTrails", {})
        for trail in items(body, "TrailList"):
            name = str(trail.get("Name") or "")
            if name:
                self.save(region, region, "actiontrail", "GetTrailStatus", {"Name": name},
                          resource=name)

    def ram(self, home: str) -> None:
        users = self.tokened(home, GLOBAL, "ram", "ListUsers", {"MaxItems": 1000},
                             ("Users", "User"), cursor="Marker", truncated="IsTruncated")
        for user in users:
            name = str(user.get("UserName") or "")
            if not name:
                continue
            for action in ("ListAccessKeys", "GetLoginProfile", "ListPoliciesForUser"):
                self.save(home, GLOBAL, "ram", action, {"UserName": name}, resource=name)
        for action in ("GetAccountSummary", "GetSecurityPreference", "GetPasswordPolicy"):
            self.save(home, GLOBAL, "ram", action, {})


def default_client_factory(region: str) -> ProviderClient:
    return AliyunReadClient(region)


def collect_aliyun(out_folder: Path, regions: Iterable[str] | None = None, *,
                   client_factory: ClientFactory | None = None, oss: bool = True,
                   home_region: str | None = None, taken_at: str | None = None
                   ) -> CollectResult:
    """Collect an Alibaba Cloud account's configuration into ``out_folder``.

    ``regions`` defaults to every region ECS DescribeRegions lists; ``home_region`` (default
    ``ALIBABA_CLOUD_REGION_ID`` or cn-hangzhou) is where global services are asked.
    """
    home = home_region or os.environ.get("ALIBABA_CLOUD_REGION_ID") or DEFAULT_REGION
    recorder = Recorder(out_folder, "aliyun", taken_at)
    run = AliyunCollector(recorder, client_factory or default_client_factory)
    identity = run.save(home, GLOBAL, "sts", "GetCallerIdentity", {})
    if identity is not None:
        recorder.set_account(str(identity.get("AccountId") or ""))
    chosen = list(regions) if regions else run.regions(home)
    for region in chosen:
        run.ecs(region)
        run.vpc(region)
        run.actiontrail(region)
    run.ram(home)
    if oss:
        from trailguard.audit.collect.aliyun_oss import collect_oss

        collect_oss(recorder, home)
    return recorder.close(chosen)
