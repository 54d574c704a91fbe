"""Block an address with ECS drop rules at priority 1 on the named security groups.

Priority 1 is the highest, and drop wins ties, so the rule overrides every accept rule in
every group of the affected interfaces. Both directions are blocked (``direction: both``) by
default. Rollback revokes exactly the rules this action added.
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

DIRECTIONS = {"both": ("ingress", "egress"), "ingress": ("ingress",), "egress": ("egress",)}


@dataclass(frozen=True)
class BlockAddressParams(Params):
    address: str
    security_group_ids: tuple[str, ...]
    direction: str = "both"
    description: str = "trailguard: blocked address"

    def __post_init__(self) -> None:
        object.__setattr__(self, "address", cidr(self.address))
        if self.direction not in DIRECTIONS:
            raise ParamsError(f"direction must be one of {', '.join(DIRECTIONS)}")
        if not self.security_group_ids:
            raise ParamsError("security_group_ids must name at least one group")


def drop_rules(params: BlockAddressParams) -> list[SgRule]:
    return [SgRule(direction, "drop", 1, "ALL", "-1/-1", params.address,
                   description=params.description) for direction in DIRECTIONS[params.direction]]


@register_action
class BlockAddress(Action[BlockAddressParams, AliyunClient]):
    """Drop all traffic to and from an address on the given security groups."""

    name: ClassVar[str] = "block_address"
    provider: ClassVar[Provider] = "aliyun"
    Params = BlockAddressParams
    READ_PERMISSIONS = ("ecs:DescribeSecurityGroupAttribute",)
    WRITE_PERMISSIONS = ("ecs:AuthorizeSecurityGroup", "ecs:AuthorizeSecurityGroupEgress",
                         "ecs:RevokeSecurityGroup", "ecs:RevokeSecurityGroupEgress")
    REVERSIBLE = True

    def plan(self, client: AliyunClient, params: BlockAddressParams) -> Plan:
        b = self.builder(params)
        added: dict[str, list[dict[str, Any]]] = {}
        for group in params.security_group_ids:
            current = describe_rules(b, client, group)
            missing = [r for r in drop_rules(params) if not any(r.same(c) for c in current)]
            authorize_calls(b, client.region_id, group, missing)
            for rule in missing:
                b.change(f"security group {group}", "rule", None, rule.render())
            if missing:
                added[group] = [r.to_dict() for r in missing]
        b.state.update({"region_id": client.region_id, "address": params.address,
                        "added": added})
        return b.build()

    def rollback_plan(self, state: Mapping[str, Any]) -> Plan:
        b = self.builder({"address": state["address"]}, rollback=True)
        for group, rules in (state.get("added") or {}).items():
            parsed = [SgRule.from_dict(r) for r in rules]
            revoke_calls(b, str(state["region_id"]), group, parsed)
            for rule in parsed:
                b.change(f"security group {group}", "rule", rule.render(), None)
        return b.build()
