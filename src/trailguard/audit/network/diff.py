"""Rule changes between two snapshots, tied to the trail events that made them.

Rules are paired by rule id first (Alibaba ``SecurityGroupRuleId``), then by what they match
(direction, protocol, ports, peer); a pair that differs in action, priority or description is a
*change*, an unpaired rule is *added* or *removed*. :func:`attach_events` then finds, for each
change, the ActionTrail / CloudTrail calls on the same group and direction whose request names the
same protocol, port range and CIDR (or the rule id).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from trailguard.audit.network.model import (
    PORTED_PROTOCOLS,
    Direction,
    PortRange,
    Rule,
    Snapshot,
    normalise_protocol,
)

ADDING: dict[str, Direction | None] = {
    "AuthorizeSecurityGroup": Direction.INGRESS,
    "AuthorizeSecurityGroupIngress": Direction.INGRESS,
    "AuthorizeSecurityGroupEgress": Direction.EGRESS,
}
REMOVING: dict[str, Direction | None] = {
    "RevokeSecurityGroup": Direction.INGRESS,
    "RevokeSecurityGroupIngress": Direction.INGRESS,
    "RevokeSecurityGroupEgress": Direction.EGRESS,
    "DeleteSecurityGroup": None,
}
MODIFYING: dict[str, Direction | None] = {
    "ModifySecurityGroupRule": Direction.INGRESS,
    "ModifySecurityGroupEgressRule": Direction.EGRESS,
    "ModifySecurityGroupRules": None,
    "UpdateSecurityGroupRuleDescriptionsIngress": Direction.INGRESS,
    "UpdateSecurityGroupRuleDescriptionsEgress": Direction.EGRESS,
}
"""Event names (Alibaba and AWS) by the kind of rule change they explain, with their direction."""


@dataclass(slots=True)
class RuleChange:
    """A rule added, removed or changed in one group, and the events that explain it."""

    kind: str
    group_id: str
    old: Rule | None
    new: Rule | None
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rule(self) -> Rule:
        rule = self.new or self.old
        if rule is None:
            raise ValueError("a rule change without a rule")
        return rule

    def changed_fields(self) -> list[str]:
        if self.old is None or self.new is None:
            return []
        names = ("direction", "protocol", "ports", "peer", "action", "priority", "description")
        return [n for n in names if getattr(self.old, n) != getattr(self.new, n)]

    def summary(self) -> dict[str, Any]:
        return {"kind": self.kind, "group_id": self.group_id,
                "old": self.old.summary() if self.old else None,
                "new": self.new.summary() if self.new else None,
                "changed_fields": self.changed_fields(), "events": self.events}


def _identity(rule: Rule) -> tuple[str, str, PortRange, str]:
    return str(rule.direction), rule.protocol, rule.ports, str(rule.peer)


def _content(rule: Rule) -> tuple[object, ...]:
    return (*_identity(rule), str(rule.action), rule.priority, rule.description)


def _pair(old: list[Rule], new: list[Rule], key: Any) -> list[tuple[Rule, Rule]]:
    pairs = []
    for rule in list(old):
        k = key(rule)
        if k is None:
            continue
        match = next((n for n in new if key(n) == k), None)
        if match is not None:
            old.remove(rule)
            new.remove(match)
            pairs.append((rule, match))
    return pairs


def diff(old: Snapshot, new: Snapshot) -> list[RuleChange]:
    """Added, removed and changed rules per group between two snapshots."""
    changes: list[RuleChange] = []
    for group_id in sorted(set(old.groups) | set(new.groups)):
        before = list(old.groups[group_id].rules) if group_id in old.groups else []
        after = list(new.groups[group_id].rules) if group_id in new.groups else []
        _pair(before, after, _content)  # unchanged
        paired = _pair(before, after, lambda r: r.rule_id or None)
        paired += _pair(before, after, _identity)
        changes += [RuleChange("changed", group_id, a, b) for a, b in paired]
        changes += [RuleChange("removed", group_id, r, None) for r in before]
        changes += [RuleChange("added", group_id, None, r) for r in after]
    return changes


# ---------------------------------------------------------------- trail events

_FLAT = re.compile(r"^(?:Permissions\.(\d+)\.)?(\w+?)(?:\.(\d+))?$")


def _get(mapping: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        if mapping.get(name) not in (None, ""):
            return mapping[name]
    return None


def _aws_items(node: Any) -> list[Any]:
    if isinstance(node, Mapping):
        node = node.get("items", [])
    return list(node) if isinstance(node, list) else []


def _permissions(request: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Permission-like dicts of a request, whatever its encoding (flat, ``Permissions.N.X``,
    nested ``Permissions``, or CloudTrail's ``ipPermissions.items``)."""
    found: list[dict[str, Any]] = []
    nested = request.get("Permissions")
    if isinstance(nested, list):
        found += [dict(p) for p in nested if isinstance(p, Mapping)]
    for permission in _aws_items(request.get("ipPermissions")):
        base = {"protocol": permission.get("ipProtocol"), "from": permission.get("fromPort"),
                "to": permission.get("toPort")}
        cidrs = [r.get("cidrIp") for r in _aws_items(permission.get("ipRanges"))]
        cidrs += [r.get("cidrIpv6") for r in _aws_items(permission.get("ipv6Ranges"))]
        cidrs += [g.get("groupId") for g in _aws_items(permission.get("groups"))]
        cidrs += [p.get("prefixListId") for p in _aws_items(permission.get("prefixListIds"))]
        found += [{**base, "peer": c} for c in cidrs] or [base]
    for item in _aws_items(request.get("securityGroupRules")):
        rule = item.get("securityGroupRule", item)
        found.append({"protocol": rule.get("ipProtocol"), "from": rule.get("fromPort"),
                      "to": rule.get("toPort"),
                      "peer": _get(rule, "cidrIpv4", "cidrIpv6", "referencedGroupId",
                                   "prefixListId")})
    numbered: dict[str, dict[str, Any]] = {}
    flat: dict[str, Any] = {}
    for key, value in request.items():
        m = _FLAT.match(key)
        if m is None or isinstance(value, (list, Mapping)):
            continue
        if m.group(1):
            numbered.setdefault(m.group(1), {})[m.group(2)] = value
        elif m.group(2) == "SecurityGroupRuleId" and m.group(3):
            found.append({"SecurityGroupRuleId": value})
        else:
            flat[m.group(2)] = value
    found += list(numbered.values())
    rule_ids = request.get("SecurityGroupRuleId")
    if isinstance(rule_ids, list):
        found += [{"SecurityGroupRuleId": r} for r in rule_ids]
    if any(k in flat for k in ("IpProtocol", "PortRange", "SourceCidrIp", "DestCidrIp",
                               "Ipv6SourceCidrIp", "Ipv6DestCidrIp", "SecurityGroupRuleId")):
        found.append(flat)
    return found


