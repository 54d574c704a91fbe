"""Revoke ECS security-group rules, chosen by rule id or by what they allow.

Rules are matched by ``rule_id`` (``sgr-…``) or by ``direction`` plus any of ``protocol``,
``port_range``, ``peer`` (CIDR) and ``policy``. They are revoked by id; rollback authorizes
the same rules again (same priority, policy, peer and description).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from trailguard.respond.actions.aliyun._ecs import (
    SgRule,
    authorize_calls,
    cidr,
    describe_rules,
    revoke_calls,
)
from trailguard.respond.actions.base import Action, Params, Provider, register_action
from trailguard.respond.clients.aliyun import AliyunClient
from trailguard.respond.errors import ParamsError
from trailguard.respond.model import Plan


@dataclass(frozen=True)
class RevokeRuleParams(Params):
    security_group_id: str
    rule_id: str = ""
    direction: str = "ingress"
    protocol: str = ""
    port_range: str = ""
    peer: str = ""
    policy: str = "accept"

    def __post_init__(self) -> None:
        if self.direction not in ("ingress", "egress"):
            raise ParamsError("direction must be ingress or egress")
        if not self.rule_id and not (self.protocol or self.port_range or self.peer):
            raise ParamsError("give rule_id, or at least one of protocol, port_range, peer")
        if self.peer:
            object.__setattr__(self, "peer", cidr(self.peer))

    def matches(self, rule: SgRule) -> bool:
        if self.rule_id:
            return rule.rule_id == self.rule_id
        return (rule.direction == self.direction and rule.policy == self.policy.lower()
                and (not self.protocol or rule.protocol == self.protocol.upper())
                and (not self.port_range or rule.port_range == self.port_range)
                and (not self.peer or rule.peer == self.peer))


@register_action
class RevokeSecurityGroupRule(Action[RevokeRuleParams, AliyunClient]):
    """Remove matching rules from one ECS security group."""

    name: ClassVar[str] = "revoke_security_group_rule"
    provider: ClassVar[Provider] = "aliyun"
    Params = RevokeRuleParams
    READ_PERMISSIONS = ("ecs:DescribeSecurityGroupAttribute",)
    WRITE_PERMISSIONS = ("ecs:RevokeSecurityGroup", "ecs:RevokeSecurityGroupEgress",
                         "ecs:AuthorizeSecurityGroup", "ecs:AuthorizeSecurityGroupEgress")
    REVERSIBLE = True

    def plan(self, client: AliyunClient, params: RevokeRuleParams) -> Plan:
        b = self.builder(params)
        matched = [r for r in describe_rules(b, client, params.security_group_id)
                   if params.matches(r)]
        revoke_calls(b, client.region_id, params.security_group_id, matched)
        for rule in matched:
            b.change(f"security group {params.security_group_id}", "rule", rule.render(), None)
        b.state.update({"region_id": client.region_id,
                        "security_group_id": params.security_group_id,
                        "revoked": [r.to_dict() for r in matched]})
        return b.build()

    def rollback_plan(self, state: Mapping[str, Any]) -> Plan:
        group = str(state["security_group_id"])
        b = self.builder({"security_group_id": group}, rollback=True)
        rules = [SgRule.from_dict(r) for r in state.get("revoked") or []]
        authorize_calls(b, str(state["region_id"]), group, rules)
        for rule in rules:
            b.change(f"security group {group}", "rule", None, rule.render())
        return b.build()
