"""AWS semantics: allow-only security groups in union, then the subnet's stateless network ACL.

* Security groups (awsdocs amazon-vpc-user-guide ``security-group-rules.md``): allow rules only;
  the rules of every group on the interface are aggregated; no match means no access. Egress is
  explicit: a new group carries an allow-all egress rule, and without one nothing leaves.
* Network ACLs (``vpc-network-acls.md``): entries are evaluated by rule number ascending, the
  first match applies, and the ``*`` rule (32767) denies the rest; stateless.

An inbound flow from the Internet is allowed only when the subnet's NACL and the groups both allow
it. Only the NACL direction of the flow itself is evaluated: the return traffic to the client's
ephemeral port depends on a source port the analyser does not know.
"""

from __future__ import annotations

from trailguard.audit.network.evaluate import Decision, Endpoint, Layer, combine
from trailguard.audit.network.model import (
    Action,
    Direction,
    IPAddress,
    NetworkAcl,
    NetworkInterface,
    Snapshot,
)


def acl_for(snapshot: Snapshot, interface: NetworkInterface) -> NetworkAcl | None:
    """The ACL associated with the interface's subnet, else the VPC's default ACL."""
    for acl in snapshot.acls:
        if interface.subnet_id and interface.subnet_id in acl.subnet_ids:
            return acl
    for acl in snapshot.acls:
        if acl.is_default and (not interface.vpc_id or acl.vpc_id == interface.vpc_id):
            return acl
    return None


def group_layer(snapshot: Snapshot, interface: NetworkInterface, direction: Direction) -> Layer:
    """The union of the groups' allow rules (order only chooses which rule is reported)."""
    rules = [r for g in snapshot.groups_of(interface) for r in g.rules if r.direction is direction]
    return Layer("security groups", rules, Action.DROP, "no security-group rule allows it")


def acl_layer(acl: NetworkAcl, direction: Direction) -> Layer:
    rules = sorted((e for e in acl.entries if e.direction is direction), key=lambda e: e.priority)
    return Layer(f"network ACL {acl.acl_id}", rules, Action.DROP, "implicit deny (*)")


def layers(snapshot: Snapshot, interface: NetworkInterface, direction: Direction) -> list[Layer]:
    """Security groups first (the responsible rule), then the network ACL when one is known."""
    result = [group_layer(snapshot, interface, direction)]
    acl = acl_for(snapshot, interface)
    if acl is not None:
        result.append(acl_layer(acl, direction))
    return result


def decide(snapshot: Snapshot, interface: NetworkInterface, direction: Direction | str,
           protocol: str, port: int | None, source: Endpoint | IPAddress | str) -> Decision:
    """Allowed only if every layer allows; the reason names the refusing layer."""
    direction = Direction(direction)
    peer = Endpoint.of(source)
    return combine([lay.decide(protocol, port, peer)
                    for lay in layers(snapshot, interface, direction)])
