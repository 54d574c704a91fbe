"""Snapshot diffs and the trail events that explain each change."""

from __future__ import annotations

import copy

from tests.audit.network._support import aliyun_snapshot, body
from trailguard.audit.network.diff import attach_events, diff
from trailguard.audit.network.findings import change_findings
from trailguard.audit.network.model import Snapshot, aliyun_group, parse_aws


def _changed_snapshot() -> tuple[Snapshot, Snapshot]:
    old = aliyun_snapshot()
    web = copy.deepcopy(body("aliyun", "DescribeSecurityGroupAttribute-sg-bp1web"))
    permissions = web["Permissions"]["Permission"]
    permissions[:] = [p for p in permissions if p["SecurityGroupRuleId"] != "sgr-web-ssh-block"]
    next(p for p in permissions if p["SecurityGroupRuleId"] == "sgr-web-ssh-open")["Priority"] = 1
    permissions.append({"SecurityGroupRuleId": "sgr-new-rdp", "Direction": "ingress",
                        "IpProtocol": "TCP", "PortRange": "3389/3389",
                        "SourceCidrIp": "0.0.0.0/0", "Policy": "Accept", "Priority": 1})
    groups = dict(old.groups)
    groups["sg-bp1web"] = aliyun_group(web)
    return old, Snapshot(old.provider, groups, old.interfaces, region=old.region)


EVENTS = [
    {"time": "2024-05-01T10:00:00Z", "event_name": "RevokeSecurityGroup",
     "group_id": "sg-bp1web", "request_parameters": {"SecurityGroupId": "sg-bp1web",
                                                     "SecurityGroupRuleId.1": "sgr-web-ssh-block"}},
    {"time": "2024-05-01T10:01:00Z", "event_name": "ModifySecurityGroupRule",
     "group_id": "sg-bp1web", "request_parameters": {"SecurityGroupRuleId": "sgr-web-ssh-open",
                                                     "Priority": "1"}},
    {"time": "2024-05-01T10:02:00Z", "event_name": "AuthorizeSecurityGroup",
     "request_parameters": {"SecurityGroupId": "sg-bp1web", "Permissions.1.IpProtocol": "TCP",
                            "Permissions.1.PortRange": "3389/3389",
                            "Permissions.1.SourceCidrIp": "0.0.0.0/0"}},
    {"time": "2024-05-01T10:03:00Z", "event_name": "AuthorizeSecurityGroup",
     "request_parameters": {"SecurityGroupId": "sg-bp1web", "IpProtocol": "TCP",
                            "PortRange": "8443/8443", "SourceCidrIp": "0.0.0.0/0"}},
    {"time": "2024-05-01T10:04:00Z", "event_name": "AuthorizeSecurityGroup",
     "request_parameters": {"SecurityGroupId": "sg-bp1ops"}},
]


def test_diff_added_removed_changed():
    old, new = _changed_snapshot()
    changes = {(c.kind, c.rule.rule_id) for c in diff(old, new)}
    assert changes == {("removed", "sgr-web-ssh-block"), ("changed", "sgr-web-ssh-open"),
                       ("added", "sgr-new-rdp")}
    changed = next(c for c in diff(old, new) if c.kind == "changed")
    assert changed.changed_fields() == ["priority"]


def test_events_attach_by_rule_id_and_by_permission():
    old, new = _changed_snapshot()
    changes = {c.rule.rule_id: c for c in attach_events(diff(old, new), EVENTS)}
    assert [e["event_name"] for e in changes["sgr-web-ssh-block"].events] == ["RevokeSecurityGroup"]
    assert [e["event_name"] for e in changes["sgr-web-ssh-open"].events] == [
        "ModifySecurityGroupRule"]
    added = changes["sgr-new-rdp"].events
    assert [(e["time"], e["match"]) for e in added] == [("2024-05-01T10:02:00Z", "rule")]


def test_change_findings_flag_new_internet_accept():
    old, new = _changed_snapshot()
    findings = {f.evidence["new"]["rule_id"] if f.evidence["new"] else None: f
                for f in change_findings(old, new, EVENTS)}
    assert findings["sgr-new-rdp"].severity == "medium"
    assert findings["sgr-new-rdp"].evidence["events"][0]["event_name"] == "AuthorizeSecurityGroup"


def test_aws_cloudtrail_request_shape():
    group = {"GroupId": "sg-1", "IpPermissions": []}
    after = {"GroupId": "sg-1", "IpPermissions": [
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}
    changes = diff(parse_aws({"SecurityGroups": [group]}), parse_aws({"SecurityGroups": [after]}))
    event = {"eventTime": "2024-05-01T10:00:00Z", "eventName": "AuthorizeSecurityGroupIngress",
             "requestParameters": {"groupId": "sg-1", "ipPermissions": {"items": [
                 {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22,
                  "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}}}
    other = {**event, "requestParameters": {"groupId": "sg-1", "ipPermissions": {"items": [
        {"ipProtocol": "tcp", "fromPort": 23, "toPort": 23,
         "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}}}
    [change] = attach_events(changes, [other, event])
    assert change.kind == "added" and [e["match"] for e in change.events] == ["rule"]
