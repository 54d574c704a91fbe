"""Isolate an EC2 instance behind a quarantine security group.

The group ``<group_prefix>-<vpc>`` is created once per VPC and reused. AWS groups are
allow-only, so "nothing else" means: no other rules, and the default allow-all egress rules
of a new group revoked. The group replaces all groups of the instance: with
``ModifyInstanceAttribute(Groups=…)`` when it has one network interface, else with
``ModifyNetworkInterfaceAttribute(Groups=…)`` per interface (AWS refuses the instance call
for several interfaces). Rollback restores the groups remembered per interface.

Tracked connections can outlive a group change; stop the instance to cut them at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from trailguard.respond.actions._params import IsolateInstanceParams
from trailguard.respond.actions.aws._ec2 import (
    AUTHORIZE,
    REVOKE,
    AwsRule,
    cidr_kind,
    describe_instance,
    flatten,
    rule_calls,
)
from trailguard.respond.actions.base import Action, Provider, register_action
from trailguard.respond.clients.aws import AwsClient
from trailguard.respond.errors import PlanError
from trailguard.respond.model import Plan, ref


def quarantine_rules(params: IsolateInstanceParams) -> list[AwsRule]:
    kind = cidr_kind(params.forensic_cidr)
    return [AwsRule("ingress", "tcp", params.forensic_port, params.forensic_port, kind,
                    params.forensic_cidr, "trailguard: forensic access"),
            AwsRule("egress", "-1", None, None, kind, params.forensic_cidr,
                    "trailguard: forensic access")]


def _groups(resource: Mapping[str, Any]) -> list[str]:
    return [str(g["GroupId"]) for g in resource.get("Groups") or resource.get(
        "SecurityGroups") or []]


@register_action
class IsolateInstance(Action[IsolateInstanceParams, AwsClient]):
    """Swap every security group of an EC2 instance for a quarantine group."""

    name: ClassVar[str] = "isolate_instance"
    provider: ClassVar[Provider] = "aws"
    Params = IsolateInstanceParams
    READ_PERMISSIONS = ("ec2:DescribeInstances", "ec2:DescribeSecurityGroups",
                        "ec2:DescribeVpcs", "ec2:DescribeNetworkInterfaces")
    WRITE_PERMISSIONS = ("ec2:CreateSecurityGroup", "ec2:CreateTags",
                         "ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress",
                         "ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress",
                         "ec2:ModifyInstanceAttribute", "ec2:ModifyNetworkInterfaceAttribute")
    REVERSIBLE = True

    def plan(self, client: AwsClient, params: IsolateInstanceParams) -> Plan:
        b = self.builder(params)
        instance = describe_instance(b, client, params.instance_id)
        vpc = str(instance.get("VpcId") or "")
        if not vpc:
            raise PlanError(f"{params.instance_id} is not in a VPC")
        name = f"{params.group_prefix}-{vpc}"
        found = b.read(client, "ec2", "DescribeSecurityGroups", {"Filters": [
            {"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": [name]}]})
        groups = [g for g in found.get("SecurityGroups", []) if g.get("GroupName") == name]
        wanted = quarantine_rules(params)
        if groups:
            group = str(groups[0]["GroupId"])
            current = (flatten(groups[0].get("IpPermissions", []), "ingress")
                       + flatten(groups[0].get("IpPermissionsEgress", []), "egress"))
        else:
            group = ref("quarantine_group")
            b.call("ec2", "CreateSecurityGroup", {
                "GroupName": name, "VpcId": vpc,
                "Description": "TrailGuard quarantine: forensic access only",
                "TagSpecifications": [{"ResourceType": "security-group", "Tags": [
                    {"Key": "trailguard-quarantine", "Value": "true"}]}]},
                outputs={"quarantine_group": "GroupId"})
            b.change(f"security group {name}", "created in", None, vpc)
            current = [AwsRule("egress", "-1", None, None, "cidr", "0.0.0.0/0")]
            vpcs = b.read(client, "ec2", "DescribeVpcs", {"VpcIds": [vpc]}).get("Vpcs", [])
            if any(v.get("Ipv6CidrBlockAssociationSet") for v in vpcs):
                current.append(AwsRule("egress", "-1", None, None, "cidr6", "::/0"))
        missing = [w for w in wanted if not any(w.same(c) for c in current)]
        extra = [c for c in current if not any(c.same(w) for w in wanted)]
        rule_calls(b, REVOKE, group, extra, with_description=False)
        rule_calls(b, AUTHORIZE, group, missing)
        for rule in extra:
            b.change(f"quarantine group {name}", "rule", rule.render(), None)
        for rule in missing:
            b.change(f"quarantine group {name}", "rule", None, rule.render())

        enis = sorted(b.read(client, "ec2", "DescribeNetworkInterfaces", {"Filters": [
            {"Name": "attachment.instance-id", "Values": [params.instance_id]}]}).get(
                "NetworkInterfaces", []),
            key=lambda e: (e.get("Attachment") or {}).get("DeviceIndex", 0))
        single = len(enis) <= 1
        original: dict[str, list[str]] = {}
        if single:
            before = _groups(instance)
            if before != [group]:
                b.call("ec2", "ModifyInstanceAttribute",
                       {"InstanceId": params.instance_id, "Groups": [group]})
                b.change(f"instance {params.instance_id}", "security groups", before, [name])
                original[params.instance_id] = before
        else:
            for eni in enis:
                eni_id, before = str(eni["NetworkInterfaceId"]), _groups(eni)
                if before != [group]:
                    b.call("ec2", "ModifyNetworkInterfaceAttribute",
                           {"NetworkInterfaceId": eni_id, "Groups": [group]})
                    b.change(f"network interface {eni_id}", "security groups", before, [name])
                    original[eni_id] = before
        b.state.update({"instance_id": params.instance_id, "vpc_id": vpc,
                        "quarantine_group": group, "single_interface": single,
                        "original_groups": original})
        if b.calls:
            b.note("tracked connections may outlive the change; stop the instance to cut them")
        return b.build()

    def rollback_plan(self, state: Mapping[str, Any]) -> Plan:
        b = self.builder({"instance_id": state["instance_id"]}, rollback=True)
        for target, groups in (state.get("original_groups") or {}).items():
            if state.get("single_interface"):
                b.call("ec2", "ModifyInstanceAttribute",
                       {"InstanceId": target, "Groups": list(groups)})
                b.change(f"instance {target}", "security groups",
                         [state.get("quarantine_group")], groups)
            else:
                b.call("ec2", "ModifyNetworkInterfaceAttribute",
                       {"NetworkInterfaceId": target, "Groups": list(groups)})
                b.change(f"network interface {target}", "security groups",
                         [state.get("quarantine_group")], groups)
        b.note("the quarantine group is kept for reuse")
        return b.build()