def _normalised(permission: Mapping[str, Any]) -> dict[str, Any]:
    """Only the fields a permission names: rule_id, protocol, ports, peer."""
    result: dict[str, Any] = {}
    rule_id = _get(permission, "SecurityGroupRuleId")
    if rule_id:
        result["rule_id"] = str(rule_id)
    protocol_text = _get(permission, "IpProtocol", "protocol")
    protocol = normalise_protocol(protocol_text) if protocol_text is not None else None
    if protocol is not None:
        result["protocol"] = protocol
    if "PortRange" in permission and protocol is not None:
        result["ports"] = PortRange.parse(permission["PortRange"], protocol)
    elif permission.get("from") is not None and protocol is not None:
        result["ports"] = (PortRange.clamp(int(permission["from"]), int(permission["to"]))
                           if protocol in PORTED_PROTOCOLS else PortRange())
    peer = _get(permission, "SourceCidrIp", "DestCidrIp", "Ipv6SourceCidrIp", "Ipv6DestCidrIp",
                "SourceGroupId", "DestGroupId", "SourcePrefixListId", "DestPrefixListId", "peer")
    if peer:
        try:
            result["peer"] = str(ipaddress.ip_network(str(peer), strict=False))
        except ValueError:
            result["peer"] = str(peer)
    return result


def _matches(rule: Rule, permission: Mapping[str, Any]) -> bool:
    if "rule_id" in permission:
        return bool(permission["rule_id"] == rule.rule_id)
    # A request names a prefix list by its id, whatever CIDRs the list resolved to.
    peer = rule.peer.prefix_list_id or str(rule.peer)
    checks = {"protocol": rule.protocol, "ports": rule.ports, "peer": peer}
    named = [k for k in checks if k in permission]
    return bool(named) and all(permission[k] == checks[k] for k in named)


def _event_group(event: Mapping[str, Any], request: Mapping[str, Any]) -> str:
    return str(event.get("group_id") or _get(request, "SecurityGroupId", "groupId") or "")


def _explains(change: RuleChange, event: Mapping[str, Any]) -> str | None:
    """``"rule"`` when the event names this rule, ``"group"`` when it only names the group."""
    name = str(event.get("event_name") or event.get("eventName") or "")
    request = event.get("request_parameters") or event.get("requestParameters") or {}
    if _event_group(event, request) != change.group_id:
        return None
    candidates: list[tuple[Rule | None, dict[str, Direction | None]]] = []
    if change.kind in ("added", "changed"):
        candidates.append((change.new, ADDING))
    if change.kind in ("removed", "changed"):
        candidates.append((change.old, REMOVING))
    if change.kind == "changed":
        candidates += [(change.new, MODIFYING), (change.old, MODIFYING)]
    permissions = [_normalised(p) for p in _permissions(request)]
    permissions = [p for p in permissions if p]
    quality = None
    for rule, names in candidates:
        if rule is None or name not in names:
            continue
        direction = names[name]
        if direction is not None and direction is not rule.direction:
            continue
        if any(_matches(rule, p) for p in permissions):
            return "rule"
        if not permissions:
            quality = "group"
    return quality


def attach_events(changes: Sequence[RuleChange],
                  events: Iterable[Mapping[str, Any]]) -> list[RuleChange]:
    """Attach to each change the events that explain it, oldest first, each with ``match``
    ``rule`` (request names the rule) or ``group`` (request names only the group)."""
    ordered = sorted(events, key=lambda e: str(e.get("time") or e.get("eventTime") or ""))
    for change in changes:
        for event in ordered:
            quality = _explains(change, event)
            if quality is not None:
                change.events.append({**event, "match": quality})
    return list(changes)
