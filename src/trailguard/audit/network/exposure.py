"""Effective Internet exposure of each network interface, computed by sweeping rule boxes.

For every protocol and address family the ports x addresses plane is cut at every rule boundary
and at the edges of private space; each layer (see :mod:`evaluate`) is painted in its evaluation
order; the Internet cells that every layer accepts are grouped by the rule responsible and merged
into maximal port ranges. The result is exact for CIDR peers, including the CIDRs of a resolved
prefix list (one rule per entry, see :mod:`model`); group peers and unresolved prefix lists are
not Internet sources.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from trailguard.audit.network import alibaba, aws
from trailguard.audit.network.evaluate import Layer
from trailguard.audit.network.model import (
    FULL_PORTS,
    PORT_MAX,
    PORT_MIN,
    PORTED_PROTOCOLS,
    Action,
    Direction,
    IPAddress,
    NetworkInterface,
    PortRange,
    Rule,
    Snapshot,
)
from trailguard.audit.network.space import (
    SPAN,
    box_of,
    internet_cuts,
    is_internet_range,
    paint,
    protocols_of,
    segments,
)

_Key = tuple[Rule | None, Rule | None]


@dataclass(frozen=True, slots=True)
class Exposure:
    """Ports of one protocol reachable from Internet addresses, and the rule that lets them in.

    ``address_ranges`` are the Internet addresses (inclusive integer intervals of ``family``) that
    reach every port of ``ports`` through ``rule``; ``acl_entry`` is the AWS network-ACL entry
    that also allowed them.
    """

    interface: NetworkInterface
    protocol: str
    ports: PortRange
    family: int
    rule: Rule | None
    address_ranges: tuple[tuple[int, int], ...]
    acl_entry: Rule | None = None

    @property
    def source(self) -> str:
        """The responsible rule's peer CIDR (what the rule says, with its prefix list), or
        ``default``."""
        return str(self.rule.peer) if self.rule is not None else "default"

    @property
    def whole_internet(self) -> bool:
        """True when no Internet address of the family is left out."""
        low, high = SPAN[self.family]
        return sum(h - lo + 1 for lo, h in self.address_ranges) == sum(
            h - lo + 1 for lo, h in _internet_ranges(self.family, low, high))

    def reachable(self, limit: int = 16) -> list[str]:
        """The reaching addresses as CIDRs (at most ``limit``, then ``...``)."""
        factory = ipaddress.IPv4Address if self.family == 4 else ipaddress.IPv6Address
        cidrs: list[str] = []
        for low, high in self.address_ranges:
            cidrs += [str(n) for n in ipaddress.summarize_address_range(factory(low),
                                                                         factory(high))]
        return cidrs if len(cidrs) <= limit else [*cidrs[:limit], "..."]

    def contains(self, port: int | None, address: IPAddress) -> bool:
        if address.version != self.family:
            return False
        if self.protocol in PORTED_PROTOCOLS and (port is None or port not in self.ports):
            return False
        value = int(address)
        return any(low <= value <= high for low, high in self.address_ranges)

    def evidence(self) -> dict[str, Any]:
        return {
            "instance": self.interface.instance_id or None,
            "instance_name": self.interface.instance_name or None,
            "interface": self.interface.interface_id,
            "public_ips": list(self.interface.public_ips),
            "protocol": self.protocol,
            "port_range": str(self.ports) if self.protocol in PORTED_PROTOCOLS else "all",
            "source": self.source,
            "whole_internet": self.whole_internet,
            "reachable_from": self.reachable(),
            "rule": self.rule.summary() if self.rule is not None else None,
            "network_acl_entry": self.acl_entry.summary() if self.acl_entry else None,
        }


def _internet_ranges(family: int, low: int, high: int) -> list[tuple[int, int]]:
    return [(a, b) for a, b in segments(internet_cuts(family), low, high)
            if is_internet_range(family, a, b)]


def _merge_indexes(indexes: Sequence[int], addrs: list[tuple[int, int]]
                   ) -> tuple[tuple[int, int], ...]:
    ranges: list[tuple[int, int]] = []
    for i in indexes:
        low, high = addrs[i]
        if ranges and ranges[-1][1] + 1 == low:
            ranges[-1] = (ranges[-1][0], high)
        else:
            ranges.append((low, high))
    return tuple(ranges)


def sweep(interface: NetworkInterface, layers: Sequence[Layer], protocol: str,
           family: int) -> Iterator[Exposure]:
    items = [[(box, rule) for rule in lay.rules
              if (box := box_of(rule, protocol, family)) is not None] for lay in layers]
    if not items[0] and layers[0].default is Action.DROP:
        return
    port_cuts: set[int] = set()
    addr_cuts = internet_cuts(family)
    for layer_items in items:
        for box, _ in layer_items:
            port_cuts |= {box.port_low, box.port_high + 1}
            addr_cuts |= {box.addr_low, box.addr_high + 1}
    ports = (segments(port_cuts, PORT_MIN, PORT_MAX) if protocol in PORTED_PROTOCOLS
             else [(PORT_MIN, PORT_MAX)])
    addrs = segments(addr_cuts, *SPAN[family])
    grids = [paint(layer_items, ports, addrs) for layer_items in items]
    public = [i for i, (a, b) in enumerate(addrs) if is_internet_range(family, a, b)]
    open_runs: dict[tuple[_Key, tuple[int, ...]], int] = {}

    def close(run: tuple[_Key, tuple[int, ...]], start: int, end: int) -> Exposure:
        (rule, acl_entry), indexes = run
        span = PortRange(ports[start][0], ports[end][1])
        return Exposure(interface, protocol, span if protocol in PORTED_PROTOCOLS else FULL_PORTS,
                        family, rule, _merge_indexes(indexes, addrs), acl_entry)

    for pi in range(len(ports)):
        by_key: dict[_Key, list[int]] = {}
        for ai in public:
            picked: list[Rule | None] = []
            for lay, grid in zip(layers, grids, strict=True):
                rule = grid.cells[pi][ai]
                if (rule.action if rule is not None else lay.default) is not Action.ACCEPT:
                    break
                picked.append(rule)
            else:
                key = (picked[0], picked[1] if len(picked) > 1 else None)
                by_key.setdefault(key, []).append(ai)
        row = {(key, tuple(indexes)) for key, indexes in by_key.items()}
        for run in [r for r in open_runs if r not in row]:
            yield close(run, open_runs.pop(run), pi - 1)
        for run in row:
            open_runs.setdefault(run, pi)
    for run, start in open_runs.items():
        yield close(run, start, len(ports) - 1)


def provider_layers(snapshot: Snapshot, interface: NetworkInterface,
                    direction: Direction = Direction.INGRESS) -> list[Layer]:
    if snapshot.provider == "aliyun":
        return alibaba.layers(snapshot, interface, direction)
    return aws.layers(snapshot, interface, direction)


def interface_exposures(snapshot: Snapshot, interface: NetworkInterface) -> list[Exposure]:
    """Every Internet exposure of one interface, per protocol, family and responsible rule."""
    layers = provider_layers(snapshot, interface)
    protocols = protocols_of(r for lay in layers for r in lay.rules)
    found = [e for protocol in protocols for family in (4, 6)
             for e in sweep(interface, layers, protocol, family)]
    return sorted(found, key=lambda e: (e.protocol, e.family, e.ports))


def exposures(snapshot: Snapshot) -> list[Exposure]:
    """Internet exposure of every interface in the snapshot."""
    return [e for interface in snapshot.interfaces
            for e in interface_exposures(snapshot, interface)]

