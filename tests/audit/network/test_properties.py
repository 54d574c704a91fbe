"""Property tests: the analyser against a brute-force evaluator written independently here.

Random rule sets (few priorities so ties are common, accept and drop, overlapping port ranges and
CIDRs, IPv4 and IPv6) are evaluated at every range boundary +-1, at random ports, and from the
boundaries of every CIDR plus fixed public and private addresses. ``decide`` must agree with the
brute force everywhere, and the swept exposure must contain exactly the Internet points the brute
force accepts, each with the rule the brute force names.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

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


@st.composite
def alibaba_rule(draw: st.DrawFn) -> dict[str, object]:
    return {"protocol": draw(st.sampled_from(["tcp", "udp", "icmp", "all"])),
            "ports": draw(port_ranges), "cidr": draw(cidrs),
            "action": draw(st.sampled_from([Action.ACCEPT, Action.DROP])),
            "priority": draw(st.integers(1, 4))}


def _rule(group: str, index: int, spec: dict[str, object], action: Action,
          priority: int) -> Rule:
    protocol = str(spec["protocol"])
    ports = spec["ports"] if protocol in ("tcp", "udp") else PortRange()
    assert isinstance(ports, PortRange)
    return Rule(group, Direction.INGRESS, protocol, ports,
                Peer(cidr=ipaddress.ip_network(str(spec["cidr"]))), action, priority,
                f"{group}-r{index}")


def _matches(rule: Rule, protocol: str, port: int, address: ipaddress.IPv4Address |
             ipaddress.IPv6Address) -> bool:
    cidr = rule.peer.cidr
    assert cidr is not None
    return (rule.protocol in ("all", protocol)
            and (protocol not in ("tcp", "udp") or rule.ports.low <= port <= rule.ports.high)
            and cidr.version == address.version and address in cidr)


def _points(rules: Sequence[Rule], extra_ports: Sequence[int]) -> tuple[list[int], list[str]]:
    port_set = {1, 65535, *extra_ports}
    sources = set(FIXED_SOURCES)
    for rule in rules:
        for p in (rule.ports.low - 1, rule.ports.low, rule.ports.high, rule.ports.high + 1):
            if 1 <= p <= 65535:
                port_set.add(p)
        cidr = rule.peer.cidr
        assert cidr is not None
        low, high = int(cidr.network_address), int(cidr.broadcast_address)
        top = 2**32 - 1 if cidr.version == 4 else 2**128 - 1
        factory = ipaddress.IPv4Address if cidr.version == 4 else ipaddress.IPv6Address
        sources |= {str(factory(v)) for v in (low - 1, low, high, high + 1) if 0 <= v <= top}
    return sorted(port_set), sorted(sources)


def _check_exposures(found: list[Exposure], expected: dict[tuple[str, int, str], object]) -> None:
    """``expected`` maps every sampled Internet point to the accepting rule key (or is absent)."""
    for (protocol, port, source), key in expected.items():
        address = ipaddress.ip_address(source)
        hits = [e for e in found if e.protocol == protocol and e.contains(port, address)]
        assert len(hits) <= 1, (protocol, port, source, hits)
        got = (hits[0].rule, hits[0].acl_entry) if hits else None
        assert got == key, (protocol, port, source, got, key)
    seen = {(e.protocol, e.family, e.rule, e.acl_entry, e.address_ranges, e.ports.low,
             e.ports.high) for e in found}
    for protocol, family, rule, acl, ranges, low, high in seen:  # maximal port ranges
        assert not any(p == protocol and f == family and r == rule and a == acl and g == ranges
                       and (lo == high + 1 or hi == low - 1)
                       for p, f, r, a, g, lo, hi in seen)


@SETTINGS
@given(groups=st.lists(st.lists(alibaba_rule(), max_size=6), min_size=1, max_size=3),
       extra_ports=st.lists(ports, max_size=6))
def test_alibaba_matches_brute_force(groups: list[list[dict[str, object]]],
                                     extra_ports: list[int]) -> None:
    built = {}
    for g, specs in enumerate(groups):
        gid = f"sg-{g}"
        built[gid] = SecurityGroup(gid, tuple(
            _rule(gid, i, s, s["action"], s["priority"])  # type: ignore[arg-type]
            for i, s in enumerate(specs)))
    eni = NetworkInterface("eni-1", tuple(built), instance_id="i-1")
    snap = Snapshot("aliyun", built, (eni,))
    rules = [r for g in built.values() for r in g.rules]
    order = [r for _, r in sorted(enumerate(rules), key=lambda ir: (
        ir[1].priority, ir[1].action is not Action.DROP, ir[0]))]
    port_list, sources = _points(rules, extra_ports)
    never_decide = {i.rule for i in rule_issues(snap) if i.kind in ("shadowed", "redundant")}
    expected: dict[tuple[str, int, str], object] = {}
    for protocol in PROTOCOLS:
        for port in port_list if protocol in ("tcp", "udp") else [1]:
            for source in sources:
                address = ipaddress.ip_address(source)
                first = next((r for r in order if _matches(r, protocol, port, address)), None)
                action = first.action if first else Action.DROP
                decision = alibaba.decide(snap, eni, "ingress", protocol, port, address)
                assert (decision.action, decision.rule) == (action, first)
                assert first not in never_decide
                if is_internet(address) and action is Action.ACCEPT:
                    expected[(protocol, port, source)] = (first, None)
                elif is_internet(address):
                    expected[(protocol, port, source)] = None
    _check_exposures(exposures(snap), expected)


@st.composite
def acl_entries(draw: st.DrawFn) -> list[Rule]:
    specs = draw(st.lists(alibaba_rule(), max_size=5))
    numbers = draw(st.lists(st.integers(1, 200), min_size=len(specs), max_size=len(specs),
                            unique=True))
    return [_rule("acl-1", n, s, s["action"], n)  # type: ignore[arg-type]
            for n, s in zip(numbers, specs, strict=True)]


@SETTINGS
@given(groups=st.lists(st.lists(alibaba_rule(), max_size=5), min_size=1, max_size=2),
       entries=st.one_of(st.none(), acl_entries()), extra_ports=st.lists(ports, max_size=6))
def test_aws_matches_brute_force(groups: list[list[dict[str, object]]],
                                 entries: list[Rule] | None, extra_ports: list[int]) -> None:
    built = {}
    for g, specs in enumerate(groups):
        gid = f"sg-{g}"
        built[gid] = SecurityGroup(gid, tuple(_rule(gid, i, s, Action.ACCEPT, 0)
                                              for i, s in enumerate(specs)), kind="aws")
    acls = () if entries is None else (NetworkAcl("acl-1", tuple(entries), ("subnet-1",)),)
    eni = NetworkInterface("eni-1", tuple(built), instance_id="i-1", subnet_id="subnet-1")
    snap = Snapshot("aws", built, (eni,), acls)
    sg_rules = [r for g in built.values() for r in g.rules]
    acl_rules = sorted(entries or [], key=lambda r: r.priority)
    port_list, sources = _points([*sg_rules, *acl_rules], extra_ports)
    expected: dict[tuple[str, int, str], object] = {}
    for protocol in PROTOCOLS:
        for port in port_list if protocol in ("tcp", "udp") else [1]:
            for source in sources:
                address = ipaddress.ip_address(source)
                sg = next((r for r in sg_rules if _matches(r, protocol, port, address)), None)
                acl = next((r for r in acl_rules if _matches(r, protocol, port, address)), None)
                acl_ok = entries is None or (acl is not None and acl.action is Action.ACCEPT)
                allowed = sg is not None and acl_ok
                decision = aws.decide(snap, eni, "ingress", protocol, port, address)
                assert decision.allowed == allowed, (protocol, port, source, decision.reason)
                if allowed:
                    assert decision.rule == sg
                if is_internet(address):
                    expected[(protocol, port, source)] = (sg, acl) if allowed else None
    _check_exposures(exposures(snap), expected)
