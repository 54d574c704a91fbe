"""Rules naming a prefix list: resolved into one rule per CIDR, findings naming the list, and a
note when the list's entries are not in the export."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

from trailguard.audit.export import ExportReader, ExportWriter
from trailguard.audit.network.analysis import rule_issues
from trailguard.audit.network.diff import attach_events, diff
from trailguard.audit.network.findings import run_checks
from trailguard.audit.network.model import (
    Peer,
    aliyun_prefix_list_cidrs,
    aws_prefix_list_cidrs,
    parse_aliyun,
    parse_aws,
    prefix_list_networks,
)
from trailguard.audit.run import audit

INSTANCES = {"Instances": {"Instance": [{
    "InstanceId": "i-pl", "PublicIpAddress": {"IpAddress": ["47.96.9.9"]},
    "SecurityGroupIds": {"SecurityGroupId": ["sg-x"]}}]}}


def _permission(rule_id: str, port: str, policy: str = "Accept", priority: int = 1,
                **peer: str) -> dict[str, Any]:
    return {"Direction": "ingress", "IpProtocol": "TCP", "PortRange": port, "Policy": policy,
            "Priority": priority, "SecurityGroupRuleId": rule_id, **peer}


def _group(*permissions: dict[str, Any]) -> dict[str, Any]:
    return {"SecurityGroupId": "sg-x", "Permissions": {"Permission": list(permissions)}}


def test_a_prefix_list_rule_becomes_one_rule_per_disjoint_cidr() -> None:
    snap = parse_aliyun([_group(_permission("sgr-ssh", "22/22", SourcePrefixListId="pl-y"))],
                        prefix_lists={"pl-y": ["198.51.100.0/25", "198.51.100.128/25",
                                               "203.0.113.0/24", "203.0.113.7/32",
                                               "2001:db8::/32"]})
    rules = snap.groups["sg-x"].rules
    assert [str(r.peer) for r in rules] == ["prefix list pl-y: 198.51.100.0/24",
                                            "prefix list pl-y: 203.0.113.0/24",
                                            "prefix list pl-y: 2001:db8::/32"]
    assert {r.written for r in rules} == {rules[0].written}
    assert rules[0].written.peer == Peer(prefix_list_id="pl-y")
    assert rules[0].label == "sg-x/sgr-ssh (priority 1) via prefix list pl-y: 198.51.100.0/24"
    assert rules[0].summary()["prefix_list_id"] == "pl-y"
    assert snap.unresolved_prefix_lists == {}


def test_unknown_or_empty_lists_reach_nothing_and_unknown_ones_are_named() -> None:
    snap = parse_aliyun([_group(_permission("sgr-a", "22/22", SourcePrefixListId="pl-gone"),
                                _permission("sgr-b", "22/22", SourcePrefixListId="pl-empty"))],
                        prefix_lists={"pl-empty": []})
    assert [r.peer for r in snap.groups["sg-x"].rules] == [Peer(prefix_list_id="pl-gone"),
                                                           Peer(prefix_list_id="pl-empty")]
    assert snap.unresolved_prefix_lists == {"pl-gone": ("sg-x",)}
    assert run_checks(snap, ["sg-internet-admin-port"]) == []


def test_prefix_list_with_the_whole_internet_exposes_ssh_and_the_finding_names_it() -> None:
    snap = parse_aliyun([_group(_permission("sgr-ssh", "22/22", SourcePrefixListId="pl-y"))],
                        instances=INSTANCES, region="cn-hangzhou",
                        prefix_lists={"pl-y": ["10.0.0.0/8", "0.0.0.0/0"]})
    (finding,) = run_checks(snap, ["sg-internet-admin-port"])
    assert finding.title == ("SSH (tcp/22) of i-pl reachable from prefix list pl-y: 0.0.0.0/0")
    assert finding.severity == "critical" and finding.cis == "4.3"
    assert finding.rule is not None and finding.rule["prefix_list_id"] == "pl-y"
    assert finding.evidence["whole_internet"] is True
    assert "--Permissions.1" not in finding.remediation["cli"]  # revoked by its rule id
    assert "sgr-ssh" in finding.remediation["cli"]


def test_aws_prefix_list_rule_and_its_remediation() -> None:
    groups = {"SecurityGroups": [{"GroupId": "sg-x", "IpPermissions": [{
        "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
        "PrefixListIds": [{"PrefixListId": "pl-y", "Description": "admins"}]}]}]}
    instances = {"Reservations": [{"Instances": [{
        "InstanceId": "i-pl", "PublicIpAddress": "54.9.9.9",
        "SecurityGroups": [{"GroupId": "sg-x"}]}]}]}
    snap = parse_aws(groups, instances, region="us-east-1",
                     prefix_lists={"pl-y": ["0.0.0.0/0", "::/0"]})
    found = {(f.evidence["source"], f.cis) for f in run_checks(snap, ["sg-internet-admin-port"])}
    assert found == {("prefix list pl-y: 0.0.0.0/0", "5.2"), ("prefix list pl-y: ::/0", "5.3")}
    (finding, *_) = run_checks(snap, ["sg-internet-admin-port"])
    assert '"PrefixListIds":[{"PrefixListId":"pl-y"}]' in finding.remediation["cli"]
    assert "IpRanges" not in finding.remediation["cli"]


def test_a_prefix_list_rule_never_applies_only_when_none_of_its_cidrs_does() -> None:
    drop = _permission("sgr-drop", "22/22", "Drop", 1, SourceCidrIp="203.0.0.0/8")
    partly = _permission("sgr-pl", "22/22", "Accept", 5, SourcePrefixListId="pl-part")
    wholly = _permission("sgr-pl2", "22/22", "Accept", 5, SourcePrefixListId="pl-all")
    snap = parse_aliyun([_group(drop, partly, wholly)], prefix_lists={
        "pl-part": ["203.0.113.0/24", "198.51.100.0/24"],
        "pl-all": ["203.0.113.0/24", "203.9.0.0/16"]})
    issues = [(i.kind, i.rule.label, [r.rule_id for r in i.by]) for i in rule_issues(snap)]
    assert issues == [("shadowed", "sg-x/sgr-pl2 (priority 5) via prefix list pl-all",
                       ["sgr-drop"])]  # reported once, as written; pl-part still lets some in


def test_list_entry_cidrs_of_both_providers() -> None:
    aliyun = {"PrefixListId": "pl-y", "AddressFamily": "IPv4", "Entries": {"Entry": [
        {"Cidr": "192.168.1.0/24", "Description": "a"}, {"Cidr": "10.0.0.0/8"}]}}
    aws = {"Entries": [{"Cidr": "10.0.0.0/16", "Description": "vpc-a"}, {"Cidr": "10.2.0.0/16"}]}
    assert aliyun_prefix_list_cidrs(aliyun) == ["192.168.1.0/24", "10.0.0.0/8"]
    assert aws_prefix_list_cidrs(aws) == ["10.0.0.0/16", "10.2.0.0/16"]
    assert prefix_list_networks(["10.0.0.0/8", "10.1.0.0/16", "::/0"]) == [
        ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::/0")]


def _export(folder: Path, with_entries: bool) -> ExportReader:
    writer = ExportWriter(folder, "aliyun", taken_at="2026-03-02T08:00:00+00:00")
    region = "cn-hangzhou"
    writer.write(region, "DescribeSecurityGroups", {"SecurityGroups": {"SecurityGroup": [
        {"SecurityGroupId": "sg-x", "SecurityGroupType": "normal"}]}})
    writer.write(region, "DescribeSecurityGroupAttribute",
                 _group(_permission("sgr-ssh", "22/22", SourcePrefixListId="pl-y")), "sg-x")
    writer.write(region, "DescribeInstances", INSTANCES)
    if with_entries:
        writer.write(region, "DescribePrefixListAttributes", {
            "PrefixListId": "pl-y", "AddressFamily": "IPv4",
            "Entries": {"Entry": [{"Cidr": "0.0.0.0/0"}]}}, "pl-y")
    writer.manifest["regions"] = [region]
    writer.close()
    return ExportReader(folder)


def test_audit_resolves_the_lists_of_the_export(tmp_path: Path) -> None:
    report = audit("aliyun", _export(tmp_path, with_entries=True))
    ssh = [f for f in report.findings if f.check == "sg-internet-admin-port"]
    assert [f.title for f in ssh] == [
        "SSH (tcp/22) of i-pl reachable from prefix list pl-y: 0.0.0.0/0"]
    assert not [e for e in report.errors if e.get("code") == "PrefixListUnresolved"]


def test_audit_notes_a_list_missing_from_the_export(tmp_path: Path) -> None:
    report = audit("aliyun", _export(tmp_path, with_entries=False))
    assert [f for f in report.findings if f.check == "sg-internet-admin-port"] == []
    assert [e for e in report.errors if e.get("code") == "PrefixListUnresolved"] == [{
        "region": "cn-hangzhou", "service": "ecs", "action": "DescribePrefixListAttributes",
        "resource": "pl-y", "code": "PrefixListUnresolved",
        "message": "rules of sg-x name prefix list pl-y, whose entries are not in the export: "
                   "those rules were evaluated as reaching no address"}]


def test_a_rule_added_with_a_prefix_list_is_tied_to_the_event_naming_the_list() -> None:
    before = parse_aliyun([_group()])
    after = parse_aliyun([_group(_permission("sgr-ssh", "22/22", SourcePrefixListId="pl-y"))],
                         prefix_lists={"pl-y": ["0.0.0.0/0"]})
    event = {"eventName": "AuthorizeSecurityGroup", "eventTime": "2026-03-02T07:00:00Z",
             "requestParameters": {"SecurityGroupId": "sg-x", "IpProtocol": "tcp",
                                   "PortRange": "22/22", "SourcePrefixListId": "pl-y"}}
    (change,) = attach_events(diff(before, after), [event])
    assert change.kind == "added" and str(change.rule.peer) == "prefix list pl-y: 0.0.0.0/0"
    assert [e["match"] for e in change.events] == ["rule"]


def test_one_exposure_finding_per_prefix_list_rule_however_many_ranges() -> None:
    snap = parse_aliyun([_group(_permission("sgr-app", "8080/8080", SourcePrefixListId="pl-cdn"))],
                        instances=INSTANCES,
                        prefix_lists={"pl-cdn": ["198.51.100.0/26", "198.51.100.128/26",
                                                 "203.0.113.0/25"]})
    found = [f for f in run_checks(snap) if f.check == "sg-internet-exposure"]
    assert len(found) == 1
    assert "prefix list pl-cdn (3 ranges)" in found[0].title
    assert len(found[0].evidence["sources"]) == 3
    assert found[0].rule is not None and found[0].rule["prefix_list_id"] == "pl-cdn"
