"""Revoke EC2 security-group rules, chosen by rule id or by what they allow.

Rules are matched by ``rule_id`` (``sgr-…``) or by ``direction`` plus any of ``protocol``
(``tcp``, ``udp``, ``icmp``, ``-1``), ``port`` (a port inside the rule's range) and ``peer``
(a CIDR or a security-group id). They are revoked by id; rollback authorizes them again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from trailguard.respond.actions.aws._ec2 import AUTHORIZE, AwsRule, cidr, rule_calls
from trailguard.respond.actions.base import Action, Params, Provider, register_action
from trailguard.respond.clients.aws import AwsClient
from trailguard.respond.errors import ParamsError
from trailguard.respond.model import Plan

REVOKE = {"ingress": "RevokeSecurityGroupIngress", "egress": "RevokeSecurityGroupEgress"}


@dataclass(frozen=True)
class RevokeRuleParams(Params):
    group_id: str
    rule_id: str = ""
    direction: str = "ingress"
    protocol: str = ""
    port: int | None = None
    peer: str = ""

    def __post_init__(self) -> None:
        if self.direction not in ("ingress", "egress"):
            raise ParamsError("direction must be ingress or egress")
        if not self.rule_id and not (self.protocol or self.port is not None or self.peer):
            raise ParamsError("give rule_id, or at least one of protocol, port, peer")
        if self.peer and not self.peer.startswith(("sg-", "pl-")):
            object.__setattr__(self, "peer", cidr(self.peer))

    def matches(self, rule: AwsRule) -> bool:
        if self.rule_id:
            return rule.rule_id == self.rule_id
        in_range = (self.port is None or rule.from_port is None
                    or (rule.from_port <= self.port <= (rule.to_port or rule.from_port)))
        return (rule.direction == self.direction and in_range
                and (not self.protocol or rule.protocol == self.protocol.lower())
                and (not self.peer or rule.peer == self.peer))


@register_action
class RevokeSecurityGroupRule(Action[RevokeRuleParams, AwsClient]):
    """Remove matching rules from one EC2 security group."""

    name: ClassVar[str] = "revoke_security_group_rule"
    provider: ClassVar[Provider] = "aws"
    Params = RevokeRuleParams
    READ_PERMISSIONS = ("ec2:DescribeSecurityGroupRules",)
    WRITE_PERMISSIONS = ("ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress",
                         "ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress")
    REVERSIBLE = True

    def plan(self, client: AwsClient, params: RevokeRuleParams) -> Plan:
        b = self.builder(params)
        body = b.read(client, "ec2", "DescribeSecurityGroupRules", {
            "Filters": [{"Name": "group-id", "Values": [params.group_id]}]})
        matched = [r for r in (AwsRule.from_rule(x) for x in body.get("SecurityGroupRules", []))
                   if params.matches(r)]
        for direction in ("ingress", "egress"):
            ids = [r.rule_id for r in matched if r.direction == direction]
            if ids:
                b.call("ec2", REVOKE[direction],
                       {"GroupId": params.group_id, "SecurityGroupRuleIds": ids})
        for rule in matched:
            b.change(f"security group {params.group_id}", f"rule {rule.rule_id}",
                     rule.render(), None)
        b.state.update({"group_id": params.group_id,
                        "revoked": [r.to_dict() for r in matched]})
        return b.build()

    def rollback_plan(self, state: Mapping[str, Any]) -> Plan:
        group = str(state["group_id"])
        b = self.builder({"group_id": group}, rollback=True)
        rules = [AwsRule.from_dict(r) for r in state.get("revoked") or []]
        rule_calls(b, AUTHORIZE, group, rules)
        for rule in rules:
            b.change(f"security group {group}", "rule", None, rule.render())
        return b.build()
