"""Rule spaces as boxes (ports x addresses) and a first-match sweep over them.

A rule matches, for one protocol, a box: an inclusive port interval times an inclusive interval
of one address space. Address spaces are the IPv4 and IPv6 integer lines, plus one single-point
space per security group or prefix list a rule may name (``sg:<id>``, ``pl:<id>``). The sweep cuts
both axes at every box boundary, so each elementary cell is either inside or outside every box;
it then paints each row in rule order, skipping painted cells. Nothing enumerates ports or
addresses one by one.
"""

from __future__ import annotations

import ipaddress
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from trailguard.audit.network.model import (
    ALL_PROTOCOLS,
    FULL_PORTS,
    PORTED_PROTOCOLS,
    IPAddress,
    IPNetwork,
    Rule,
)

T = TypeVar("T")
SpaceKey = int | str
"""4, 6, ``"sg:<group id>"`` or ``"pl:<prefix list id>"``."""

OTHER_PROTOCOL = "other"
"""Every IP protocol not named by any rule; only ``all`` rules match it."""

SPAN: dict[int, tuple[int, int]] = {4: (0, 2**32 - 1), 6: (0, 2**128 - 1)}

NON_INTERNET: tuple[IPNetwork, ...] = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "172.16.0.0/12", "192.168.0.0/16", "::1/128", "fc00::/7", "fe80::/10",
))
"""Private, shared (CGNAT, which Alibaba also uses inside its network), loopback and link-local
space. Every other address counts as an Internet source."""


def interval(network: IPNetwork) -> tuple[int, int]:
    """The inclusive integer interval of a CIDR."""
    return int(network.network_address), int(network.broadcast_address)


def is_internet(address: IPAddress) -> bool:
    """True unless the address lies in a private, shared, loopback or link-local range."""
    return not any(address.version == n.version and address in n for n in NON_INTERNET)


def is_internet_range(family: int, low: int, high: int) -> bool:
    """True if the whole interval avoids every non-Internet range (a sweep cell is all or none)."""
    for network in NON_INTERNET:
        if network.version == family:
            n_low, n_high = interval(network)
            if low <= n_high and n_low <= high:
                return False
    return True


def internet_cuts(family: int) -> set[int]:
    """Cut points that separate Internet space from private space."""
    cuts: set[int] = set()
    for network in NON_INTERNET:
        if network.version == family:
            low, high = interval(network)
            cuts |= {low, high + 1}
    return cuts


@dataclass(frozen=True, slots=True)
class Box:
    """Ports x addresses of one address space, both inclusive."""

    port_low: int
    port_high: int
    addr_low: int
    addr_high: int

    def overlaps(self, other: Box) -> bool:
        return (self.port_low <= other.port_high and other.port_low <= self.port_high
                and self.addr_low <= other.addr_high and other.addr_low <= self.addr_high)


def space_of(rule: Rule) -> tuple[SpaceKey, int, int] | None:
    """The address space and interval a rule's peer covers (None for an unusable rule)."""
    peer = rule.peer
    if peer.cidr is not None:
        low, high = interval(peer.cidr)
        return peer.cidr.version, low, high
    if peer.group_id:
        return f"sg:{peer.group_id}", 0, 0
    if peer.prefix_list_id:
        return f"pl:{peer.prefix_list_id}", 0, 0
    return None


def matches_protocol(rule: Rule, protocol: str) -> bool:
    return rule.protocol == ALL_PROTOCOLS or rule.protocol == protocol


def box_of(rule: Rule, protocol: str, space: SpaceKey) -> Box | None:
    """The box a rule covers for one protocol in one address space, or None."""
    where = space_of(rule)
    if where is None or where[0] != space or not matches_protocol(rule, protocol):
        return None
    ports = rule.ports if protocol in PORTED_PROTOCOLS else FULL_PORTS
    return Box(ports.low, ports.high, where[1], where[2])


def protocols_of(rules: Iterable[Rule]) -> list[str]:
    """Concrete protocols to sweep: the named ones, plus ``other`` when an ``all`` rule exists."""
    named = {r.protocol for r in rules}
    result = sorted(named - {ALL_PROTOCOLS})
    if ALL_PROTOCOLS in named:
        result = [*sorted(set(result) | {"tcp", "udp", "icmp", "icmpv6", "gre"}), OTHER_PROTOCOL]
    return result


def segments(cuts: Iterable[int], low: int, high: int) -> list[tuple[int, int]]:
    """Split [low, high] at every cut (a cut starts a new segment)."""
    points = sorted({c for c in cuts if low < c <= high})
    starts = [low, *points]
    ends = [p - 1 for p in points] + [high]
    return list(zip(starts, ends, strict=True))


def _find(nxt: list[int], i: int) -> int:
    root = i
    while nxt[root] != root:
        root = nxt[root]
    while nxt[i] != root:
        nxt[i], i = root, nxt[i]
    return root


@dataclass(frozen=True, slots=True)
class Grid(Generic[T]):
    """The first matching payload for every elementary cell (None where nothing matches)."""

    ports: list[tuple[int, int]]
    addrs: list[tuple[int, int]]
    cells: list[list[T | None]]


def paint(items: Sequence[tuple[Box, T]], ports: list[tuple[int, int]],
          addrs: list[tuple[int, int]]) -> Grid[T]:
    """First match per cell, in the order of ``items``; the segments must be elementary."""
    addr_starts = [a for a, _ in addrs]
    cells: list[list[T | None]] = []
    for port_low, port_high in ports:
        row: list[T | None] = [None] * len(addrs)
        nxt = list(range(len(addrs) + 1))
        for box, payload in items:
            if not (box.port_low <= port_low and port_high <= box.port_high):
                continue
            first = bisect_left(addr_starts, box.addr_low)
            last = bisect_right(addr_starts, box.addr_high) - 1
            i = _find(nxt, first)
            while i <= last:
                row[i] = payload
                nxt[i] = i + 1
                i = _find(nxt, i + 1)
        cells.append(row)
    return Grid(ports, addrs, cells)


def grid_for(items: Sequence[tuple[Box, T]], within: Box,
             extra_addr_cuts: Iterable[int] = ()) -> Grid[T]:
    """Paint ``items`` over the region ``within``, cut at every box boundary inside it."""
    port_cuts: set[int] = set()
    addr_cuts: set[int] = set(extra_addr_cuts)
    for box, _ in items:
        port_cuts |= {box.port_low, box.port_high + 1}
        addr_cuts |= {box.addr_low, box.addr_high + 1}
    return paint(items, segments(port_cuts, within.port_low, within.port_high),
                 segments(addr_cuts, within.addr_low, within.addr_high))


