"""aliyun.isolate_instance against the fake Alibaba Cloud: exact calls, diff, idempotency,
reuse of the quarantine group, rollback."""

from __future__ import annotations

import json

from tests.respond.fake_aliyun import FakeAliyun
from tests.respond.helpers import assert_permitted, calls
from trailguard.respond.actions.aliyun.isolate_instance import IsolateInstance
from trailguard.respond.clients.aliyun import AliyunClient

REGION = "cn-hangzhou"
PARAMS = {"instance_id": "i-web1", "forensic_cidr": "203.0.113.7", "forensic_port": 22}


def setup_instance(fake: FakeAliyun) -> None:
    fake.add_group("sg-web", "vpc-a")
    fake.add_group("sg-admin", "vpc-a")
    fake.add_instance("i-web1", "vpc-a", ["sg-web", "sg-admin"],
                      secondary={"eni-data": ["sg-web"]})


def test_plan_reads_state_and_lists_the_exact_calls(fake: FakeAliyun, aliyun: AliyunClient):
    setup_instance(fake)
    action = IsolateInstance()
    plan = action.plan(aliyun, action.parse_params(PARAMS))

    assert fake.writes() == []  # planning only reads
    assert [(s, a) for s, a, _ in fake.calls] == [
        ("ecs", "DescribeInstances"), ("ecs", "DescribeNetworkInterfaces"),
        ("ecs", "DescribeSecurityGroups")]
    assert fake.calls[0][2] == {"RegionId": REGION, "InstanceIds": '["i-web1"]'}
    assert fake.calls[2][2] == {"RegionId": REGION, "VpcId": "vpc-a",
                                "SecurityGroupName": "trailguard-quarantine-vpc-a"}
    q = "${quarantine_group}"
    assert calls(plan) == [
        ("ecs", "CreateSecurityGroup", {
            "RegionId": REGION, "VpcId": "vpc-a",
            "SecurityGroupName": "trailguard-quarantine-vpc-a",
            "SecurityGroupType": "enterprise",
            "Description": "TrailGuard quarantine: forensic access only"}),
        ("ecs", "AuthorizeSecurityGroup", {
            "RegionId": REGION, "SecurityGroupId": q,
            "Permissions.1.Policy": "accept", "Permissions.1.Priority": "1",
            "Permissions.1.IpProtocol": "TCP", "Permissions.1.PortRange": "22/22",
            "Permissions.1.SourceCidrIp": "203.0.113.7/32",
            "Permissions.1.Description": "trailguard: forensic access",
            "Permissions.2.Policy": "drop", "Permissions.2.Priority": "100",
            "Permissions.2.IpProtocol": "ALL", "Permissions.2.PortRange": "-1/-1",
            "Permissions.2.SourceCidrIp": "0.0.0.0/0",
            "Permissions.2.Description": "trailguard: quarantine"}),
        ("ecs", "AuthorizeSecurityGroupEgress", {
            "RegionId": REGION, "SecurityGroupId": q,
            "Permissions.1.Policy": "accept", "Permissions.1.Priority": "1",
            "Permissions.1.IpProtocol": "ALL", "Permissions.1.PortRange": "-1/-1",
            "Permissions.1.DestCidrIp": "203.0.113.7/32",
            "Permissions.1.Description": "trailguard: forensic access",
            "Permissions.2.Policy": "drop", "Permissions.2.Priority": "100",
            "Permissions.2.IpProtocol": "ALL", "Permissions.2.PortRange": "-1/-1",
            "Permissions.2.DestCidrIp": "0.0.0.0/0",
            "Permissions.2.Description": "trailguard: quarantine"}),
        ("ecs", "ModifyInstanceAttribute", {"InstanceId": "i-web1", "SecurityGroupIds.1": q}),
        ("ecs", "ModifyNetworkInterfaceAttribute", {
            "RegionId": REGION, "NetworkInterfaceId": "eni-data", "SecurityGroupId.1": q}),
    ]
    diff = plan.diff()
    assert ('~ instance i-web1: security groups: ["sg-web", "sg-admin"] -> '
            '["trailguard-quarantine-vpc-a"]') in diff
    assert '~ network interface eni-data: security groups: ["sg-web"] ->' in diff
    assert "+ security group trailguard-quarantine-vpc-a: created in = vpc-a" in diff
    assert plan.state["original_groups"] == {"instance": ["sg-web", "sg-admin"]}
    assert plan.state["original_eni_groups"] == {"eni-data": ["sg-web"]}
    assert_permitted(action, fake.calls)


def test_execute_swaps_groups_then_a_second_plan_is_empty(fake: FakeAliyun,
                                                          aliyun: AliyunClient):
    setup_instance(fake)
    action = IsolateInstance()
    params = action.parse_params(PARAMS)
    result = action.execute(aliyun, action.plan(aliyun, params))

    group = result.state["quarantine_group"]
    assert group == "sg-fake1"
    assert [(s, a) for s, a, _ in fake.writes()] == [
        ("ecs", "CreateSecurityGroup"), ("ecs", "AuthorizeSecurityGroup"),
        ("ecs", "AuthorizeSecurityGroupEgress"), ("ecs", "ModifyInstanceAttribute"),
        ("ecs", "ModifyNetworkInterfaceAttribute")]
    assert fake.writes()[3][2] == {"InstanceId": "i-web1", "SecurityGroupIds.1": group}
    assert fake.groups_of("eni-i-web1-0") == [group]
    assert fake.groups_of("eni-data") == [group]
    assert fake.groups[group]["type"] == "enterprise"
    assert len(fake.groups[group]["rules"]) == 4
    assert [r.call.action for r in result.records] == [a for _, a, _ in fake.writes()]
    assert result.records[3].call.parameters["SecurityGroupIds.1"] == group  # ref resolved
    assert all(r.request_id for r in result.records)

    before = len(fake.writes())
    again = action.plan(aliyun, params)
    assert again.empty, again.diff()
    assert "nothing to change" in again.diff()
    assert action.execute(aliyun, again).records == ()
    assert len(fake.writes()) == before
    assert_permitted(action, fake.calls)


