"""Alibaba semantics: pooled groups, priority order, drop wins ties, basic/advanced defaults."""

from __future__ import annotations

from tests.audit.network._support import aliyun_snapshot, interface
from trailguard.audit.network import alibaba
from trailguard.audit.network.model import Action, Direction, Rule, parse_aliyun

INTERNET = "198.51.100.7"


def _priority_blind_open(rules: list[Rule], port: int) -> bool:
    """What Prowler/CloudSploit-style logic concludes: some accept rule from 0.0.0.0/0 covers it."""
    return any(r.action is Action.ACCEPT and str(r.peer) == "0.0.0.0/0" and port in r.ports
               for r in rules if r.direction is Direction.INGRESS)


def _priority_blind_closed(rules: list[Rule], port: int) -> bool:
    """The other naive reading: a drop rule for 0.0.0.0/0 covering the port closes it."""
    return any(r.action is Action.DROP and str(r.peer) == "0.0.0.0/0" and port in r.ports
               for r in rules if r.direction is Direction.INGRESS)


def test_higher_priority_drop_closes_22_that_priority_blind_logic_calls_open():
    snap = aliyun_snapshot()
    eni = interface(snap, "eni-bp1web01a")
    rules = [r for g in snap.groups_of(eni) for r in g.rules]
    assert _priority_blind_open(rules, 22)
    decision = alibaba.decide(snap, eni, "ingress", "tcp", 22, INTERNET)
    assert decision.action is Action.DROP
    assert decision.rule is not None and decision.rule.rule_id == "sgr-web-ssh-block"


def test_higher_priority_accept_opens_3306_that_priority_blind_logic_calls_closed():
    snap = aliyun_snapshot()
    eni = interface(snap, "eni-bp1web01a")
    rules = [r for g in snap.groups_of(eni) for r in g.rules]
    assert _priority_blind_closed(rules, 3306)
    decision = alibaba.decide(snap, eni, "ingress", "tcp", 3306, INTERNET)
    assert decision.action is Action.ACCEPT
    assert decision.rule is not None and decision.rule.rule_id == "sgr-ops-range"


def test_reverse_case_on_port_22_with_a_low_priority_drop():
    body = {"SecurityGroupId": "sg-r", "Permissions": {"Permission": [
        {"Direction": "ingress", "IpProtocol": "TCP", "PortRange": "22/22",
         "SourceCidrIp": "0.0.0.0/0", "Policy": "Drop", "Priority": 90},
        {"Direction": "ingress", "IpProtocol": "TCP", "PortRange": "1/1024",
         "SourceCidrIp": "0.0.0.0/0", "Policy": "Accept", "Priority": 2}]}}
    instances = {"Instances": {"Instance": [
        {"InstanceId": "i-r", "SecurityGroupIds": {"SecurityGroupId": ["sg-r"]}}]}}
    snap = parse_aliyun([body], instances=instances)
    eni = snap.interfaces[0]
    assert _priority_blind_closed(list(snap.groups["sg-r"].rules), 22)
    assert alibaba.decide(snap, eni, "ingress", "tcp", 22, INTERNET).allowed


def test_equal_priority_drop_beats_accept():
    snap = aliyun_snapshot()
    eni = interface(snap, "eni-bp1web01a")
    decision = alibaba.decide(snap, eni, "ingress", "udp", 53, "10.1.2.3")
    assert decision.action is Action.DROP
    assert decision.rule is not None and decision.rule.rule_id == "sgr-ops-udp-block"


def test_evaluation_order_sorts_priority_then_drop_first():
    snap = aliyun_snapshot()
    ordered = alibaba.pooled_rules(snap.groups_of(interface(snap, "eni-bp1web01a")),
                                   Direction.INGRESS)
    keys = [(r.priority, r.action is not Action.DROP) for r in ordered]
    assert keys == sorted(keys)


def test_basic_group_members_reach_each_other_despite_a_drop_rule():
    snap = aliyun_snapshot()
    eni = interface(snap, "eni-bp1web01a")
    decision = alibaba.decide(snap, eni, "ingress", "tcp", 22, "sg-bp1web")
    assert decision.allowed and decision.rule is None
    assert "InnerAccessPolicy" in decision.reason


def test_basic_group_with_drop_policy_lets_rules_decide():
    snap = aliyun_snapshot()
    eni = interface(snap, "eni-bp1web01a")
    assert not alibaba.decide(snap, eni, "ingress", "tcp", 9999, "sg-bp1ops").allowed
    from_web = alibaba.decide(snap, eni, "ingress", "tcp", 8080, "sg-bp1web")
    assert from_web.allowed


def test_advanced_group_defaults_deny_in_out_and_between_members():
    snap = aliyun_snapshot()
    eni = interface(snap, "eni-bp1iso01a")
    assert not alibaba.decide(snap, eni, "ingress", "tcp", 22, INTERNET).allowed
    assert not alibaba.decide(snap, eni, "ingress", "tcp", 22, "sg-bp1adv").allowed
    egress = alibaba.decide(snap, eni, "egress", "tcp", 443, INTERNET)
    assert not egress.allowed and egress.rule is None


def test_basic_group_default_egress_is_accept_and_ingress_drop():
    snap = aliyun_snapshot()
    eni = interface(snap, "eni-bp1web01b")  # sg-bp1eni: ingress rules only
    assert alibaba.decide(snap, eni, "egress", "udp", 123, INTERNET).allowed
    assert not alibaba.decide(snap, eni, "ingress", "tcp", 22, INTERNET).allowed


def test_secondary_eni_has_its_own_groups():
    snap = aliyun_snapshot()
    primary, secondary = interface(snap, "eni-bp1web01a"), interface(snap, "eni-bp1web01b")
    assert alibaba.decide(snap, secondary, "ingress", "tcp", 6379, INTERNET).allowed
    assert not alibaba.decide(snap, primary, "ingress", "tcp", 6379, INTERNET).allowed
    assert not alibaba.decide(snap, secondary, "ingress", "tcp", 80, INTERNET).allowed


def test_icmp_and_all_ports_rules():
    snap = aliyun_snapshot()
    eni = interface(snap, "eni-bp1web01a")
    assert alibaba.decide(snap, eni, "ingress", "icmp", None, INTERNET).allowed
    assert not alibaba.decide(snap, eni, "ingress", "gre", None, INTERNET).allowed
    assert alibaba.decide(snap, eni, "egress", "gre", None, INTERNET).allowed


def test_ipv6_any_source():
    snap = aliyun_snapshot()
    eni = interface(snap, "eni-bp1web01a")
    assert alibaba.decide(snap, eni, "ingress", "tcp", 443, "2001:db8::1").allowed
    assert not alibaba.decide(snap, eni, "ingress", "tcp", 443, INTERNET).allowed
    assert not alibaba.decide(snap, eni, "ingress", "tcp", 80, "2001:db8::1").allowed
