"""AWS semantics: union of allow-only groups, then the subnet's first-match network ACL."""

from __future__ import annotations

from tests.audit.network._support import aws_snapshot, interface
from trailguard.audit.network import aws
from trailguard.audit.network.model import Action, NetworkInterface


def test_groups_union_and_acl_narrows_ssh():
    snap = aws_snapshot()
    eni = interface(snap, "eni-0aaa")
    allowed = aws.decide(snap, eni, "ingress", "tcp", 22, "203.0.113.9")
    assert allowed.allowed and allowed.rule is not None and allowed.rule.group_id == "sg-0a11"
    refused = aws.decide(snap, eni, "ingress", "tcp", 22, "198.51.100.7")
    assert refused.action is Action.DROP
    assert refused.rule is not None and refused.rule.priority == 100
    assert "acl-0c33" in refused.reason


def test_group_refuses_what_the_acl_allows():
    snap = aws_snapshot()
    eni = interface(snap, "eni-0aaa")
    decision = aws.decide(snap, eni, "ingress", "tcp", 3306, "198.51.100.7")
    assert not decision.allowed and "security-group" in decision.reason
    assert aws.decide(snap, eni, "ingress", "tcp", 3306, "10.9.9.9").allowed


def test_group_reference_and_ipv6():
    snap = aws_snapshot()
    eni = interface(snap, "eni-0aaa")
    # a peer known only by its group has no address for the ACL entries to match
    assert aws.decide(snap, eni, "ingress", "udp", 500, "sg-0a11").allowed is False
    assert aws.decide(snap, eni, "ingress", "tcp", 443, "2001:db8::5").allowed
    assert not aws.decide(snap, eni, "ingress", "tcp", 443, "198.51.100.7").allowed


def test_default_acl_when_subnet_is_not_associated():
    snap = aws_snapshot()
    eni = NetworkInterface("eni-x", ("sg-0a11",), subnet_id="subnet-99", vpc_id="vpc-01")
    acl = aws.acl_for(snap, eni)
    assert acl is not None and acl.acl_id == "acl-0d44"
    assert aws.decide(snap, eni, "ingress", "tcp", 22, "198.51.100.7").allowed


def test_icmp_and_egress():
    snap = aws_snapshot()
    eni = interface(snap, "eni-0aaa")
    assert aws.decide(snap, eni, "ingress", "icmp", None, "198.51.100.7").allowed
    assert aws.decide(snap, eni, "egress", "tcp", 443, "198.51.100.7").allowed
