"""First-match evaluation shared by the providers: layers of ordered rules and their decisions.

Each provider turns the groups and ACLs on an interface into one or more :class:`Layer`: an ordered
rule list whose first match decides, with a default when nothing matches. Alibaba has one layer
(its pooled groups); AWS has two (the security groups, then the subnet's network ACL) and a flow
passes only when every layer accepts it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field

from trailguard.audit.network.model import (
    PORTED_PROTOCOLS,
    Action,
    IPAddress,
    Rule,
    normalise_protocol,
)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """The other end of a flow: an address, and the groups / prefix lists it belongs to."""

    address: IPAddress | None = None
    groups: frozenset[str] = frozenset()
    prefix_lists: frozenset[str] = frozenset()

    @classmethod
    def of(cls, value: Endpoint | IPAddress | str) -> Endpoint:
        """An endpoint from an address (``"203.0.113.7"``), a group id (``"sg-..."``) or itself."""
        if isinstance(value, Endpoint):
            return value
        if isinstance(value, str) and value.startswith("sg-"):
            return cls(groups=frozenset({value}))
        if isinstance(value, str) and value.startswith("pl-"):
            return cls(prefix_lists=frozenset({value}))
        return cls(address=ipaddress.ip_address(value))


@dataclass(frozen=True, slots=True)
class Decision:
    """What happens to a flow, the rule that decided it (None for a default) and why."""

    action: Action
    rule: Rule | None
    reason: str
    layers: tuple[Decision, ...] = field(default=(), compare=False)

    @property
    def allowed(self) -> bool:
        return self.action is Action.ACCEPT


def rule_matches(rule: Rule, protocol: str, port: int | None, peer: Endpoint) -> bool:
    """Does the rule match this protocol, port (ignored for port-less protocols) and peer?"""
    protocol = normalise_protocol(protocol)
    if rule.protocol not in ("all", protocol):
        return False
    if protocol in PORTED_PROTOCOLS and (port is None or port not in rule.ports):
        return False
    target = rule.peer
    if target.prefix_list_id and target.prefix_list_id in peer.prefix_lists:
        return True  # the peer is declared a member of the list
    if target.cidr is not None:
        address = peer.address
        return address is not None and address.version == target.cidr.version \
            and address in target.cidr
    if target.group_id:
        return target.group_id in peer.groups
    return False


@dataclass(frozen=True, slots=True)
class Layer:
    """Rules in evaluation order; the first match decides, else ``default``."""

    name: str
    rules: Sequence[Rule]
    default: Action
    default_reason: str = "no rule matches"

    def decide(self, protocol: str, port: int | None, peer: Endpoint) -> Decision:
        for rule in self.rules:
            if rule_matches(rule, protocol, port, peer):
                return Decision(rule.action, rule, f"{self.name}: first match {rule.label}")
        return Decision(self.default, None, f"{self.name}: {self.default_reason}")


def combine(decisions: Sequence[Decision]) -> Decision:
    """All layers must accept; the first refusing layer explains a drop."""
    for decision in decisions:
        if not decision.allowed:
            return Decision(Action.DROP, decision.rule, decision.reason, tuple(decisions))
    first = decisions[0]
    return Decision(Action.ACCEPT, first.rule,
                    "; ".join(d.reason for d in decisions), tuple(decisions))
