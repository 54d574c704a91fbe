"""Property tests: the analyser against a brute-force evaluator written independently here.

Random rule sets (few priorities so ties are common, accept and drop, overlapping port ranges and
CIDRs, IPv4 and IPv6, prefix lists of several possibly overlapping CIDRs and one list whose
entries are unknown) are evaluated at every range boundary +-1, at random ports, and from the
boundaries of every CIDR plus fixed public and private addresses. ``decide`` must agree with the
brute force everywhere, and the swept exposure must contain exactly the Internet points the brute
force accepts, each with the rule the brute force names. The brute force reads a prefix-list rule
as written (any entry matches, as listed); the analyser's rule is one part of it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trailguard.audit.network import alibaba, aws
from trailguard.audit.network.analysis import rule_issues
from trailguard.audit.network.exposure import Exposure, exposures
from trailguard.audit.network.model import (
    Action,
    Direction,
    NetworkAcl,
    NetworkInterface,
    Peer,
    PortRange,
    Rule,
    SecurityGroup,
    Snapshot,
    resolve_prefix_list,
)
from trailguard.audit.network.space import is_internet

SETTINGS = settings(max_examples=120, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
NAMED_CIDRS = ["0.0.0.0/0", "1.0.0.0/8", "1.2.0.0/16", "1.2.3.0/24", "1.2.3.4/32", "10.0.0.0/8",
               "8.0.0.0/5", "172.16.0.0/12", "100.64.0.0/10", "192.0.0.0/2", "::/0",
               "2001:db8::/32", "2001:db8::/64", "fc00::/7", "2000::/3"]
FIXED_SOURCES = ["8.8.8.8", "1.2.3.4", "1.2.3.5", "10.1.1.1", "172.16.5.5", "100.64.0.1",
                 "0.0.0.1", "255.255.255.255", "2001:db8::1", "2400:cb00::1", "fd00::1"]
PROTOCOLS = ["tcp", "udp", "icmp", "gre"]
INTERESTING_PORTS = [1, 21, 22, 23, 80, 443, 1000, 3306, 3389, 65534, 65535]

ports = st.one_of(st.sampled_from(INTERESTING_PORTS), st.integers(1, 65535))
random_v4 = st.builds(lambda a, p: str(ipaddress.ip_network((a, p), strict=False)),
                      st.integers(0, 2**32 - 1), st.integers(0, 32))
cidrs = st.one_of(st.sampled_from(NAMED_CIDRS), random_v4)
port_ranges = st.tuples(ports, ports).map(lambda t: PortRange(min(t), max(t)))


PREFIX_LIST_IDS = ["pl-a", "pl-b", "pl-c", "pl-unknown"]
"""Lists a rule may name; ``pl-unknown`` is never in the drawn mapping (its entries are unknown)."""

prefix_lists = st.fixed_dictionaries({
    list_id: st.lists(cidrs, min_size=1, max_size=4) for list_id in PREFIX_LIST_IDS[:-1]})


@st.composite
def alibaba_rule(draw: st.DrawFn, with_prefix_lists: bool = True) -> dict[str, object]:
    peer = draw(st.one_of(cidrs, st.sampled_from(PREFIX_LIST_IDS))) if with_prefix_lists \
        else draw(cidrs)
    return {"protocol": draw(st.sampled_from(["tcp", "udp", "icmp", "all"])),
            "ports": draw(port_ranges), "peer": peer,
            "action": draw(st.sampled_from([Action.ACCEPT, Action.DROP])),
            "priority": draw(st.integers(1, 4))}


def _rule(group: str, index: int, spec: dict[str, object], action: Action,
          priority: int) -> Rule:
    """The rule as written (a prefix-list rule names the list only)."""
    protocol = str(spec["protocol"])
    ports = spec["ports"] if protocol in ("tcp", "udp") else PortRange()
    assert isinstance(ports, PortRange)
    peer_text = str(spec["peer"])
    peer = (Peer(prefix_list_id=peer_text) if peer_text.startswith("pl-")
            else Peer(cidr=ipaddress.ip_network(peer_text)))
    return Rule(group, Direction.INGRESS, protocol, ports, peer, action, priority,
                f"{group}-r{index}")


def _group(group_id: str, written: Sequence[Rule], lists: Mapping[str, list[str]],
           kind: str = "basic") -> SecurityGroup:
    """What the parser builds: each prefix-list rule resolved into its parts."""
    return SecurityGroup(group_id, tuple(part for rule in written
                                         for part in resolve_prefix_list(rule, lists)), kind=kind)


def _networks(rule: Rule, lists: Mapping[str, list[str]]) -> list[ipaddress.IPv4Network |
                                                                   ipaddress.IPv6Network]:
    """The peer's networks as written: the CIDR, or every entry of the list as listed."""
    if rule.peer.cidr is not None:
        return [rule.peer.cidr]
    return [ipaddress.ip_network(c) for c in lists.get(str(rule.peer.prefix_list_id), [])]


