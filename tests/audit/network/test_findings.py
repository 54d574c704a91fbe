"""Findings as data: the check registry, CIS ids and remediation."""

from __future__ import annotations

import json

from tests.audit.network._support import aliyun_snapshot, aws_snapshot
from trailguard.audit.network.findings import CHECKS, Check, Finding, run_checks


def _by_check(findings: list[Finding]) -> dict[str, list[Finding]]:
    result: dict[str, list[Finding]] = {}
    for finding in findings:
        result.setdefault(finding.check, []).append(finding)
    return result


def test_registry_ids_are_stable_slugs_with_metadata():
    assert set(CHECKS) >= {"sg-internet-admin-port", "sg-internet-exposure", "sg-shadowed-rule",
                           "sg-redundant-rule", "sg-priority-conflict", "sg-broad-port-range",
                           "sg-broad-cidr", "nacl-internet-admin-port"}
    for check_id, cls in CHECKS.items():
        assert issubclass(cls, Check) and check_id == cls.ID
        assert cls.SEVERITY in {"info", "low", "medium", "high", "critical"} and cls.TITLE


def test_alibaba_admin_ports_follow_effective_exposure():
    found = _by_check(run_checks(aliyun_snapshot()))
    admin = {(f.resource, f.evidence["port"]): f for f in found["sg-internet-admin-port"]}
    assert set(admin) == {("i-bp1web01/eni-bp1web01a", 3306), ("i-bp1web01/eni-bp1web01a", 3389),
                          ("i-bp1web01/eni-bp1web01b", 6379)}  # 22 is closed by priority
    rdp = admin[("i-bp1web01/eni-bp1web01a", 3389)]
    assert rdp.cis == "4.4" and rdp.cis_benchmark is not None and "Alibaba" in rdp.cis_benchmark
    assert rdp.severity == "critical" and rdp.rule is not None
    assert rdp.rule["rule_id"] == "sgr-ops-range"
    assert rdp.remediation["cli"].startswith(
        "aliyun ecs RevokeSecurityGroup --RegionId cn-hangzhou --SecurityGroupId sg-bp1ops")
    assert "alicloud_security_group_rule" in rdp.remediation["terraform"]
    assert admin[("i-bp1web01/eni-bp1web01a", 3306)].cis is None
    json.dumps([f.to_dict() for f in run_checks(aliyun_snapshot())])  # plain data


def test_shadowed_drop_is_high_and_suggests_raising_priority():
    found = _by_check(run_checks(aliyun_snapshot(), only=["sg-shadowed-rule"]))
    drop = next(f for f in found["sg-shadowed-rule"]
                if f.rule and f.rule["rule_id"] == "sgr-ops-mysql-block")
    assert drop.severity == "high"
    assert "ModifySecurityGroupRule" in drop.remediation["cli"]
    assert drop.evidence["decided_by"][0]["rule_id"] == "sgr-ops-range"


def test_aws_cis_and_remediation():
    found = _by_check(run_checks(aws_snapshot()))
    ssh = next(f for f in found["sg-internet-admin-port"] if f.evidence["port"] == 22)
    assert ssh.cis == "5.2" and ssh.severity == "high"  # the ACL narrows it to a /24
    assert ssh.evidence["reachable_from"] == ["203.0.113.0/24"]
    assert ssh.remediation["cli"].startswith(
        "aws ec2 revoke-security-group-ingress --region us-east-1 --group-id sg-0a11")
    assert '"CidrIp":"0.0.0.0/0"' in ssh.remediation["cli"]
    nacl = {(f.resource, f.evidence["port"]) for f in found["nacl-internet-admin-port"]}
    assert nacl == {("acl-0c33", 3389), ("acl-0d44", 22), ("acl-0d44", 3389)}
    assert all(f.cis == "5.1" for f in found["nacl-internet-admin-port"])


def test_ipv6_admin_port_maps_to_cis_5_3():
    from trailguard.audit.network.model import parse_aws

    snap = parse_aws({"SecurityGroups": [{"GroupId": "sg-6", "IpPermissions": [
        {"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389,
         "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}]}]},
        {"Reservations": [{"Instances": [{"InstanceId": "i-6", "SecurityGroups": [
            {"GroupId": "sg-6"}], "SubnetId": "subnet-6"}]}]})
    admin = run_checks(snap, only=["sg-internet-admin-port"])
    assert [(f.evidence["port"], f.cis) for f in admin] == [(3389, "5.3")]
    assert "Ipv6Ranges" in admin[0].remediation["cli"]


def test_broad_rules():
    found = _by_check(run_checks(aliyun_snapshot()))
    assert {f.rule["rule_id"] for f in found["sg-broad-port-range"] if f.rule} == {"sgr-ops-range"}
    broad_cidr = {f.rule["rule_id"] for f in found["sg-broad-cidr"] if f.rule}
    assert "sgr-web-http" not in broad_cidr and "sgr-eni-redis" in broad_cidr
