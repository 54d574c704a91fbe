"""Block an address with network-ACL deny entries (security groups cannot deny).

NACLs are evaluated lowest rule number first, first match wins, so each deny entry takes the
lowest free rule number in its direction (from 1), ahead of the allow rules. Choose the ACLs
by id or take every ACL of a VPC. Rollback deletes exactly the entries this action added.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from trailguard.respond.actions.aws._ec2 import cidr, cidr_kind
from trailguard.respond.actions.base import Action, Params, Provider, register_action
from trailguard.respond.clients.aws import AwsClient
from trailguard.respond.errors import ParamsError, PlanError
from trailguard.respond.model import Plan

DIRECTIONS = {"both": (False, True), "ingress": (False,), "egress": (True,)}
MAX_RULE_NUMBER = 32766


@dataclass(frozen=True)
class BlockAddressParams(Params):
    address: str
    network_acl_ids: tuple[str, ...] = ()
    vpc_id: str = ""
    direction: str = "both"

    def __post_init__(self) -> None:
        object.__setattr__(self, "address", cidr(self.address))
        if self.direction not in DIRECTIONS:
            raise ParamsError(f"direction must be one of {', '.join(DIRECTIONS)}")
        if bool(self.network_acl_ids) == bool(self.vpc_id):
            raise ParamsError("give either network_acl_ids or vpc_id")


def free_rule_number(entries: list[Mapping[str, Any]], egress: bool) -> int:
    used = {int(e["RuleNumber"]) for e in entries if bool(e.get("Egress")) == egress}
    for number in range(1, MAX_RULE_NUMBER + 1):
        if number not in used:
            return number
    raise PlanError("no free network-ACL rule number")


@register_action
class BlockAddress(Action[BlockAddressParams, AwsClient]):
    """Deny all traffic to and from an address in the chosen network ACLs."""

    name: ClassVar[str] = "block_address"
    provider: ClassVar[Provider] = "aws"
    Params = BlockAddressParams
    READ_PERMISSIONS = ("ec2:DescribeNetworkAcls",)
    WRITE_PERMISSIONS = ("ec2:CreateNetworkAclEntry", "ec2:DeleteNetworkAclEntry")
    REVERSIBLE = True

    def plan(self, client: AwsClient, params: BlockAddressParams) -> Plan:
        b = self.builder(params)
        query: dict[str, Any] = ({"NetworkAclIds": list(params.network_acl_ids)}
                                 if params.network_acl_ids else
                                 {"Filters": [{"Name": "vpc-id", "Values": [params.vpc_id]}]})
        acls = b.read(client, "ec2", "DescribeNetworkAcls", query).get("NetworkAcls", [])
        if not acls:
            raise PlanError("no network ACL matched")
        field = "Ipv6CidrBlock" if cidr_kind(params.address) == "cidr6" else "CidrBlock"
        added: list[dict[str, Any]] = []
        for acl in acls:
            acl_id = str(acl["NetworkAclId"])
            entries = list(acl.get("Entries", []))
            for egress in DIRECTIONS[params.direction]:
                if any(bool(e.get("Egress")) == egress and e.get(field) == params.address
                       and e.get("RuleAction") == "deny" and str(e.get("Protocol")) == "-1"
                       for e in entries):
                    continue
                number = free_rule_number(entries, egress)
                entries.append({"RuleNumber": number, "Egress": egress})
                b.call("ec2", "CreateNetworkAclEntry", {
                    "NetworkAclId": acl_id, "RuleNumber": number, "Protocol": "-1",
                    "RuleAction": "deny", "Egress": egress, field: params.address})
                b.change(f"network ACL {acl_id}", f"{'egress' if egress else 'ingress'} rule "
                         f"{number}", None, f"deny all {params.address}")
                added.append({"network_acl_id": acl_id, "rule_number": number,
                              "egress": egress})
        b.state.update({"address": params.address, "added": added})
        return b.build()

    def rollback_plan(self, state: Mapping[str, Any]) -> Plan:
        b = self.builder({"address": state["address"]}, rollback=True)
        for entry in state.get("added") or []:
            b.call("ec2", "DeleteNetworkAclEntry", {"NetworkAclId": entry["network_acl_id"],
                                                    "RuleNumber": entry["rule_number"],
                                                    "Egress": entry["egress"]})
            b.change(f"network ACL {entry['network_acl_id']}",
                     f"{'egress' if entry['egress'] else 'ingress'} rule "
                     f"{entry['rule_number']}", f"deny all {state['address']}", None)
        return b.build()
