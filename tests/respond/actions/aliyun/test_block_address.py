"""aliyun.block_address: drop rules at priority 1, both directions, reversible."""

from __future__ import annotations

from tests.respond.fake_aliyun import FakeAliyun
from tests.respond.helpers import assert_permitted, calls
from trailguard.respond.actions.aliyun.block_address import BlockAddress
from trailguard.respond.clients.aliyun import AliyunClient

DROP_IN = {"Permissions.1.Policy": "drop", "Permissions.1.Priority": "1",
           "Permissions.1.IpProtocol": "ALL", "Permissions.1.PortRange": "-1/-1",
           "Permissions.1.SourceCidrIp": "198.51.100.23/32",
           "Permissions.1.Description": "trailguard: blocked address"}


def test_block_on_two_groups_then_idempotent_then_rollback(fake: FakeAliyun,
                                                           aliyun: AliyunClient):
    fake.add_group("sg-web", "vpc-a", rules=[
        {"Direction": "ingress", "Policy": "accept", "Priority": 1, "IpProtocol": "TCP",
         "PortRange": "443/443", "SourceCidrIp": "0.0.0.0/0"}])
    fake.add_group("sg-api", "vpc-a")
    action = BlockAddress()
    params = action.parse_params({"address": "198.51.100.23",
                                  "security_group_ids": ["sg-web", "sg-api"]})
    plan = action.plan(aliyun, params)
    egress = {k.replace("SourceCidrIp", "DestCidrIp"): v for k, v in DROP_IN.items()}
    region = {"RegionId": "cn-hangzhou"}
    assert calls(plan) == [
        ("ecs", "AuthorizeSecurityGroup", {**region, "SecurityGroupId": "sg-web", **DROP_IN}),
        ("ecs", "AuthorizeSecurityGroupEgress", {**region, "SecurityGroupId": "sg-web", **egress}),
        ("ecs", "AuthorizeSecurityGroup", {**region, "SecurityGroupId": "sg-api", **DROP_IN}),
        ("ecs", "AuthorizeSecurityGroupEgress", {**region, "SecurityGroupId": "sg-api", **egress}),
    ]
    assert ("+ security group sg-web: rule = ingress drop ALL -1/-1 from 198.51.100.23/32 "
            "(priority 1)") in plan.diff()
    result = action.execute(aliyun, plan)
    assert len(fake.groups["sg-web"]["rules"]) == 3
    assert action.plan(aliyun, params).empty

    undo = action.rollback_plan(result.state)
    assert calls(undo)[0] == ("ecs", "RevokeSecurityGroup", {
        **region, "SecurityGroupId": "sg-web",
        **{k: v for k, v in DROP_IN.items() if not k.endswith("Description")}})
    action.execute(aliyun, undo)
    assert len(fake.groups["sg-web"]["rules"]) == 1  # the accept rule stays
    assert fake.groups["sg-api"]["rules"] == []
    assert_permitted(action, fake.calls)