def _matches(rule: Rule, protocol: str, port: int, address: ipaddress.IPv4Address |
             ipaddress.IPv6Address, lists: Mapping[str, list[str]] | None = None) -> bool:
    return (rule.protocol in ("all", protocol)
            and (protocol not in ("tcp", "udp") or rule.ports.low <= port <= rule.ports.high)
            and any(n.version == address.version and address in n
                    for n in _networks(rule, lists or {})))


def _points(rules: Sequence[Rule], extra_ports: Sequence[int],
            lists: Mapping[str, list[str]] | None = None) -> tuple[list[int], list[str]]:
    port_set = {1, 65535, *extra_ports}
    sources = set(FIXED_SOURCES)
    networks = [n for rule in rules for n in _networks(rule, lists or {})]
    for rule in rules:
        for p in (rule.ports.low - 1, rule.ports.low, rule.ports.high, rule.ports.high + 1):
            if 1 <= p <= 65535:
                port_set.add(p)
    for cidr in networks:
        low, high = int(cidr.network_address), int(cidr.broadcast_address)
        top = 2**32 - 1 if cidr.version == 4 else 2**128 - 1
        factory = ipaddress.IPv4Address if cidr.version == 4 else ipaddress.IPv6Address
        sources |= {str(factory(v)) for v in (low - 1, low, high, high + 1) if 0 <= v <= top}
    return sorted(port_set), sorted(sources)


def _check_exposures(found: list[Exposure], expected: dict[tuple[str, int, str], object]) -> None:
    """``expected`` maps every sampled Internet point to the accepting rule key (or is absent);
    the exposure's rule is compared as written."""
    for (protocol, port, source), key in expected.items():
        address = ipaddress.ip_address(source)
        hits = [e for e in found if e.protocol == protocol and e.contains(port, address)]
        assert len(hits) <= 1, (protocol, port, source, hits)
        rule = hits[0].rule if hits else None
        got = (rule.written if rule else None, hits[0].acl_entry) if hits else None
        assert got == key, (protocol, port, source, got, key)
    seen = {(e.protocol, e.family, e.rule, e.acl_entry, e.address_ranges, e.ports.low,
             e.ports.high) for e in found}
    for protocol, family, rule, acl, ranges, low, high in seen:  # maximal port ranges
        assert not any(p == protocol and f == family and r == rule and a == acl and g == ranges
                       and (lo == high + 1 or hi == low - 1)
                       for p, f, r, a, g, lo, hi in seen)


@SETTINGS
@given(groups=st.lists(st.lists(alibaba_rule(), max_size=6), min_size=1, max_size=3),
       lists=prefix_lists, extra_ports=st.lists(ports, max_size=6))
