"""Shared reads and rule handling for the Alibaba ECS actions."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trailguard.respond.actions._params import cidr as cidr
from trailguard.respond.actions.base import PlanBuilder
from trailguard.respond.clients.aliyun import AliyunClient
from trailguard.respond.errors import PlanError


def items(body: Mapping[str, Any], outer: str, inner: str) -> list[Mapping[str, Any]]:
    """The list at ``body[outer][inner]`` (Alibaba wraps every list in an object)."""
    wrapper = body.get(outer) or {}
    found = wrapper.get(inner) if isinstance(wrapper, Mapping) else None
    return [x for x in found or [] if isinstance(x, Mapping)]


def describe_instance(b: PlanBuilder, client: AliyunClient, instance_id: str) -> Mapping[str, Any]:
    body = b.read(client, "ecs", "DescribeInstances",
                  {"RegionId": client.region_id, "InstanceIds": json.dumps([instance_id])})
    for instance in items(body, "Instances", "Instance"):
        if instance.get("InstanceId") == instance_id:
            return instance
    raise PlanError(f"ECS instance {instance_id} not found in {client.region_id}")


def group_ids(resource: Mapping[str, Any]) -> list[str]:
    """``SecurityGroupIds.SecurityGroupId`` of an instance or network interface."""
    return [str(g) for g in (resource.get("SecurityGroupIds") or {}).get("SecurityGroupId", [])]



def is_ipv6(block: str) -> bool:
    return ipaddress.ip_network(block, strict=False).version == 6


@dataclass(frozen=True)
class SgRule:
    """An ECS security-group rule, normalised for comparison (ignores id and description).

    ``peer`` is the remote CIDR block: the source for ingress, the destination for egress.
    ``peer_group`` is a remote security group instead of a block.
    """

    direction: str
    policy: str
    priority: int
    protocol: str
    port_range: str
    peer: str = ""
    peer_group: str = ""
    description: str = ""
    rule_id: str = ""

    @classmethod
    def from_api(cls, perm: Mapping[str, Any]) -> SgRule:
        direction = str(perm.get("Direction", "ingress")).lower()
        if direction == "ingress":
            peer = perm.get("SourceCidrIp") or perm.get("Ipv6SourceCidrIp") or ""
            group = perm.get("SourceGroupId") or ""
        else:
            peer = perm.get("DestCidrIp") or perm.get("Ipv6DestCidrIp") or ""
            group = perm.get("DestGroupId") or ""
        return cls(direction=direction, policy=str(perm.get("Policy", "accept")).lower(),
                   priority=int(perm.get("Priority") or 1),
                   protocol=str(perm.get("IpProtocol", "ALL")).upper(),
                   port_range=str(perm.get("PortRange", "-1/-1")),
                   peer=cidr(str(peer)) if peer else "", peer_group=str(group),
                   description=str(perm.get("Description") or ""),
                   rule_id=str(perm.get("SecurityGroupRuleId") or ""))

    def key(self) -> tuple[str, str, int, str, str, str, str]:
        return (self.direction, self.policy, self.priority, self.protocol, self.port_range,
                self.peer, self.peer_group)

    def same(self, other: SgRule) -> bool:
        return self.key() == other.key()

    def permission(self, n: int = 1, *, with_description: bool = True) -> dict[str, str]:
        """The ``Permissions.N.*`` parameters that authorize (or revoke) this rule."""
        prefix = f"Permissions.{n}."
        out = {f"{prefix}Policy": self.policy, f"{prefix}Priority": str(self.priority),
               f"{prefix}IpProtocol": self.protocol, f"{prefix}PortRange": self.port_range}
        if self.peer:
            side = "Source" if self.direction == "ingress" else "Dest"
            name = f"Ipv6{side}CidrIp" if is_ipv6(self.peer) else f"{side}CidrIp"
            out[prefix + name] = self.peer
        if self.peer_group:
            side = "Source" if self.direction == "ingress" else "Dest"
            out[f"{prefix}{side}GroupId"] = self.peer_group
        if with_description and self.description:
            out[f"{prefix}Description"] = self.description
        return out

    def render(self) -> str:
        arrow = "from" if self.direction == "ingress" else "to"
        peer = self.peer or self.peer_group
        return (f"{self.direction} {self.policy} {self.protocol} {self.port_range} {arrow} "
                f"{peer} (priority {self.priority})")

    def to_dict(self) -> dict[str, Any]:
        return {"direction": self.direction, "policy": self.policy, "priority": self.priority,
                "protocol": self.protocol, "port_range": self.port_range, "peer": self.peer,
                "peer_group": self.peer_group, "description": self.description,
                "rule_id": self.rule_id}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SgRule:
        return cls(direction=str(data["direction"]), policy=str(data["policy"]),
                   priority=int(data["priority"]), protocol=str(data["protocol"]),
                   port_range=str(data["port_range"]), peer=str(data.get("peer", "")),
                   peer_group=str(data.get("peer_group", "")),
                   description=str(data.get("description", "")),
                   rule_id=str(data.get("rule_id", "")))


def describe_rules(b: PlanBuilder, client: AliyunClient, group_id: str) -> list[SgRule]:
    body = b.read(client, "ecs", "DescribeSecurityGroupAttribute",
                  {"RegionId": client.region_id, "SecurityGroupId": group_id,
                   "Direction": "all"})
    return [SgRule.from_api(p) for p in items(body, "Permissions", "Permission")]


AUTHORIZE = {"ingress": "AuthorizeSecurityGroup", "egress": "AuthorizeSecurityGroupEgress"}
REVOKE = {"ingress": "RevokeSecurityGroup", "egress": "RevokeSecurityGroupEgress"}


def authorize_calls(b: PlanBuilder, region_id: str, group_id: str, rules: list[SgRule]) -> None:
    """One Authorize call per direction carrying all of that direction's rules."""
    for direction in ("ingress", "egress"):
        chosen = [r for r in rules if r.direction == direction]
        if not chosen:
            continue
        params: dict[str, str] = {"RegionId": region_id, "SecurityGroupId": group_id}
        for n, rule in enumerate(chosen, start=1):
            params.update(rule.permission(n))
        b.call("ecs", AUTHORIZE[direction], params)


def revoke_calls(b: PlanBuilder, region_id: str, group_id: str, rules: list[SgRule]) -> None:
    """Revoke by rule id when known (fails loudly if gone), else by rule content."""
    for direction in ("ingress", "egress"):
        chosen = [r for r in rules if r.direction == direction]
        if not chosen:
            continue
        params: dict[str, str] = {"RegionId": region_id, "SecurityGroupId": group_id}
        if all(r.rule_id for r in chosen):
            for n, rule in enumerate(chosen, start=1):
                params[f"SecurityGroupRuleId.{n}"] = rule.rule_id
        else:
            for n, rule in enumerate(chosen, start=1):
                params.update(rule.permission(n, with_description=False))
        b.call("ecs", REVOKE[direction], params)
