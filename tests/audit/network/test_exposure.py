"""Effective Internet exposure: maximal port ranges, the rule responsible, the reaching sources."""

from __future__ import annotations

import ipaddress

from tests.audit.network._support import aliyun_snapshot, aws_snapshot, interface
from trailguard.audit.network.exposure import exposures, interface_exposures
from trailguard.audit.network.model import Snapshot, parse_aliyun


def _summary(snapshot: Snapshot, interface_id: str) -> set[tuple[str, int, str, str | None]]:
    eni = interface(snapshot, interface_id)
    return {(e.protocol, e.family, str(e.ports), e.rule.rule_id if e.rule else None)
            for e in interface_exposures(snapshot, eni)}


def test_alibaba_primary_eni_exposure_respects_priorities():
    snap = aliyun_snapshot()
    assert _summary(snap, "eni-bp1web01a") == {
        ("icmp", 4, "1/65535", "sgr-web-icmp"),
        ("tcp", 4, "80/80", "sgr-web-http"),
        ("tcp", 4, "3000/4000", "sgr-ops-range"),  # 3306 too, despite the priority-50 drop
        ("tcp", 6, "443/443", "sgr-web-https6"),
    }  # no 22: the priority-10 drop closes it


def test_alibaba_secondary_eni_exposure_comes_from_its_own_group():
    assert _summary(aliyun_snapshot(), "eni-bp1web01b") == {
        ("tcp", 4, "6379/6379", "sgr-eni-redis")}


def test_advanced_group_without_rules_exposes_nothing():
    snap = aliyun_snapshot()
    assert interface_exposures(snap, interface(snap, "eni-bp1iso01a")) == []


def test_exposure_evidence_names_instance_rule_and_source():
    snap = aliyun_snapshot()
    exposure = next(e for e in exposures(snap) if e.rule and e.rule.rule_id == "sgr-eni-redis")
    evidence = exposure.evidence()
    assert evidence["instance"] == "i-bp1web01" and evidence["interface"] == "eni-bp1web01b"
    assert evidence["port_range"] == "6379/6379" and evidence["source"] == "0.0.0.0/0"
    assert evidence["rule"]["group_id"] == "sg-bp1eni" and evidence["rule"]["priority"] == 1
    assert evidence["whole_internet"] is True
    assert "10.0.0.0/8" not in exposure.reachable(limit=100)


def test_partial_drop_splits_port_range_and_sources():
    body = {"SecurityGroupId": "sg-p", "Permissions": {"Permission": [
        {"IpProtocol": "TCP", "PortRange": "1/65535", "SourceCidrIp": "0.0.0.0/0",
         "Policy": "Accept", "Priority": 50, "SecurityGroupRuleId": "sgr-all"},
        {"IpProtocol": "TCP", "PortRange": "100/200", "SourceCidrIp": "0.0.0.0/0",
         "Policy": "Drop", "Priority": 1, "SecurityGroupRuleId": "sgr-hole"},
        {"IpProtocol": "TCP", "PortRange": "300/300", "SourceCidrIp": "8.8.8.0/24",
         "Policy": "Drop", "Priority": 1, "SecurityGroupRuleId": "sgr-one"}]}}
    snap = parse_aliyun([body], instances={"Instances": {"Instance": [
        {"InstanceId": "i-p", "SecurityGroupIds": {"SecurityGroupId": ["sg-p"]}}]}})
    found = sorted((str(e.ports), e.whole_internet) for e in exposures(snap))
    assert found == [("1/99", True), ("201/299", True), ("300/300", False), ("301/65535", True)]
    partial = next(e for e in exposures(snap) if str(e.ports) == "300/300")
    assert not partial.contains(300, ipaddress.ip_address("8.8.8.8"))
    assert partial.contains(300, ipaddress.ip_address("8.8.9.8"))


def test_aws_exposure_is_groups_and_acl():
    snap = aws_snapshot()
    found = {(e.protocol, e.family, str(e.ports)): e for e in exposures(snap)}
    assert set(found) == {("icmp", 4, "1/65535"), ("tcp", 4, "22/22"),
                          ("tcp", 4, "8000/9999"), ("tcp", 6, "443/443")}
    ssh = found[("tcp", 4, "22/22")]
    assert ssh.reachable() == ["203.0.113.0/24"] and not ssh.whole_internet
    assert ssh.acl_entry is not None and ssh.acl_entry.rule_id == "90"
    assert ssh.source == "0.0.0.0/0"