def test_alibaba_matches_brute_force(groups: list[list[dict[str, object]]],
                                     lists: dict[str, list[str]],
                                     extra_ports: list[int]) -> None:
    built = {}
    rules: list[Rule] = []  # as written
    for g, specs in enumerate(groups):
        gid = f"sg-{g}"
        written = [_rule(gid, i, s, s["action"], s["priority"])  # type: ignore[arg-type]
                   for i, s in enumerate(specs)]
        built[gid] = _group(gid, written, lists)
        rules += written
    eni = NetworkInterface("eni-1", tuple(built), instance_id="i-1")
    snap = Snapshot("aliyun", built, (eni,))
    order = [r for _, r in sorted(enumerate(rules), key=lambda ir: (
        ir[1].priority, ir[1].action is not Action.DROP, ir[0]))]
    port_list, sources = _points(rules, extra_ports, lists)
    never_decide = {i.rule for i in rule_issues(snap) if i.kind in ("shadowed", "redundant")}
    expected: dict[tuple[str, int, str], object] = {}
    for protocol in PROTOCOLS:
        for port in port_list if protocol in ("tcp", "udp") else [1]:
            for source in sources:
                address = ipaddress.ip_address(source)
                first = next((r for r in order if _matches(r, protocol, port, address, lists)),
                             None)
                action = first.action if first else Action.DROP
                decision = alibaba.decide(snap, eni, "ingress", protocol, port, address)
                decided = decision.rule.written if decision.rule else None
                assert (decision.action, decided) == (action, first)
                assert first not in never_decide
                if is_internet(address) and action is Action.ACCEPT:
                    expected[(protocol, port, source)] = (first, None)
                elif is_internet(address):
                    expected[(protocol, port, source)] = None
    _check_exposures(exposures(snap), expected)


@st.composite
def acl_entries(draw: st.DrawFn) -> list[Rule]:
    specs = draw(st.lists(alibaba_rule(with_prefix_lists=False), max_size=5))
    numbers = draw(st.lists(st.integers(1, 200), min_size=len(specs), max_size=len(specs),
                            unique=True))
    return [_rule("acl-1", n, s, s["action"], n)  # type: ignore[arg-type]
            for n, s in zip(numbers, specs, strict=True)]


@SETTINGS
@given(groups=st.lists(st.lists(alibaba_rule(), max_size=5), min_size=1, max_size=2),
       lists=prefix_lists, entries=st.one_of(st.none(), acl_entries()),
       extra_ports=st.lists(ports, max_size=6))
def test_aws_matches_brute_force(groups: list[list[dict[str, object]]],
                                 lists: dict[str, list[str]], entries: list[Rule] | None,
                                 extra_ports: list[int]) -> None:
    built = {}
    sg_rules: list[Rule] = []  # as written
    for g, specs in enumerate(groups):
        gid = f"sg-{g}"
        written = [_rule(gid, i, s, Action.ACCEPT, 0) for i, s in enumerate(specs)]
        built[gid] = _group(gid, written, lists, kind="aws")
        sg_rules += written
    acls = () if entries is None else (NetworkAcl("acl-1", tuple(entries), ("subnet-1",)),)
    eni = NetworkInterface("eni-1", tuple(built), instance_id="i-1", subnet_id="subnet-1")
    snap = Snapshot("aws", built, (eni,), acls)
    acl_rules = sorted(entries or [], key=lambda r: r.priority)
    port_list, sources = _points([*sg_rules, *acl_rules], extra_ports, lists)
    expected: dict[tuple[str, int, str], object] = {}
    for protocol in PROTOCOLS:
        for port in port_list if protocol in ("tcp", "udp") else [1]:
            for source in sources:
                address = ipaddress.ip_address(source)
                sg = next((r for r in sg_rules if _matches(r, protocol, port, address, lists)),
                          None)
                acl = next((r for r in acl_rules if _matches(r, protocol, port, address)), None)
                acl_ok = entries is None or (acl is not None and acl.action is Action.ACCEPT)
                allowed = sg is not None and acl_ok
                decision = aws.decide(snap, eni, "ingress", protocol, port, address)
                assert decision.allowed == allowed, (protocol, port, source, decision.reason)
                if allowed:
                    assert decision.rule is not None and decision.rule.written == sg
                if is_internet(address):
                    expected[(protocol, port, source)] = (sg, acl) if allowed else None
    _check_exposures(exposures(snap), expected)
