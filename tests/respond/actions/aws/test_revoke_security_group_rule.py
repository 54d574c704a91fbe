"""aws.revoke_security_group_rule on moto: revoke by id, re-authorize on rollback."""

from __future__ import annotations

from tests.respond.aws_env import build
from tests.respond.helpers import assert_permitted
from trailguard.respond.actions.aws.revoke_security_group_rule import RevokeSecurityGroupRule
from trailguard.respond.clients.aws import AwsClient


def ingress(aws: AwsClient, group: str) -> list[tuple[int, str]]:
    sg = aws.sdk_client("ec2").describe_security_groups(GroupIds=[group])["SecurityGroups"][0]
    return sorted((p["FromPort"], r["CidrIp"]) for p in sg["IpPermissions"]
                  for r in p["IpRanges"])


def test_revoke_open_ssh_then_restore(aws: AwsClient):
    estate = build(aws)
    ec2 = aws.sdk_client("ec2")
    ec2.authorize_security_group_ingress(GroupId=estate.web_group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
         "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "ssh from anywhere"}]},
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
         "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    action = RevokeSecurityGroupRule()
    params = action.parse_params({"group_id": estate.web_group, "protocol": "tcp", "port": 22,
                                  "peer": "0.0.0.0/0"})
    plan = action.plan(aws, params)
    assert [c.action for c in plan.calls] == ["RevokeSecurityGroupIngress"]
    (rule_id,) = plan.calls[0].parameters["SecurityGroupRuleIds"]
    assert rule_id.startswith("sgr-")
    result = action.execute(aws, plan)
    assert ingress(aws, estate.web_group) == [(443, "0.0.0.0/0")]
    assert action.plan(aws, params).empty
    undo = action.rollback_plan(result.state)
    assert undo.calls[0].parameters == {"GroupId": estate.web_group, "IpPermissions": [
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
         "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "ssh from anywhere"}]}]}
    action.execute(aws, undo)
    assert ingress(aws, estate.web_group) == [(22, "0.0.0.0/0"), (443, "0.0.0.0/0")]
    assert_permitted(action, [*plan.reads, *plan.calls, *undo.calls])
