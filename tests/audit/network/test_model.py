"""Parsing raw Alibaba and AWS response bodies into the provider-neutral model."""

from __future__ import annotations

import ipaddress

import pytest

from tests.audit.network._support import aliyun_snapshot, aws_snapshot, interface
from trailguard.audit.network.model import (
    FULL_PORTS,
    Action,
    Direction,
    NetworkModelError,
    PortRange,
    aliyun_group,
    aliyun_rule,
    normalise_protocol,
)


def test_alibaba_groups_kinds_and_inner_access():
    snap = aliyun_snapshot()
    assert snap.groups["sg-bp1web"].kind == "basic"
    assert snap.groups["sg-bp1web"].inner_access is Action.ACCEPT
    assert snap.groups["sg-bp1ops"].inner_access is Action.DROP
    assert snap.groups["sg-bp1adv"].kind == "advanced"
    assert snap.groups["sg-bp1adv"].inner_access is Action.DROP


def test_alibaba_rule_fields_priority_string_or_int_and_case():
    web = aliyun_snapshot().groups["sg-bp1web"]
    by_id = {r.rule_id: r for r in web.rules}
    http = by_id["sgr-web-http"]
    assert (http.protocol, http.ports, http.priority, http.action) == (
        "tcp", PortRange(80, 80), 1, Action.ACCEPT)
    assert by_id["sgr-web-ssh-block"].action is Action.DROP
    assert by_id["sgr-web-ssh-block"].priority == 10
    assert by_id["sgr-web-https6"].peer.cidr == ipaddress.ip_network("::/0")
    assert by_id["sgr-web-icmp"].ports == FULL_PORTS
    egress = by_id["sgr-web-egress"]
    assert egress.direction is Direction.EGRESS and egress.protocol == "all"
    assert str(egress.peer) == "0.0.0.0/0"


def test_alibaba_minimal_permission_uses_api_defaults():
    rule = aliyun_rule("sg-x", {"IpProtocol": "tcp", "PortRange": "1/200",
                                "SourceGroupId": "sg-y"})
    assert rule.direction is Direction.INGRESS and rule.priority == 1
    assert rule.action is Action.ACCEPT and rule.peer.group_id == "sg-y"
    both = aliyun_rule("sg-x", {"PortRange": "-1/-1", "SourceCidrIp": "1.2.3.4",
                                "SourceGroupId": "sg-y", "IpProtocol": "ALL"})
    assert str(both.peer) == "1.2.3.4/32"  # a CIDR wins over a group
    assert both.ports == FULL_PORTS


def test_alibaba_bad_bodies_raise():
    with pytest.raises(NetworkModelError):
        aliyun_group({"Permissions": {"Permission": []}})
    with pytest.raises(NetworkModelError):
        aliyun_rule("sg-x", {"IpProtocol": "TCP", "PortRange": "22/22", "SourceCidrIp": "bad"})


def test_alibaba_interfaces_primary_carries_instance_groups_secondary_its_own():
    snap = aliyun_snapshot()
    primary = interface(snap, "eni-bp1web01a")
    secondary = interface(snap, "eni-bp1web01b")
    assert primary.group_ids == ("sg-bp1web", "sg-bp1ops") and primary.primary
    assert primary.public_ips == ("47.96.1.10",)
    assert secondary.group_ids == ("sg-bp1eni",) and not secondary.primary
    assert secondary.public_ips == ("47.96.1.11",)
    assert secondary.instance_id == "i-bp1web01"
    assert interface(snap, "eni-bp1iso01a").public_ips == ("47.96.2.20",)


def test_protocol_and_port_normalisation():
    assert [normalise_protocol(p) for p in ("TCP", "6", "-1", "ALL", "ICMPv6", "50")] == [
        "tcp", "tcp", "all", "all", "icmpv6", "50"]
    assert PortRange.parse("-1/-1") == FULL_PORTS
    assert PortRange.clamp(0, 65535) == FULL_PORTS
    with pytest.raises(NetworkModelError):
        PortRange(10, 5)


def test_aws_groups_acls_and_interfaces():
    snap = aws_snapshot()
    bastion = snap.groups["sg-0a11"]
    ingress = [r for r in bastion.rules if r.direction is Direction.INGRESS]
    assert {str(r.peer) for r in ingress} == {"0.0.0.0/0", "::/0"}
    icmp = next(r for r in ingress if r.protocol == "icmp")
    assert icmp.ports == FULL_PORTS
    app = snap.groups["sg-0b22"]
    assert any(r.peer.group_id == "sg-0a11" and r.protocol == "all" for r in app.rules)
    assert next(r for r in app.rules if str(r.peer) == "10.0.0.0/8").ports == FULL_PORTS
    eni = interface(snap, "eni-0aaa")
    assert eni.group_ids == ("sg-0a11", "sg-0b22") and eni.subnet_id == "subnet-01"
    assert eni.public_ips == ("54.1.2.3",) and eni.instance_name == "bastion-1"
    acl = next(a for a in snap.acls if a.acl_id == "acl-0c33")
    assert acl.subnet_ids == ("subnet-01",)
    star = [e for e in acl.entries if e.rule_id == "*"]
    assert len(star) == 2 and all(e.action is Action.DROP for e in star)
