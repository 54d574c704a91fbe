"""`audit()`: network snapshots per region from an export, the registered check families, the
case tables and the diff against the case's previous snapshot."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import duckdb
import pytest

from trailguard.audit.checks import AUDIT_CHECKS, AuditCheck, AuditContext, register_audit_check
from trailguard.audit.export import ExportReader
from trailguard.audit.finding import Finding
from trailguard.audit.run import audit, merge_pages

EXPORTS = Path(__file__).resolve().parents[1] / "fixtures" / "audit" / "exports"


def reader(name: str) -> ExportReader:
    return ExportReader(EXPORTS / name)


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Checks registered in a test stay in that test."""
    monkeypatch.setattr(AUDIT_CHECKS, "_items", dict(AUDIT_CHECKS._items))


def by_check(findings: Iterable[Finding], check: str) -> list[Finding]:
    return [f for f in findings if f.check == check]


def test_aliyun_network_findings_follow_priorities_across_pages() -> None:
    report = audit("aliyun", reader("aliyun-basic"))

    admin = by_check(report.findings, "sg-internet-admin-port")
    # RDP from the group on page 2 of DescribeSecurityGroups is open; SSH's accept at
    # priority 100 is closed by the drop at priority 1.
    assert [(f.resource, f.evidence["port_range"], f.cis) for f in admin] == [
        ("i-bp1web01/eni-bp1web01", "3389/3389", "4.4")]
    assert admin[0].evidence["region"] == "cn-hangzhou"
    assert admin[0].remediation["cli"].startswith("aliyun ecs")
    shadowed = by_check(report.findings, "sg-shadowed-rule")
    assert [f.rule["rule_id"] for f in shadowed if f.rule] == ["sgr-web-ssh-open"]
    assert report.taken_at == "2026-03-01T08:00:00+00:00"
    assert report.regions == ["cn-hangzhou"]
    assert {"sg-internet-admin-port", "sg-shadowed-rule"} <= set(report.checks)


def test_collection_errors_are_reported() -> None:
    report = audit("aliyun", reader("aliyun-basic"))
    assert {"action": "DescribeFlowLogs", "code": "Forbidden.RAM", "region": "cn-hangzhou",
            "resource": None, "service": "vpc",
            "message": "User not authorized to operate on the specified resource."
            } in report.errors


def test_aws_findings() -> None:
    report = audit("aws", reader("aws-basic"))
    admin = by_check(report.findings, "sg-internet-admin-port")
    assert [(f.resource, f.evidence["port_range"], f.cis) for f in admin] == [
        ("i-0abc123def4567890/eni-0abc", "22/22", "5.2")]
    assert all(f.provider == "aws" for f in report.findings)


def test_findings_are_ordered_by_severity() -> None:
    order = ["critical", "high", "medium", "low", "info"]
    ranks = [order.index(f.severity) for f in audit("aws", reader("aws-basic")).findings]
    assert ranks == sorted(ranks)


def test_registered_checks_run_with_the_context(registry: None) -> None:
    seen: list[AuditContext] = []

    @register_audit_check
    class PublicTrailBucket(AuditCheck):
        id = "test.aliyun.trail_bucket_acl"
        provider = "aliyun"
        severity = "high"
        title = "Trail bucket readable by anyone"
        cis = "2.2"

        def run(self, context: AuditContext) -> Iterable[Finding]:
            seen.append(context)
            assert context.export is not None
            acl = context.export.body("GetBucketAcl", "global", "audit-logs-1234")
            if acl and acl["AccessControlPolicy"]["AccessControlList"]["Grant"] != "private":
                yield self.finding("audit-logs-1234", {"acl": "public-read"})

    @register_audit_check
    class Broken(AuditCheck):
        id = "test.aliyun.broken"
        provider = "aliyun"
        severity = "low"
        title = "raises"

        def run(self, context: AuditContext) -> Iterable[Finding]:
            raise KeyError("Permissions")

    @register_audit_check
    class OtherProvider(AuditCheck):
        id = "test.aws.never"
        provider = "aws"
        severity = "low"
        title = "must not run for aliyun"

        def run(self, context: AuditContext) -> Iterable[Finding]:
            raise AssertionError("ran for the wrong provider")

    report = audit("aliyun", reader("aliyun-basic"))

    found = by_check(report.findings, "test.aliyun.trail_bucket_acl")
    assert [(f.resource, f.severity, f.cis, f.provider) for f in found] == [
        ("audit-logs-1234", "high", "2.2", "aliyun")]
    assert seen[0].provider == "aliyun" and seen[0].connection is None
    assert {"check": "test.aliyun.broken", "code": "KeyError",
            "message": "'Permissions'"} in report.errors
    assert "test.aws.never" not in report.checks
    assert report.checks["test.aliyun.trail_bucket_acl"]["cis"] == "2.2"
    assert by_check(report.findings, "sg-internet-admin-port")  # the others still ran


def test_register_validates_metadata(registry: None) -> None:
    with pytest.raises(ValueError, match="severity"):
        @register_audit_check
        class Bad(AuditCheck):
            id = "test.aliyun.bad"
            provider = "aliyun"
            severity = "urgent"
            title = "bad"


def test_case_stores_snapshot_and_findings_and_diffs_the_next_one() -> None:
    connection = duckdb.connect(":memory:")
    first = audit("aliyun", reader("aliyun-basic"), connection)
    assert not by_check(first.findings, "sg-rule-changed")
    audit("aliyun", reader("aliyun-basic"), connection)  # re-audit: replaced, not doubled

    files = len(list((EXPORTS / "aliyun-basic").rglob("*.json"))) - 1  # less the manifest
    rows = connection.execute("SELECT taken_at, count(*) FROM audit_snapshots GROUP BY ALL"
                              ).fetchall()
    assert rows == [("2026-03-01T08:00:00+00:00", files)]
    stored = connection.execute("SELECT count(*) FROM audit_findings").fetchone()
    assert stored == (len(first.findings),)

    event = {"eventName": "AuthorizeSecurityGroup", "eventTime": "2026-03-01T09:14:00Z",
             "requestParameters": {"SecurityGroupId": "sg-bp1ops", "RegionId": "cn-hangzhou",
                                   "IpProtocol": "TCP", "PortRange": "6379/6379",
                                   "SourceCidrIp": "0.0.0.0/0", "Policy": "Accept",
                                   "Priority": "1"}}
    later = audit("aliyun", reader("aliyun-later"), connection, [event])
    changed = by_check(later.findings, "sg-rule-changed")
    assert [(f.resource, f.severity, f.evidence["kind"]) for f in changed] == [
        ("sg-bp1ops", "medium", "added")]
    assert changed[0].evidence["events"][0]["match"] == "rule"
    body = connection.execute(
        "SELECT body->>'$.SecurityGroupId' FROM audit_snapshots WHERE taken_at = ? AND "
        "resource = 'sg-bp1ops'", [later.taken_at]).fetchone()
    assert body == ("sg-bp1ops",)


def test_merge_pages() -> None:
    pages = [{"Total": 3, "A": {"B": [1, 2]}}, {"Total": 3, "A": {"B": [3]}}]
    assert merge_pages(pages, ("A", "B")) == {"Total": 3, "A": {"B": [1, 2, 3]}}
    assert merge_pages([], ("A",)) is None
    assert pages[0]["A"] == {"B": [1, 2]}  # inputs untouched
