"""Isolate an ECS instance behind a quarantine security group.

The quarantine group ``<group_prefix>-<vpc>`` (an *enterprise* group: default deny in and
out, no traffic between members) is created once per VPC and reused; its rules allow only
the forensic CIDR in on one port and out to the same CIDR, and drop everything else at the
lowest priority so the group stays closed even if someone made it a basic group. The group
replaces *all* groups of the instance (``ModifyInstanceAttribute`` with
``SecurityGroupIds.N``) and of each secondary ENI (``ModifyNetworkInterfaceAttribute`` with
``SecurityGroupId.N``). Rollback restores the groups remembered per ENI.

Established connections are tracked for up to 910 s after a rule change; stop the instance
as well if the attacker must lose an open session immediately.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from trailguard.respond.actions._params import IsolateInstanceParams
from trailguard.respond.actions.aliyun._ecs import (
    SgRule,
    authorize_calls,
    describe_instance,
    describe_rules,
    group_ids,
    items,
    revoke_calls,
)
from trailguard.respond.actions.base import Action, Provider, register_action
from trailguard.respond.clients.aliyun import AliyunClient
from trailguard.respond.errors import PlanError
from trailguard.respond.model import Plan, ref


def quarantine_rules(params: IsolateInstanceParams) -> list[SgRule]:
    """The exact rule set of a quarantine group."""
    port = f"{params.forensic_port}/{params.forensic_port}"
    return [
        SgRule("ingress", "accept", 1, "TCP", port, params.forensic_cidr,
               description="trailguard: forensic access"),
        SgRule("egress", "accept", 1, "ALL", "-1/-1", params.forensic_cidr,
               description="trailguard: forensic access"),
        SgRule("ingress", "drop", 100, "ALL", "-1/-1", "0.0.0.0/0",
               description="trailguard: quarantine"),
        SgRule("egress", "drop", 100, "ALL", "-1/-1", "0.0.0.0/0",
               description="trailguard: quarantine"),
    ]


@register_action
class IsolateInstance(Action[IsolateInstanceParams, AliyunClient]):
    """Swap every security group of an ECS instance for a quarantine group."""

    name: ClassVar[str] = "isolate_instance"
    provider: ClassVar[Provider] = "aliyun"
    Params = IsolateInstanceParams
    READ_PERMISSIONS = ("ecs:DescribeInstances", "ecs:DescribeNetworkInterfaces",
                        "ecs:DescribeSecurityGroups", "ecs:DescribeSecurityGroupAttribute")
    WRITE_PERMISSIONS = ("ecs:CreateSecurityGroup", "ecs:AuthorizeSecurityGroup",
                         "ecs:AuthorizeSecurityGroupEgress", "ecs:RevokeSecurityGroup",
                         "ecs:RevokeSecurityGroupEgress", "ecs:ModifyInstanceAttribute",
                         "ecs:ModifyNetworkInterfaceAttribute")
    REVERSIBLE = True

    def plan(self, client: AliyunClient, params: IsolateInstanceParams) -> Plan:
        b = self.builder(params)
        region = client.region_id
        instance = describe_instance(b, client, params.instance_id)
        vpc = str((instance.get("VpcAttributes") or {}).get("VpcId") or "")
        if not vpc:
            raise PlanError(f"{params.instance_id} is not in a VPC; its groups cannot change")
        enis = items(b.read(client, "ecs", "DescribeNetworkInterfaces",
                            {"RegionId": region, "InstanceId": params.instance_id,
                             "PageSize": "100"}),
                     "NetworkInterfaceSets", "NetworkInterfaceSet")
        name = f"{params.group_prefix}-{vpc}"
        found = items(b.read(client, "ecs", "DescribeSecurityGroups",
                             {"RegionId": region, "VpcId": vpc, "SecurityGroupName": name}),
                      "SecurityGroups", "SecurityGroup")
        found = [g for g in found if g.get("SecurityGroupName") == name]
        wanted = quarantine_rules(params)
        if found:
            group = str(found[0]["SecurityGroupId"])
            current = describe_rules(b, client, group)
            missing = [w for w in wanted if not any(w.same(c) for c in current)]
            extra = [c for c in current if not any(c.same(w) for w in wanted)]
            revoke_calls(b, region, group, extra)
            for rule in extra:
                b.change(f"quarantine group {group}", "rule", rule.render(), None)
        else:
            group = ref("quarantine_group")
            missing = wanted
            b.call("ecs", "CreateSecurityGroup",
                   {"RegionId": region, "VpcId": vpc, "SecurityGroupName": name,
                    "SecurityGroupType": "enterprise",
                    "Description": "TrailGuard quarantine: forensic access only"},
                   outputs={"quarantine_group": "SecurityGroupId"})
            b.change(f"security group {name}", "created in", None, vpc)
        authorize_calls(b, region, group, missing)
        for rule in missing:
            b.change(f"quarantine group {name}", "rule", None, rule.render())

        original: dict[str, list[str]] = {}
        before = group_ids(instance)
        if before != [group]:
            b.call("ecs", "ModifyInstanceAttribute",
                   {"InstanceId": params.instance_id, "SecurityGroupIds.1": group})
            b.change(f"instance {params.instance_id}", "security groups", before, [name])
            original["instance"] = before
        secondary: dict[str, list[str]] = {}
        for eni in enis:
            if str(eni.get("Type", "")).lower() == "primary":
                continue
            eni_id = str(eni["NetworkInterfaceId"])
            groups = group_ids(eni)
            if groups != [group]:
                b.call("ecs", "ModifyNetworkInterfaceAttribute",
                       {"RegionId": region, "NetworkInterfaceId": eni_id,
                        "SecurityGroupId.1": group})
                b.change(f"network interface {eni_id}", "security groups", groups, [name])
                secondary[eni_id] = groups
        if not before or before == [group]:
            b.note("the instance already sits in the quarantine group")
        b.state.update({"region_id": region, "instance_id": params.instance_id, "vpc_id": vpc,
                        "quarantine_group": group, "original_groups": original,
                        "original_eni_groups": secondary})
        if b.calls:
            b.note("sessions already established may survive up to 910 s; stop the instance "
                   "to cut them at once")
        return b.build()

    def rollback_plan(self, state: Mapping[str, Any]) -> Plan:
        b = self.builder({"instance_id": state["instance_id"]}, rollback=True)
        original = state.get("original_groups") or {}
        if original.get("instance"):
            call: dict[str, str] = {"InstanceId": str(state["instance_id"])}
            for n, group in enumerate(original["instance"], start=1):
                call[f"SecurityGroupIds.{n}"] = group
            b.call("ecs", "ModifyInstanceAttribute", call)
            b.change(f"instance {state['instance_id']}", "security groups",
                     [state.get("quarantine_group")], original["instance"])
        for eni_id, groups in (state.get("original_eni_groups") or {}).items():
            eni_call: dict[str, str] = {"RegionId": str(state["region_id"]),
                                        "NetworkInterfaceId": eni_id}
            for n, group in enumerate(groups, start=1):
                eni_call[f"SecurityGroupId.{n}"] = group
            b.call("ecs", "ModifyNetworkInterfaceAttribute", eni_call)
            b.change(f"network interface {eni_id}", "security groups",
                     [state.get("quarantine_group")], groups)
        b.note("the quarantine group is kept for reuse")
        return b.build()
