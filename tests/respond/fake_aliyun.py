"""A small stateful fake of the Alibaba Cloud RPC APIs TrailGuard calls (ECS, RAM).

It sits behind ``responses``: the real Tea SDK signs and POSTs each call through
``requests`` (action in the ``x-acs-action`` header, parameters in the query string) and the
fake answers from its state. Every call is recorded as ``(service, action, params)`` exactly
as it arrived on the wire, so tests assert the precise API calls. Faults (throttling, errors,
timeouts) can be queued per action.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
import responses

READ_PREFIXES = ("Describe", "List", "Get")


@dataclass
class Fault:
    action: str
    times: int
    code: str = ""
    status: int = 400
    timeout: bool = False


@dataclass
class FakeAliyun:
    region: str = "cn-hangzhou"
    calls: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    instances: dict[str, dict[str, Any]] = field(default_factory=dict)
    enis: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    disks: dict[str, dict[str, Any]] = field(default_factory=dict)
    snapshots: dict[str, dict[str, Any]] = field(default_factory=dict)
    keys: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    _seq: int = 0

    # ---- set-up helpers -------------------------------------------------------------------
    def add_group(self, group_id: str, vpc: str, name: str = "", rules: list[dict[str, Any]]
                  | None = None, kind: str = "normal") -> None:
        self.groups[group_id] = {"name": name or group_id, "vpc": vpc, "type": kind,
                                 "rules": []}
        for rule in rules or []:
            self._add_rule(group_id, rule)

    def add_instance(self, instance_id: str, vpc: str, groups: list[str], *,
                     secondary: dict[str, list[str]] | None = None,
                     disks: tuple[str, ...] = (), status: str = "Running") -> None:
        primary = f"eni-{instance_id}-0"
        self.instances[instance_id] = {"vpc": vpc, "status": status, "primary": primary}
        self.enis[primary] = {"instance": instance_id, "type": "Primary", "groups": list(groups)}
        for eni_id, eni_groups in (secondary or {}).items():
            self.enis[eni_id] = {"instance": instance_id, "type": "Secondary",
                                 "groups": list(eni_groups)}
        for n, disk in enumerate(disks):
            self.disks[disk] = {"instance": instance_id, "type": "system" if n == 0 else "data"}

    def add_key(self, user: str, key_id: str, status: str = "Active") -> None:
        self.keys.setdefault(user, []).append({"AccessKeyId": key_id, "Status": status,
                                               "CreateDate": "2026-01-01T00:00:00Z"})

    def fail(self, action: str, code: str = "Throttling.User", *, status: int = 400,
             times: int = 1) -> None:
        self.faults.append(Fault(action, times, code, status))

    def time_out(self, action: str, *, times: int = 1) -> None:
        self.faults.append(Fault(action, times, timeout=True))

    def install(self, rsps: responses.RequestsMock) -> None:
        rsps.add_callback(responses.POST, re.compile(r"https://(ecs|ram|vpc)\.[a-z0-9.-]*/.*"),
                          callback=self._handle)

    def writes(self) -> list[tuple[str, str, dict[str, str]]]:
        return [c for c in self.calls if not c[1].startswith(READ_PREFIXES)]

    def groups_of(self, eni_id: str) -> list[str]:
        return list(self.enis[eni_id]["groups"])

    # ---- dispatch -------------------------------------------------------------------------
    def _handle(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        url = urlsplit(str(request.url))
        service = (url.hostname or "").split(".")[0]
        action = request.headers["x-acs-action"]
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        self.calls.append((service, action, params))
        self.headers.append({k: str(v) for k, v in request.headers.items()})
        for fault in self.faults:
            if fault.action == action and fault.times > 0:
                fault.times -= 1
                if fault.timeout:
                    raise requests.exceptions.ReadTimeout("read timed out (fake)")
                return self._error(fault.status, fault.code, "fault injected by the test")
        handler: Callable[[dict[str, str]], dict[str, Any]] | None = getattr(
            self, f"_{action}", None)
        if handler is None:
            return self._error(400, "InvalidAction.NotFound", f"unknown action {action}")
        try:
            body = handler(params)
        except LookupError as exc:
            return self._error(404, str(exc.args[0]), "not found")
        return 200, {"Content-Type": "application/json"}, json.dumps(
            {"RequestId": str(uuid.uuid4()).upper(), **body})

    @staticmethod
    def _error(status: int, code: str, message: str) -> tuple[int, dict[str, str], str]:
        return status, {"Content-Type": "application/json"}, json.dumps(
            {"RequestId": str(uuid.uuid4()).upper(), "Code": code, "Message": message})

    def _id(self, prefix: str) -> str:
        self._seq += 1
        return f"{prefix}-fake{self._seq}"

    # ---- ECS ------------------------------------------------------------------------------
    def _DescribeInstances(self, p: dict[str, str]) -> dict[str, Any]:
        wanted = json.loads(p.get("InstanceIds", "[]"))
        out = []
        for iid in wanted:
            if iid in self.instances:
                inst = self.instances[iid]
                out.append({"InstanceId": iid, "Status": inst["status"], "RegionId": self.region,
                            "VpcAttributes": {"VpcId": inst["vpc"]},
                            "SecurityGroupIds": {"SecurityGroupId":
                                                 self.groups_of(inst["primary"])}})
        return {"Instances": {"Instance": out}, "TotalCount": len(out)}

    def _DescribeNetworkInterfaces(self, p: dict[str, str]) -> dict[str, Any]:
        sets = [{"NetworkInterfaceId": eni_id, "Type": eni["type"], "InstanceId": eni["instance"],
                 "SecurityGroupIds": {"SecurityGroupId": list(eni["groups"])}}
                for eni_id, eni in self.enis.items() if eni["instance"] == p.get("InstanceId")]
        return {"NetworkInterfaceSets": {"NetworkInterfaceSet": sets}}

    def _DescribeSecurityGroups(self, p: dict[str, str]) -> dict[str, Any]:
        found = [{"SecurityGroupId": gid, "SecurityGroupName": g["name"], "VpcId": g["vpc"],
                  "SecurityGroupType": g["type"]}
                 for gid, g in self.groups.items()
                 if g["vpc"] == p.get("VpcId", g["vpc"])
                 and g["name"] == p.get("SecurityGroupName", g["name"])]
        return {"SecurityGroups": {"SecurityGroup": found}}

    def _DescribeSecurityGroupAttribute(self, p: dict[str, str]) -> dict[str, Any]:
        group = self.groups.get(p["SecurityGroupId"])
        if group is None:
            raise LookupError("InvalidSecurityGroupId.NotFound")
        direction = p.get("Direction", "all")
        rules = [r for r in group["rules"] if direction in ("all", r["Direction"])]
        return {"SecurityGroupId": p["SecurityGroupId"], "VpcId": group["vpc"],
                "Permissions": {"Permission": rules}}

    def _CreateSecurityGroup(self, p: dict[str, str]) -> dict[str, Any]:
        gid = self._id("sg")
        self.add_group(gid, p["VpcId"], p["SecurityGroupName"], kind=p.get("SecurityGroupType",
                                                                               "normal"))
        return {"SecurityGroupId": gid}

    @staticmethod
    def _indexed(p: dict[str, str], prefix: str) -> list[dict[str, str]]:
        found: dict[int, dict[str, str]] = {}
        for key, value in p.items():
            m = re.fullmatch(rf"{prefix}\.(\d+)\.(\w+)", key)
            if m:
                found.setdefault(int(m.group(1)), {})[m.group(2)] = value
        return [found[n] for n in sorted(found)]

    @staticmethod
    def _listed(p: dict[str, str], prefix: str) -> list[str]:
        found = {int(k.rsplit(".", 1)[1]): v for k, v in p.items()
                 if re.fullmatch(rf"{prefix}\.\d+", k)}
        return [found[n] for n in sorted(found)]

    def _rule_key(self, rule: dict[str, Any]) -> tuple[Any, ...]:
        return (rule["Direction"], rule["Policy"].lower(), int(rule["Priority"]),
                rule["IpProtocol"].upper(), rule["PortRange"], rule.get("SourceCidrIp", ""),
                rule.get("DestCidrIp", ""))

    def _add_rule(self, group_id: str, perm: dict[str, Any]) -> None:
        rule = {"Direction": perm.get("Direction", "ingress"),
                "Policy": perm.get("Policy", "accept").capitalize(),
                "Priority": int(perm.get("Priority", 1)),
                "IpProtocol": perm.get("IpProtocol", "ALL").upper(),
                "PortRange": perm.get("PortRange", "-1/-1"),
                "SourceCidrIp": perm.get("SourceCidrIp", ""),
                "DestCidrIp": perm.get("DestCidrIp", ""),
                "Description": perm.get("Description", ""), "NicType": "intranet"}
        rules = self.groups[group_id]["rules"]
        if any(self._rule_key(r) == self._rule_key(rule) for r in rules):
            return  # Alibaba: a duplicate rule succeeds but creates nothing
        rule["SecurityGroupRuleId"] = self._id("sgr")
        rules.append(rule)

    def _authorize(self, p: dict[str, str], direction: str) -> dict[str, Any]:
        if p["SecurityGroupId"] not in self.groups:
            raise LookupError("InvalidSecurityGroupId.NotFound")
        for perm in self._indexed(p, "Permissions"):
            self._add_rule(p["SecurityGroupId"], {**perm, "Direction": direction})
        return {}

    def _revoke(self, p: dict[str, str], direction: str) -> dict[str, Any]:
        group = self.groups[p["SecurityGroupId"]]
        ids = self._listed(p, "SecurityGroupRuleId")
        if ids:
            known = {r["SecurityGroupRuleId"] for r in group["rules"]}
            if not set(ids) <= known:
                raise LookupError("InvalidParam.SecurityGroupRuleId")
            group["rules"] = [r for r in group["rules"] if r["SecurityGroupRuleId"] not in ids]
            return {}
        for perm in self._indexed(p, "Permissions"):
            probe = {"Direction": direction, "Policy": perm.get("Policy", "accept"),
                     "Priority": perm.get("Priority", 1), "IpProtocol": perm["IpProtocol"],
                     "PortRange": perm["PortRange"], "SourceCidrIp": perm.get("SourceCidrIp", ""),
                     "DestCidrIp": perm.get("DestCidrIp", "")}
            group["rules"] = [r for r in group["rules"]
                              if self._rule_key(r) != self._rule_key(probe)]
        return {}

    def _AuthorizeSecurityGroup(self, p: dict[str, str]) -> dict[str, Any]:
        return self._authorize(p, "ingress")

    def _AuthorizeSecurityGroupEgress(self, p: dict[str, str]) -> dict[str, Any]:
        return self._authorize(p, "egress")

    def _RevokeSecurityGroup(self, p: dict[str, str]) -> dict[str, Any]:
        return self._revoke(p, "ingress")

    def _RevokeSecurityGroupEgress(self, p: dict[str, str]) -> dict[str, Any]:
        return self._revoke(p, "egress")

    def _ModifyInstanceAttribute(self, p: dict[str, str]) -> dict[str, Any]:
        inst = self.instances[p["InstanceId"]]
        groups = self._listed(p, "SecurityGroupIds")
        if groups:
            self.enis[inst["primary"]]["groups"] = groups
        return {}

    def _ModifyNetworkInterfaceAttribute(self, p: dict[str, str]) -> dict[str, Any]:
        groups = self._listed(p, "SecurityGroupId")
        if groups:
            self.enis[p["NetworkInterfaceId"]]["groups"] = groups
        return {}

    def _DescribeDisks(self, p: dict[str, str]) -> dict[str, Any]:
        disks = [{"DiskId": d, "Type": disk["type"], "InstanceId": disk["instance"]}
                 for d, disk in self.disks.items() if disk["instance"] == p.get("InstanceId")]
        return {"Disks": {"Disk": disks}}

    def _DescribeSnapshots(self, p: dict[str, str]) -> dict[str, Any]:
        tags = {t["Key"]: t["Value"] for t in self._indexed(p, "Tag")}
        found = [{"SnapshotId": sid, "SourceDiskId": s["disk"], "Status": s["status"],
                  "Tags": {"Tag": [{"TagKey": k, "TagValue": v} for k, v in s["tags"].items()]}}
                 for sid, s in self.snapshots.items()
                 if all(s["tags"].get(k) == v for k, v in tags.items())
                 and (not p.get("InstanceId") or s["instance"] == p["InstanceId"])]
        return {"Snapshots": {"Snapshot": found}}

    def _CreateSnapshot(self, p: dict[str, str]) -> dict[str, Any]:
        for sid, snap in self.snapshots.items():
            if p.get("ClientToken") and snap.get("token") == p["ClientToken"]:
                return {"SnapshotId": sid}
        sid = self._id("s")
        self.snapshots[sid] = {"disk": p["DiskId"], "status": "progressing",
                               "instance": self.disks[p["DiskId"]]["instance"],
                               "tags": {t["Key"]: t["Value"] for t in self._indexed(p, "Tag")},
                               "token": p.get("ClientToken"), "name": p.get("SnapshotName")}
        return {"SnapshotId": sid}

    def _StopInstance(self, p: dict[str, str]) -> dict[str, Any]:
        self.instances[p["InstanceId"]]["status"] = "Stopped"
        return {}

    # ---- RAM ------------------------------------------------------------------------------
    def _ListAccessKeys(self, p: dict[str, str]) -> dict[str, Any]:
        if p.get("UserName") not in self.keys:
            raise LookupError("EntityNotExist.User")
        return {"AccessKeys": {"AccessKey": [dict(k) for k in self.keys[p["UserName"]]]}}

    def _UpdateAccessKey(self, p: dict[str, str]) -> dict[str, Any]:
        for key in self.keys[p["UserName"]]:
            if key["AccessKeyId"] == p["UserAccessKeyId"]:
                key["Status"] = p["Status"]
                return {}
        raise LookupError("EntityNotExist.User.AccessKey")
