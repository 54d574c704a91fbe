"""A small read-only fake of the Alibaba Cloud APIs the collector reads.

RPC calls (ECS, VPC, ActionTrail, RAM, STS) arrive as the Tea SDK sends them: a signed POST with
the action in ``x-acs-action`` and the parameters in the query string. OSS calls arrive as
``oss2`` sends them: signed GETs answered with XML. Every call is recorded as
``(service, action, params)`` so tests can assert that only reads were made.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
import responses

PAGE = 2
"""The fake's own page size (the real APIs cap PageSize/MaxResults the same way)."""


def _page(items: list[Any], params: dict[str, str]) -> tuple[list[Any], int]:
    number = int(params.get("PageNumber", "1"))
    return items[(number - 1) * PAGE: number * PAGE], number


@dataclass
class FakeAliyunRead:
    regions: list[str] = field(default_factory=list)
    groups: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # region -> groups
    rules: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # sg -> permissions
    instances: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    enis: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    vpcs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    prefix_lists: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # with Entries
    trails: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    users: list[dict[str, Any]] = field(default_factory=list)
    keys: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    login_profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    buckets: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> acl/policy
    denied: set[str] = field(default_factory=set)  # actions answered 403
    calls: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    answers: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # RPC 200 bodies

    def name_prefix_list(self) -> None:
        """Add to sg-bp1ops (on the instance's secondary ENIs) an RDP rule naming pl-bp1admins."""
        self.rules["sg-bp1ops"].append({
            "Direction": "ingress", "IpProtocol": "TCP", "PortRange": "3389/3389",
            "SourceCidrIp": "", "SourcePrefixListId": "pl-bp1admins", "Policy": "Accept",
            "Priority": 1, "SecurityGroupRuleId": "sgr-2"})

    @classmethod
    def sample(cls) -> FakeAliyunRead:
        web = {"SecurityGroupId": "sg-bp1web", "SecurityGroupName": "web", "VpcId": "vpc-bp1a",
               "SecurityGroupType": "normal"}
        groups = [web, {**web, "SecurityGroupId": "sg-bp1ops", "SecurityGroupName": "ops"},
                  {**web, "SecurityGroupId": "sg-bp1db", "SecurityGroupName": "db",
                   "SecurityGroupType": "enterprise"}]
        ssh = {"Direction": "ingress", "IpProtocol": "TCP", "PortRange": "22/22",
               "SourceCidrIp": "0.0.0.0/0", "Policy": "Accept", "Priority": 1,
               "SecurityGroupRuleId": "sgr-1"}
        lists = [("pl-bp1admins", "IPv4", ["0.0.0.0/0", "203.0.113.0/24"]),
                 ("pl-bp1office", "IPv4", ["198.51.100.0/24"]),
                 ("pl-bp1v6", "IPv6", ["2001:db8::/32"])]
        return cls(
            regions=["cn-hangzhou", "cn-shanghai"],
            groups={"cn-hangzhou": groups},
            rules={"sg-bp1web": [ssh], "sg-bp1ops": [], "sg-bp1db": []},
            instances={"cn-hangzhou": [{
                "InstanceId": "i-bp1web", "InstanceName": "web-1", "VpcAttributes": {
                    "VpcId": "vpc-bp1a", "VSwitchId": "vsw-bp1a",
                    "PrivateIpAddress": {"IpAddress": ["10.0.0.5"]}},
                "PublicIpAddress": {"IpAddress": ["47.96.1.2"]},
                "SecurityGroupIds": {"SecurityGroupId": ["sg-bp1web"]},
                "NetworkInterfaces": {"NetworkInterface": [{
                    "NetworkInterfaceId": "eni-bp1web0", "Type": "Primary",
                    "PrimaryIpAddress": "10.0.0.5"}]}}]},
            enis={"cn-hangzhou": [{"NetworkInterfaceId": f"eni-bp1{n}", "Type": "Secondary",
                                   "InstanceId": "i-bp1web", "VpcId": "vpc-bp1a",
                                   "SecurityGroupIds": {"SecurityGroupId": ["sg-bp1ops"]}}
                                  for n in range(3)]},
            vpcs={"cn-hangzhou": [{"VpcId": "vpc-bp1a", "CidrBlock": "10.0.0.0/16"}]},
            prefix_lists={"cn-hangzhou": [
                {"PrefixListId": list_id, "PrefixListName": list_id.removeprefix("pl-bp1"),
                 "AddressFamily": family, "MaxEntries": 10, "CreationTime": "2026-01-05T02:00Z",
                 "Entries": [{"Cidr": cidr, "Description": ""} for cidr in cidrs]}
                for list_id, family, cidrs in lists]},
            trails={"cn-hangzhou": [{"Name": "audit-trail", "TrailRegion": "All",
                                     "OssBucketName": "audit-logs", "EventRW": "All",
                                     "Status": "Enable", "HomeRegion": "cn-hangzhou"}]},
            users=[{"UserName": name, "UserId": f"2{n:05d}"} for n, name in
                   enumerate(["alice", "bob", "ci.deploy"])],
            keys={"alice": [{"AccessKeyId": "LTAI5tALICEKEY", "Status": "Active",
                             "CreateDate": "2024-01-02T03:04:05Z"}]},
            login_profiles={"alice": {"UserName": "alice", "MFABindRequired": False,
                                      "PasswordResetRequired": False}},
            buckets={"audit-logs": {"acl": "public-read", "policy": None, "block": False},
                     "web-assets": {"acl": "private", "block": True, "policy": {
                         "Version": "1", "Statement": [{
                             "Effect": "Allow", "Principal": ["*"], "Action": ["oss:GetObject"],
                             "Resource": ["acs:oss:*:*:web-assets/*"]}]}}},
        )

    # ---- wiring ---------------------------------------------------------------------------
    def install(self, rsps: responses.RequestsMock) -> None:
        rsps.add_callback(responses.POST,
                          re.compile(r"https://(ecs|vpc|ram|actiontrail|sts)\.[a-z0-9.-]*/.*"),
                          callback=self._rpc)
        rsps.add_callback(responses.GET, re.compile(r"https://[a-z0-9.-]*oss-[a-z0-9-]+\."
                                                    r"aliyuncs\.com/.*"), callback=self._oss)

    def actions(self) -> list[str]:
        return [action for _, action, _ in self.calls]

    # ---- RPC ------------------------------------------------------------------------------
    def _rpc(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        url = urlsplit(str(request.url))
        service = (url.hostname or "").split(".")[0]
        region = (url.hostname or "").split(".")[1]
        action = request.headers["x-acs-action"]
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        self.calls.append((service, action, params))
        self.headers.append({k: str(v) for k, v in request.headers.items()})
        if action in self.denied:
            return self._error(403, "Forbidden.RAM", "User not authorized to operate")
        handler = getattr(self, f"_{action}", None)
        if handler is None:
            return self._error(400, "InvalidAction.NotFound", action)
        body = handler(params, region if service in ("actiontrail",) else
                       params.get("RegionId", ""))
        if isinstance(body, tuple):
            return self._error(*body)
        body = {"RequestId": str(uuid.uuid4()).upper(), **body}
        self.answers.append((action, body))
        return 200, {"Content-Type": "application/json"}, json.dumps(body)

    @staticmethod
    def _error(status: int, code: str, message: str) -> tuple[int, dict[str, str], str]:
        return status, {"Content-Type": "application/json"}, json.dumps(
            {"RequestId": "E" * 8, "Code": code, "Message": message})

    def _GetCallerIdentity(self, params: dict[str, str], region: str) -> dict[str, Any]:
        return {"AccountId": "1234567890123456", "IdentityType": "RAMUser",
                "Arn": "acs:ram::1234567890123456:user/auditor", "UserId": "2000001"}

    def _DescribeRegions(self, params: dict[str, str], region: str) -> dict[str, Any]:
        return {"Regions": {"Region": [{"RegionId": r, "LocalName": r} for r in self.regions]}}

    def _DescribeSecurityGroups(self, params: dict[str, str], region: str) -> dict[str, Any]:
        groups = self.groups.get(region, [])
        batch, number = _page(groups, params)
        return {"SecurityGroups": {"SecurityGroup": batch}, "TotalCount": len(groups),
                "PageNumber": number, "PageSize": PAGE, "RegionId": region}

    def _DescribeSecurityGroupAttribute(self, params: dict[str, str], region: str
                                        ) -> dict[str, Any]:
        group = params["SecurityGroupId"]
        return {"SecurityGroupId": group, "RegionId": region, "VpcId": "vpc-bp1a",
                "InnerAccessPolicy": "Accept",
                "Permissions": {"Permission": self.rules.get(group, [])}}

    def _DescribeInstances(self, params: dict[str, str], region: str) -> dict[str, Any]:
        found = self.instances.get(region, [])
        batch, number = _page(found, params)
        return {"Instances": {"Instance": batch}, "TotalCount": len(found),
                "PageNumber": number, "PageSize": PAGE}

    def _DescribeNetworkInterfaces(self, params: dict[str, str], region: str
                                   ) -> dict[str, Any]:
        found = self.enis.get(region, [])
        start = int(params.get("NextToken") or 0)
        rest = found[start + PAGE:]
        return {"NetworkInterfaceSets": {"NetworkInterfaceSet": found[start:start + PAGE]},
                "NextToken": str(start + PAGE) if rest else ""}

    def _DescribePrefixLists(self, params: dict[str, str], region: str) -> dict[str, Any]:
        found = [{k: v for k, v in pl.items() if k != "Entries"}
                 for pl in self.prefix_lists.get(region, [])]  # the list omits the entries
        start = int(params.get("NextToken") or 0)
        rest = found[start + PAGE:]
        return {"PrefixLists": {"PrefixList": found[start:start + PAGE]},
                "NextToken": str(start + PAGE) if rest else ""}

    def _DescribePrefixListAttributes(self, params: dict[str, str], region: str
                                      ) -> dict[str, Any] | tuple[int, str, str]:
        found = next((pl for pl in self.prefix_lists.get(region, [])
                      if pl["PrefixListId"] == params["PrefixListId"]), None)
        if found is None:
            return 404, "InvalidPrefixListId.NotFound", "The specified prefix list was not found."
        return {**{k: v for k, v in found.items() if k != "Entries"},
                "Entries": {"Entry": found["Entries"]}}

    def _DescribeVpcs(self, params: dict[str, str], region: str) -> dict[str, Any]:
        found = self.vpcs.get(region, [])
        return {"Vpcs": {"Vpc": found}, "TotalCount": len(found), "PageNumber": 1}

    def _DescribeVSwitches(self, params: dict[str, str], region: str) -> dict[str, Any]:
        return {"VSwitches": {"VSwitch": []}, "TotalCount": 0, "PageNumber": 1}

    def _DescribeFlowLogs(self, params: dict[str, str], region: str) -> dict[str, Any]:
        return {"FlowLogs": {"FlowLog": []}, "TotalCount": "0", "PageNumber": "1",
                "Success": "true"}

    def _DescribeTrails(self, params: dict[str, str], region: str) -> dict[str, Any]:
        return {"TrailList": self.trails.get(region, [])}

    def _GetTrailStatus(self, params: dict[str, str], region: str) -> dict[str, Any]:
        return {"IsLogging": False, "LatestDeliveryTime": "2026-03-01T10:00:00Z",
                "StopLoggingTime": "2026-03-01T10:05:00Z", "OssBucketStatus": True}

    def _ListUsers(self, params: dict[str, str], region: str) -> dict[str, Any]:
        start = int(params.get("Marker") or 0)
        rest = self.users[start + PAGE:]
        return {"Users": {"User": self.users[start:start + PAGE]}, "IsTruncated": bool(rest),
                **({"Marker": str(start + PAGE)} if rest else {})}

    def _ListAccessKeys(self, params: dict[str, str], region: str) -> dict[str, Any]:
        return {"AccessKeys": {"AccessKey": self.keys.get(params["UserName"], [])}}

    def _GetLoginProfile(self, params: dict[str, str], region: str
                         ) -> dict[str, Any] | tuple[int, str, str]:
        profile = self.login_profiles.get(params["UserName"])
        if profile is None:
            return 404, "EntityNotExist.User.LoginProfile", "The login policy not exists."
        return {"LoginProfile": profile}

    def _ListPoliciesForUser(self, params: dict[str, str], region: str) -> dict[str, Any]:
        admin = [{"PolicyName": "AdministratorAccess", "PolicyType": "System"}]
        return {"Policies": {"Policy": admin if params["UserName"] == "alice" else []}}

    def _GetAccountSummary(self, params: dict[str, str], region: str) -> dict[str, Any]:
        return {"SummaryMap": {"Users": len(self.users), "AccessKeysPerUserQuota": 2}}

    def _GetSecurityPreference(self, params: dict[str, str], region: str) -> dict[str, Any]:
        return {"SecurityPreference": {"LoginProfilePreference": {
            "EnforceMFAForLogin": False}}}

    def _GetPasswordPolicy(self, params: dict[str, str], region: str) -> dict[str, Any]:
        return {"PasswordPolicy": {"MinimumPasswordLength": 8}}

    # ---- OSS ------------------------------------------------------------------------------
    def _oss(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        url = urlsplit(str(request.url))
        host = url.hostname or ""
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        bucket = host.split(".oss-")[0] if ".oss-" in host else None
        sub = next((k for k in ("acl", "policy", "publicAccessBlock") if k in query), "")
        action = {"": "ListBuckets", "acl": "GetBucketAcl", "policy": "GetBucketPolicy",
                  "publicAccessBlock": "GetBucketPublicAccessBlock" if bucket
                  else "GetPublicAccessBlock"}[sub]
        self.calls.append(("oss", action, {"bucket": bucket or "", **query}))
        self.headers.append({k: str(v) for k, v in request.headers.items()})
        xml = {"Content-Type": "application/xml", "x-oss-request-id": "5C1B138A109F4E405B2D"}
        if action in self.denied:
            return 403, xml, _oss_error("AccessDenied", "You have no right to access this.")
        if action == "ListBuckets":
            items = "".join(
                f"<Bucket><Name>{name}</Name><Location>oss-cn-hangzhou</Location>"
                "<CreationDate>2024-01-02T03:04:05.000Z</CreationDate>"
                "<ExtranetEndpoint>oss-cn-hangzhou.aliyuncs.com</ExtranetEndpoint>"
                "<IntranetEndpoint>oss-cn-hangzhou-internal.aliyuncs.com</IntranetEndpoint>"
                "<Region>cn-hangzhou</Region><StorageClass>Standard</StorageClass></Bucket>"
                for name in self.buckets)
            return 200, xml, ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListAllMyBucketsResult>"
                              "<Owner><ID>1234567890123456</ID><DisplayName>1234567890123456"
                              f"</DisplayName></Owner><Buckets>{items}</Buckets>"
                              "</ListAllMyBucketsResult>")
        if action == "GetPublicAccessBlock":
            return 200, xml, ("<PublicAccessBlockConfiguration><BlockPublicAccess>false"
                              "</BlockPublicAccess></PublicAccessBlockConfiguration>")
        state = self.buckets[str(bucket)]
        if action == "GetBucketAcl":
            return 200, xml, ("<AccessControlPolicy><Owner><ID>1</ID><DisplayName>1"
                              "</DisplayName></Owner><AccessControlList><Grant>"
                              f"{state['acl']}</Grant></AccessControlList></AccessControlPolicy>")
        if action == "GetBucketPolicy":
            if state["policy"] is None:
                return 404, xml, _oss_error("NoSuchBucketPolicy", "The bucket policy does "
                                            "not exist.")
            return 200, {"Content-Type": "application/json"}, json.dumps(state["policy"])
        block = "true" if state["block"] else "false"
        return 200, xml, ("<PublicAccessBlockConfiguration><BlockPublicAccess>"
                          f"{block}</BlockPublicAccess></PublicAccessBlockConfiguration>")


def _oss_error(code: str, message: str) -> str:
    return (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code>"
            f"<Message>{message}</Message><RequestId>5C1B138A109F4E405B2D</RequestId>"
            "<HostId>oss-cn-hangzhou.aliyuncs.com</HostId></Error>")
