"""aws.block_address on moto: NACL deny entries at the lowest free numbers."""

from __future__ import annotations

from tests.respond.aws_env import build
from tests.respond.helpers import assert_permitted, calls
from trailguard.respond.actions.aws.block_address import BlockAddress
from trailguard.respond.clients.aws import AwsClient


def test_block_idempotent_rollback(aws: AwsClient):
    estate = build(aws)
    ec2 = aws.sdk_client("ec2")
    acl = ec2.create_network_acl(VpcId=estate.vpc)["NetworkAcl"]["NetworkAclId"]
    ec2.create_network_acl_entry(NetworkAclId=acl, RuleNumber=1, Protocol="6",
                                 RuleAction="allow", Egress=False, CidrBlock="10.0.0.0/8",
                                 PortRange={"From": 22, "To": 22})
    action = BlockAddress()
    params = action.parse_params({"address": "198.51.100.23", "network_acl_ids": [acl]})
    plan = action.plan(aws, params)
    assert calls(plan) == [
        ("ec2", "CreateNetworkAclEntry", {"NetworkAclId": acl, "RuleNumber": 2, "Protocol": "-1",
                                          "RuleAction": "deny", "Egress": False,
                                          "CidrBlock": "198.51.100.23/32"}),
        ("ec2", "CreateNetworkAclEntry", {"NetworkAclId": acl, "RuleNumber": 1, "Protocol": "-1",
                                          "RuleAction": "deny", "Egress": True,
                                          "CidrBlock": "198.51.100.23/32"}),
    ]
    result = action.execute(aws, plan)
    entries = ec2.describe_network_acls(NetworkAclIds=[acl])["NetworkAcls"][0]["Entries"]
    assert {(e["RuleNumber"], e["Egress"]) for e in entries
            if e.get("CidrBlock") == "198.51.100.23/32"} == {(2, False), (1, True)}
    assert action.plan(aws, params).empty
    undo = action.rollback_plan(result.state)
    assert [c.action for c in undo.calls] == ["DeleteNetworkAclEntry"] * 2
    action.execute(aws, undo)
    entries = ec2.describe_network_acls(NetworkAclIds=[acl])["NetworkAcls"][0]["Entries"]
    assert not any(e.get("CidrBlock") == "198.51.100.23/32" for e in entries)
    assert_permitted(action, [*plan.reads, *plan.calls, *undo.calls])


def test_all_acls_of_a_vpc(aws: AwsClient):
    estate = build(aws)
    action = BlockAddress()
    plan = action.plan(aws, action.parse_params({"address": "198.51.100.0/24",
                                                 "vpc_id": estate.vpc, "direction": "ingress"}))
    assert plan.reads[0].parameters == {"Filters": [{"Name": "vpc-id", "Values": [estate.vpc]}]}
    assert [c.parameters["Egress"] for c in plan.calls] == [False]
