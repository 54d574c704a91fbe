"""Alibaba ECS security-group semantics.

Working model (../shared/reference/cloud.md section 2.1; Alibaba documents the parts, not one
algorithm): the rules of all groups on a network interface are pooled per direction and sorted by
``Priority`` ascending (1..100); at equal priority ``drop`` comes before ``accept``; the first
matching rule decides. Without a match the implicit default applies:

* ingress: drop;
* egress: accept for basic groups, drop for advanced ("enterprise") groups
  (https://help.aliyun.com/en/ecs/user-guide/security-group-rules: "Enterprise security groups deny
  both inbound and outbound traffic by default");
* traffic between members of a basic group whose ``InnerAccessPolicy`` is ``Accept`` is accepted
  *before* any user rule ("the Accept internal access control policy takes precedence over
  user-created security group rules", API ModifySecurityGroupPolicy). With ``Drop`` (and always
  in advanced groups) user rules decide and the default is drop.
"""

from __future__ import annotations

from trailguard.audit.network.evaluate import Decision, Endpoint, Layer
from trailguard.audit.network.model import (
    Action,
    Direction,
    IPAddress,
    NetworkInterface,
    Rule,
    SecurityGroup,
    Snapshot,
)

DEFAULT_ACTION: dict[tuple[str, Direction], Action] = {
    ("basic", Direction.INGRESS): Action.DROP,
    ("basic", Direction.EGRESS): Action.ACCEPT,
    ("advanced", Direction.INGRESS): Action.DROP,
    ("advanced", Direction.EGRESS): Action.DROP,
}
"""Implicit default when no rule matches, by group kind and direction."""


def evaluation_order(rules: list[Rule]) -> list[Rule]:
    """Priority ascending, drop before accept at equal priority, then the listed order."""
    indexed = sorted(enumerate(rules),
                     key=lambda ir: (ir[1].priority, ir[1].action is not Action.DROP, ir[0]))
    return [rule for _, rule in indexed]


def pooled_rules(groups: list[SecurityGroup], direction: Direction) -> list[Rule]:
    """All rules of all groups for one direction, in evaluation order."""
    return evaluation_order([r for g in groups for r in g.rules if r.direction is direction])


def default_action(groups: list[SecurityGroup], direction: Direction) -> Action:
    """Basic and advanced groups cannot share an interface; if they do, the stricter one wins."""
    actions = {DEFAULT_ACTION[(g.kind if g.kind == "advanced" else "basic", direction)]
               for g in groups} or {Action.DROP}
    return Action.DROP if Action.DROP in actions else Action.ACCEPT


def layer(groups: list[SecurityGroup], direction: Direction) -> Layer:
    """The single first-match layer of an Alibaba interface."""
    default = default_action(groups, direction)
    return Layer("security groups", pooled_rules(groups, direction), default,
                 f"no rule matches; default {default} ({direction})")


def decide(snapshot: Snapshot, interface: NetworkInterface, direction: Direction | str,
           protocol: str, port: int | None, source: Endpoint | IPAddress | str) -> Decision:
    """The decision for one flow at one interface (``source`` is the peer, also for egress)."""
    direction = Direction(direction)
    peer = Endpoint.of(source)
    groups = snapshot.groups_of(interface)
    for group in groups:
        if (group.kind == "basic" and group.inner_access is Action.ACCEPT
                and group.group_id in peer.groups):
            return Decision(Action.ACCEPT, None,
                            f"members of basic group {group.group_id} reach each other "
                            "(InnerAccessPolicy Accept overrides rules)")
    return layer(groups, direction).decide(protocol, port, peer)


def layers(snapshot: Snapshot, interface: NetworkInterface, direction: Direction) -> list[Layer]:
    """The layers a flow from an Internet address crosses (intra-group access does not apply)."""
    return [layer(snapshot.groups_of(interface), direction)]
