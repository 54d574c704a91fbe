"""aliyun.revoke_security_group_rule: revoke by id, re-authorize on rollback."""

from __future__ import annotations

from tests.respond.fake_aliyun import FakeAliyun
from tests.respond.helpers import assert_permitted, calls
from trailguard.respond.actions.aliyun.revoke_security_group_rule import RevokeSecurityGroupRule
from trailguard.respond.clients.aliyun import AliyunClient


def test_revoke_matching_rule_then_restore(fake: FakeAliyun, aliyun: AliyunClient):
    fake.add_group("sg-web", "vpc-a", rules=[
        {"Direction": "ingress", "Policy": "accept", "Priority": 1, "IpProtocol": "TCP",
         "PortRange": "22/22", "SourceCidrIp": "0.0.0.0/0", "Description": "ssh"},
        {"Direction": "ingress", "Policy": "accept", "Priority": 1, "IpProtocol": "TCP",
         "PortRange": "443/443", "SourceCidrIp": "0.0.0.0/0"}])
    ssh_id = fake.groups["sg-web"]["rules"][0]["SecurityGroupRuleId"]
    action = RevokeSecurityGroupRule()
    params = action.parse_params({"security_group_id": "sg-web", "protocol": "tcp",
                                  "port_range": "22/22", "peer": "0.0.0.0/0"})
    plan = action.plan(aliyun, params)
    assert calls(plan) == [("ecs", "RevokeSecurityGroup", {
        "RegionId": "cn-hangzhou", "SecurityGroupId": "sg-web", "SecurityGroupRuleId.1": ssh_id})]
    result = action.execute(aliyun, plan)
    assert [r["PortRange"] for r in fake.groups["sg-web"]["rules"]] == ["443/443"]
    assert action.plan(aliyun, params).empty

    undo = action.rollback_plan(result.state)
    assert calls(undo) == [("ecs", "AuthorizeSecurityGroup", {
        "RegionId": "cn-hangzhou", "SecurityGroupId": "sg-web",
        "Permissions.1.Policy": "accept", "Permissions.1.Priority": "1",
        "Permissions.1.IpProtocol": "TCP", "Permissions.1.PortRange": "22/22",
        "Permissions.1.SourceCidrIp": "0.0.0.0/0", "Permissions.1.Description": "ssh"})]
    action.execute(aliyun, undo)
    assert sorted(r["PortRange"] for r in fake.groups["sg-web"]["rules"]) == ["22/22", "443/443"]
    assert_permitted(action, fake.calls)


def test_by_rule_id(fake: FakeAliyun, aliyun: AliyunClient):
    fake.add_group("sg-web", "vpc-a", rules=[
        {"Direction": "egress", "Policy": "accept", "Priority": 5, "IpProtocol": "ALL",
         "PortRange": "-1/-1", "DestCidrIp": "0.0.0.0/0"}])
    rule_id = fake.groups["sg-web"]["rules"][0]["SecurityGroupRuleId"]
    action = RevokeSecurityGroupRule()
    plan = action.plan(aliyun, action.parse_params({"security_group_id": "sg-web",
                                                    "rule_id": rule_id}))
    assert calls(plan) == [("ecs", "RevokeSecurityGroupEgress", {
        "RegionId": "cn-hangzhou", "SecurityGroupId": "sg-web", "SecurityGroupRuleId.1": rule_id})]