def test_an_existing_quarantine_group_is_reused_and_repaired(fake: FakeAliyun,
                                                             aliyun: AliyunClient):
    setup_instance(fake)
    fake.add_group("sg-q", "vpc-a", "trailguard-quarantine-vpc-a", rules=[
        {"Direction": "ingress", "Policy": "accept", "Priority": 1, "IpProtocol": "TCP",
         "PortRange": "22/22", "SourceCidrIp": "203.0.113.7/32"},
        {"Direction": "ingress", "Policy": "accept", "Priority": 1, "IpProtocol": "TCP",
         "PortRange": "3389/3389", "SourceCidrIp": "0.0.0.0/0"},
        {"Direction": "egress", "Policy": "drop", "Priority": 100, "IpProtocol": "ALL",
         "PortRange": "-1/-1", "DestCidrIp": "0.0.0.0/0"},
    ])
    rdp_rule = fake.groups["sg-q"]["rules"][1]["SecurityGroupRuleId"]
    action = IsolateInstance()
    plan = action.plan(aliyun, action.parse_params(PARAMS))

    assert ("ecs", "DescribeSecurityGroupAttribute",
            {"RegionId": REGION, "SecurityGroupId": "sg-q", "Direction": "all"}) in fake.calls
    assert calls(plan) == [
        ("ecs", "RevokeSecurityGroup", {"RegionId": REGION, "SecurityGroupId": "sg-q",
                                        "SecurityGroupRuleId.1": rdp_rule}),
        ("ecs", "AuthorizeSecurityGroup", {
            "RegionId": REGION, "SecurityGroupId": "sg-q",
            "Permissions.1.Policy": "drop", "Permissions.1.Priority": "100",
            "Permissions.1.IpProtocol": "ALL", "Permissions.1.PortRange": "-1/-1",
            "Permissions.1.SourceCidrIp": "0.0.0.0/0",
            "Permissions.1.Description": "trailguard: quarantine"}),
        ("ecs", "AuthorizeSecurityGroupEgress", {
            "RegionId": REGION, "SecurityGroupId": "sg-q",
            "Permissions.1.Policy": "accept", "Permissions.1.Priority": "1",
            "Permissions.1.IpProtocol": "ALL", "Permissions.1.PortRange": "-1/-1",
            "Permissions.1.DestCidrIp": "203.0.113.7/32",
            "Permissions.1.Description": "trailguard: forensic access"}),
        ("ecs", "ModifyInstanceAttribute", {"InstanceId": "i-web1", "SecurityGroupIds.1": "sg-q"}),
        ("ecs", "ModifyNetworkInterfaceAttribute", {
            "RegionId": REGION, "NetworkInterfaceId": "eni-data", "SecurityGroupId.1": "sg-q"}),
    ]
    action.execute(aliyun, plan)
    assert action.plan(aliyun, action.parse_params(PARAMS)).empty
    assert not any(c[1] == "CreateSecurityGroup" for c in fake.calls)


def test_rollback_restores_the_original_groups_per_interface(fake: FakeAliyun,
                                                             aliyun: AliyunClient):
    setup_instance(fake)
    action = IsolateInstance()
    result = action.execute(aliyun, action.plan(aliyun, action.parse_params(PARAMS)))
    # the result state survives a JSON round trip (the audit log / case folder)
    state = json.loads(json.dumps(result.to_dict()))["state"]
    undo = action.rollback_plan(state)
    assert undo.rollback
    assert calls(undo) == [
        ("ecs", "ModifyInstanceAttribute", {"InstanceId": "i-web1", "SecurityGroupIds.1": "sg-web",
                                            "SecurityGroupIds.2": "sg-admin"}),
        ("ecs", "ModifyNetworkInterfaceAttribute", {
            "RegionId": REGION, "NetworkInterfaceId": "eni-data", "SecurityGroupId.1": "sg-web"}),
    ]
    undone = action.execute(aliyun, undo)
    assert undone.rollback and undone.changed
    assert fake.groups_of("eni-i-web1-0") == ["sg-web", "sg-admin"]
    assert fake.groups_of("eni-data") == ["sg-web"]
    assert_permitted(action, fake.calls)


def test_classic_network_and_missing_instances_are_plan_errors(fake: FakeAliyun,
                                                               aliyun: AliyunClient):
    import pytest

    from trailguard.respond.errors import PlanError

    action = IsolateInstance()
    with pytest.raises(PlanError, match="i-web1 not found"):
        action.plan(aliyun, action.parse_params(PARAMS))
    fake.add_instance("i-web1", "", ["sg-classic"])
    with pytest.raises(PlanError, match="not in a VPC"):
        action.plan(aliyun, action.parse_params(PARAMS))
