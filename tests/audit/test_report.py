"""Audit output: JSON, SARIF 2.1.0 (validated against the OASIS schema) and escaped HTML."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from trailguard.audit.export import ExportReader
from trailguard.audit.finding import Finding
from trailguard.audit.report import to_html, to_json, to_sarif, validate_sarif
from trailguard.audit.run import AuditReport, audit

EXPORTS = Path(__file__).resolve().parents[1] / "fixtures" / "audit" / "exports"
HOSTILE = '<script>alert("x")</script>'


@pytest.fixture(scope="module")
def report() -> AuditReport:
    return audit("aliyun", ExportReader(EXPORTS / "aliyun-basic"))


def hostile_report() -> AuditReport:
    finding = Finding(
        check="sg-internet-admin-port", severity="critical",
        resource=f"i-evil{HOSTILE}", title=f"SSH open {HOSTILE}",
        evidence={"instance_name": HOSTILE, "note": "</pre><img src=x onerror=alert(1)>"},
        rule={"description": HOSTILE},
        remediation={"cli": f"aliyun ecs RevokeSecurityGroup --Description '{HOSTILE}'",
                     "terraform": f'description = "{HOSTILE}"'},
        cis="4.3", cis_benchmark="CIS Alibaba Cloud Foundations Benchmark 2.0.0",
        provider="aliyun")
    return AuditReport("aliyun", "2026-03-01T08:00:00+00:00", "2026-03-01T09:00:00+00:00",
                       ["cn-hangzhou"], [finding],
                       {"sg-internet-admin-port": {"title": HOSTILE, "severity": "critical"}},
                       [{"region": "cn-hangzhou", "action": "DescribeInstances",
                         "code": "Forbidden", "message": HOSTILE}])


def test_json_findings_have_the_documented_fields(report: AuditReport) -> None:
    document = json.loads(json.dumps(to_json(report)))
    assert document["findings"]
    for finding in document["findings"]:
        assert {"check", "severity", "resource", "title", "evidence", "rule", "remediation",
                "cis"} <= set(finding)
        assert set(finding["remediation"]) >= {"cli", "terraform"}
    admin = [f for f in document["findings"] if f["check"] == "sg-internet-admin-port"]
    assert admin[0]["cis"] == "4.4" and admin[0]["rule"]["rule_id"] == "sgr-ops-rdp"
    assert document["errors"][0]["action"] == "DescribeFlowLogs"


def test_sarif_is_valid_and_complete(report: AuditReport) -> None:
    document = json.loads(json.dumps(to_sarif(report)))
    assert validate_sarif(document) == []
    run = document["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert set(rules) >= {f.check for f in report.findings}
    assert len(rules) == len(run["tool"]["driver"]["rules"])  # one per check id
    admin = rules["sg-internet-admin-port"]
    assert admin["shortDescription"]["text"] and admin["help"]["text"]
    assert admin["properties"]["security-severity"] == "8.0"  # the check's default: high
    assert admin["properties"]["problem.severity"] == "error"
    assert len(run["results"]) == len(report.findings)
    result = next(r for r in run["results"] if r["ruleId"] == "sg-internet-admin-port")
    assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
    assert result["level"] == "error"
    assert result["locations"] == [{"logicalLocations": [{
        "name": "i-bp1web01/eni-bp1web01", "kind": "resource",
        "fullyQualifiedName": "aliyun/cn-hangzhou/i-bp1web01/eni-bp1web01"}]}]
    assert result["properties"]["evidence"]["port_range"] == "3389/3389"
    assert "physicalLocation" not in json.dumps(run["results"])
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert "DescribeFlowLogs" in notes[0]["message"]["text"]


def test_sarif_validation_catches_a_broken_log(report: AuditReport) -> None:
    document = to_sarif(report)
    document["runs"][0]["results"][0]["level"] = "fatal"
    del document["version"]
    errors = validate_sarif(document)
    assert any("version" in e for e in errors)
    assert any("fatal" in e for e in errors)


def test_sarif_of_hostile_values_is_valid_json() -> None:
    document = to_sarif(hostile_report())
    assert validate_sarif(document) == []
    assert json.loads(json.dumps(document))["runs"][0]["results"][0]["message"]["text"] \
        == f"SSH open {HOSTILE}"


def test_html_groups_by_severity_then_check(report: AuditReport) -> None:
    page = to_html(report)
    headings = re.findall(r'<h2><span class="sev (\w+)">', page)
    order = ["critical", "high", "medium", "low", "info"]
    assert headings == sorted(headings, key=order.index) and len(headings) == len(set(headings))
    assert "sg-internet-admin-port" in page and "i-bp1web01/eni-bp1web01" in page
    assert "<script" not in page and "http://" not in page.split("</head>")[1]


def test_html_escapes_every_value() -> None:
    page = to_html(hostile_report())
    assert "<script>" not in page
    assert "<img" not in page
    assert page.count("&lt;script&gt;") >= 6  # resource, title, check title, evidence, rule,
    # remediation, error
    assert "&lt;/pre&gt;&lt;img src=x onerror=alert(1)&gt;" in page
