"""Shadowed, redundant and conflicting rules."""

from __future__ import annotations

from ipaddress import ip_network

from tests.audit.network._support import aliyun_snapshot, aws_snapshot
from trailguard.audit.network.analysis import covered_by, pools, rule_issues
from trailguard.audit.network.model import Action, Direction, Peer, PortRange, Rule, Snapshot


def _rule(ports: tuple[int, int], cidr: str, action: Action = Action.ACCEPT, priority: int = 1,
          protocol: str = "tcp", rule_id: str = "") -> Rule:
    return Rule("sg-t", Direction.INGRESS, protocol, PortRange(*ports),
                Peer(cidr=ip_network(cidr)), action, priority, rule_id)


def _issues(snapshot: Snapshot) -> set[tuple[str, str]]:
    return {(i.kind, i.rule.rule_id) for i in rule_issues(snapshot)}


def test_alibaba_issues_in_fixture():
    found = _issues(aliyun_snapshot())
    assert ("shadowed", "sgr-web-ssh-open") in found       # accept under a priority-10 drop
    assert ("shadowed", "sgr-ops-mysql-block") in found    # drop under a priority-5 accept
    assert ("shadowed", "sgr-ops-dns") in found            # equal priority: drop wins
    assert ("conflict", "sgr-ops-dns") in found
    assert ("redundant", "sgr-ops-dup") in found           # inside 3000/4000, same action
    assert not any(rule_id == "sgr-web-http" for _, rule_id in found)


def test_pools_follow_interfaces():
    assert pools(aliyun_snapshot()) == {
        ("sg-bp1ops", "sg-bp1web"): ("i-bp1web01/eni-bp1web01a",),
        ("sg-bp1eni",): ("i-bp1web01/eni-bp1web01b",),
        ("sg-bp1adv",): ("i-bp1iso01/eni-bp1iso01a",),
    }


def test_coverage_needs_the_union_of_several_rules():
    target = _rule((10, 30), "1.2.3.0/24")
    parts = [_rule((10, 19), "1.2.0.0/16"), _rule((20, 30), "1.2.3.0/25"),
             _rule((20, 30), "1.2.3.128/25", Action.DROP)]
    deciders = covered_by(target, parts)
    assert deciders is not None and len(deciders) == 3
    assert covered_by(target, parts[:2]) is None


def test_all_protocol_rule_is_covered_only_by_all_protocol_rules():
    everything = _rule((1, 65535), "0.0.0.0/0", protocol="all")
    per_protocol = [_rule((1, 65535), "0.0.0.0/0", protocol=p) for p in ("tcp", "udp", "icmp")]
    assert covered_by(everything, per_protocol) is None
    assert covered_by(everything, [_rule((1, 65535), "0.0.0.0/0", protocol="all")]) is not None


def test_aws_redundant_group_rule_and_acl_entry():
    found = _issues(aws_snapshot())
    assert ("redundant", "ingress:tcp:5432/5432:10.1.0.0/16") in found
    assert ("shadowed", "110") in found
    assert not any(rule_id == "*" for _, rule_id in found)
