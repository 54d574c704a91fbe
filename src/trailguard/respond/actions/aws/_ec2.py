"""Shared reads and rule handling for the AWS EC2 actions."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trailguard.respond.actions._params import cidr as cidr
from trailguard.respond.actions.base import PlanBuilder
from trailguard.respond.clients.aws import AwsClient
from trailguard.respond.errors import PlanError


def cidr_kind(block: str) -> str:
    return "cidr6" if ipaddress.ip_network(block, strict=False).version == 6 else "cidr"


def describe_instance(b: PlanBuilder, client: AwsClient, instance_id: str) -> Mapping[str, Any]:
    body = b.read(client, "ec2", "DescribeInstances", {"InstanceIds": [instance_id]})
    for reservation in body.get("Reservations", []):
        for instance in reservation.get("Instances", []):
            if instance.get("InstanceId") == instance_id:
                return dict(instance)
    raise PlanError(f"EC2 instance {instance_id} not found in {client.region_name}")


@dataclass(frozen=True)
class AwsRule:
    """One security-group rule for one peer, normalised for comparison.

    ``peer_kind`` is ``cidr``, ``cidr6``, ``group`` or ``prefix``; ports are ``None`` for
    protocol ``-1`` (all traffic).
    """

    direction: str
    protocol: str
    from_port: int | None
    to_port: int | None
    peer_kind: str
    peer: str
    description: str = ""
    rule_id: str = ""

    def key(self) -> tuple[str, str, int | None, int | None, str, str]:
        return (self.direction, self.protocol, self.from_port, self.to_port, self.peer_kind,
                self.peer)

    def same(self, other: AwsRule) -> bool:
        return self.key() == other.key()

    def ip_permission(self, *, with_description: bool = True) -> dict[str, Any]:
        perm: dict[str, Any] = {"IpProtocol": self.protocol}
        if self.protocol != "-1" and self.from_port is not None:
            perm["FromPort"] = self.from_port
            perm["ToPort"] = self.to_port
        desc = {"Description": self.description} if with_description and self.description else {}
        if self.peer_kind == "cidr":
            perm["IpRanges"] = [{"CidrIp": self.peer, **desc}]
        elif self.peer_kind == "cidr6":
            perm["Ipv6Ranges"] = [{"CidrIpv6": self.peer, **desc}]
        elif self.peer_kind == "group":
            perm["UserIdGroupPairs"] = [{"GroupId": self.peer, **desc}]
        else:
            perm["PrefixListIds"] = [{"PrefixListId": self.peer, **desc}]
        return perm

    def render(self) -> str:
        ports = "all ports" if self.from_port is None else f"{self.from_port}-{self.to_port}"
        arrow = "from" if self.direction == "ingress" else "to"
        proto = "all" if self.protocol == "-1" else self.protocol
        return f"{self.direction} allow {proto} {ports} {arrow} {self.peer}"

    def to_dict(self) -> dict[str, Any]:
        return {"direction": self.direction, "protocol": self.protocol,
                "from_port": self.from_port, "to_port": self.to_port,
                "peer_kind": self.peer_kind, "peer": self.peer,
                "description": self.description, "rule_id": self.rule_id}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AwsRule:
        return cls(str(data["direction"]), str(data["protocol"]), data.get("from_port"),
                   data.get("to_port"), str(data["peer_kind"]), str(data["peer"]),
                   str(data.get("description", "")), str(data.get("rule_id", "")))

    @classmethod
    def from_rule(cls, rule: Mapping[str, Any]) -> AwsRule:
        """From one ``DescribeSecurityGroupRules`` entry."""
        protocol = str(rule.get("IpProtocol", "-1"))
        ports: tuple[int | None, int | None] = (None, None)
        if protocol != "-1":
            ports = (rule.get("FromPort"), rule.get("ToPort"))
        if rule.get("CidrIpv4"):
            kind, peer = "cidr", str(rule["CidrIpv4"])
        elif rule.get("CidrIpv6"):
            kind, peer = "cidr6", str(rule["CidrIpv6"])
        elif rule.get("PrefixListId"):
            kind, peer = "prefix", str(rule["PrefixListId"])
        else:
            kind, peer = "group", str((rule.get("ReferencedGroupInfo") or {}).get("GroupId", ""))
        return cls("egress" if rule.get("IsEgress") else "ingress", protocol, ports[0],
                   ports[1], kind, peer, str(rule.get("Description") or ""),
                   str(rule.get("SecurityGroupRuleId") or ""))


def flatten(permissions: list[Mapping[str, Any]], direction: str) -> list[AwsRule]:
    """Split ``IpPermissions``/``IpPermissionsEgress`` into one rule per peer."""
    rules: list[AwsRule] = []
    for perm in permissions:
        protocol = str(perm.get("IpProtocol", "-1"))
        ports: tuple[int | None, int | None] = (None, None)
        if protocol != "-1":
            ports = (perm.get("FromPort"), perm.get("ToPort"))
        peers = ([("cidr", r.get("CidrIp"), r) for r in perm.get("IpRanges", [])]
                 + [("cidr6", r.get("CidrIpv6"), r) for r in perm.get("Ipv6Ranges", [])]
                 + [("group", r.get("GroupId"), r) for r in perm.get("UserIdGroupPairs", [])]
                 + [("prefix", r.get("PrefixListId"), r) for r in perm.get("PrefixListIds", [])])
        for kind, peer, item in peers:
            rules.append(AwsRule(direction, protocol, ports[0], ports[1], kind, str(peer),
                                 str(item.get("Description") or "")))
    return rules


AUTHORIZE = {"ingress": "AuthorizeSecurityGroupIngress",
             "egress": "AuthorizeSecurityGroupEgress"}
REVOKE = {"ingress": "RevokeSecurityGroupIngress", "egress": "RevokeSecurityGroupEgress"}


def rule_calls(b: PlanBuilder, verb: Mapping[str, str], group_id: str,
               rules: list[AwsRule], *, with_description: bool = True) -> None:
    """One Authorize/Revoke call per direction carrying that direction's rules."""
    for direction in ("ingress", "egress"):
        chosen = [r for r in rules if r.direction == direction]
        if chosen:
            b.call("ec2", verb[direction], {
                "GroupId": group_id,
                "IpPermissions": [r.ip_permission(with_description=with_description)
                                  for r in chosen]})
