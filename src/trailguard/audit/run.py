"""`trailguard audit`: run every check over an export (and a case's logs) into one report.

:func:`audit` builds the security-group snapshot of each region of the export
(:func:`~trailguard.audit.network.model.parse_aliyun` / ``parse_aws``), runs the network checks
(:func:`~trailguard.audit.network.findings.run_checks`), then every check of the provider in
:data:`~trailguard.audit.checks.AUDIT_CHECKS` (logging, storage, identity … families). With a
case connection the snapshot is stored in ``audit_snapshots`` with its time, the findings in
``audit_findings``, and each region's snapshot is compared with the case's previous one:
the changed rules become ``sg-rule-changed`` findings, tied to the ``trail_events`` that made
them (AuthorizeSecurityGroup, RevokeSecurityGroup …).

Rules naming a prefix list are evaluated with the list's CIDRs (``DescribePrefixListAttributes``
/ ``GetManagedPrefixListEntries`` of the region); a list whose entries the export lacks reaches no
address, and the report's ``errors`` say so (code ``PrefixListUnresolved``).

A check that raises does not stop the audit: the error goes into the report's ``errors``.
"""

from __future__ import annotations

import copy
import datetime as dt
import importlib
import importlib.util
import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trailguard.audit.checks import AuditContext, checks_for
from trailguard.audit.export import ExportReader, Response
from trailguard.audit.finding import SEVERITIES, Finding
from trailguard.audit.network import findings as network
from trailguard.audit.network.model import (
    Snapshot,
    aliyun_prefix_list_cidrs,
    aws_prefix_list_cidrs,
    parse_aliyun,
    parse_aws,
)

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)

CHECK_FAMILIES = ("trailguard.audit.logging", "trailguard.audit.storage",
                  "trailguard.audit.identity")
"""Built-in check families: packages whose import registers their checks."""

Pages = Callable[[str], list[tuple[str | None, Mapping[str, Any]]]]
"""action -> [(resource, body)] of one region, pages in order."""

LIST_PATHS: dict[str, dict[str, tuple[str, ...]]] = {
    "aliyun": {"DescribeSecurityGroups": ("SecurityGroups", "SecurityGroup"),
               "DescribeSecurityGroupAttribute": ("Permissions", "Permission"),
               "DescribeInstances": ("Instances", "Instance"),
               "DescribeNetworkInterfaces": ("NetworkInterfaceSets", "NetworkInterfaceSet"),
               "DescribePrefixListAttributes": ("Entries", "Entry")},
    "aws": {"DescribeSecurityGroups": ("SecurityGroups",),
            "DescribeInstances": ("Reservations",),
            "DescribeNetworkAcls": ("NetworkAcls",),
            "GetManagedPrefixListEntries": ("Entries",)},
}
"""Where each paginated body keeps its items (pages are merged before parsing)."""

PREFIX_LISTS: dict[str, tuple[str, str, Callable[[Mapping[str, Any]], list[str]]]] = {
    "aliyun": ("ecs", "DescribePrefixListAttributes", aliyun_prefix_list_cidrs),
    "aws": ("ec2", "GetManagedPrefixListEntries", aws_prefix_list_cidrs),
}
"""Provider -> (service, action of one prefix list's entries, its CIDRs from the body)."""

_SNAPSHOTS_DDL = """
CREATE TABLE IF NOT EXISTS audit_snapshots (
    taken_at VARCHAR NOT NULL,   -- ISO 8601, from the export's manifest
    provider VARCHAR NOT NULL,
    region VARCHAR NOT NULL,     -- a region id or 'global'
    action VARCHAR NOT NULL,     -- DescribeSecurityGroupAttribute
    resource VARCHAR,            -- sg-bp1abc, or NULL
    page INTEGER NOT NULL,
    body JSON NOT NULL           -- the API response as it came
)"""

_FINDINGS_DDL = """
CREATE TABLE IF NOT EXISTS audit_findings (
    audited_at VARCHAR NOT NULL,
    taken_at VARCHAR NOT NULL,
    provider VARCHAR NOT NULL,
    check_id VARCHAR NOT NULL,
    severity VARCHAR NOT NULL,
    resource VARCHAR NOT NULL,
    title VARCHAR NOT NULL,
    cis VARCHAR,
    finding JSON NOT NULL        -- the whole finding (evidence, rule, remediation)
)"""


@dataclass
class AuditReport:
    """Findings of one audit, with the metadata of every check that ran (for SARIF rules)."""

    provider: str
    taken_at: str
    audited_at: str
    regions: list[str]
    findings: list[Finding]
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {s: sum(f.severity == s for f in self.findings) for s in SEVERITIES}


def load_check_families(families: Sequence[str] = CHECK_FAMILIES) -> None:
    """Import the built-in check families that exist (their import registers their checks)."""
    for name in families:
        try:
            present = importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:
            present = False
        if present:
            importlib.import_module(name)


def merge_pages(bodies: Sequence[Mapping[str, Any]], path: tuple[str, ...]
                ) -> Mapping[str, Any] | None:
    """One body holding the items of every page (the first page's other fields)."""
    if not bodies:
        return None
    merged: dict[str, Any] = copy.deepcopy(dict(bodies[0]))
    if len(bodies) == 1 or not path:
        return merged
    items: list[Any] = []
    for body in bodies:
        node: Any = body
        for key in path:
            node = node.get(key) if isinstance(node, Mapping) else None
        items += node if isinstance(node, list) else [] if node is None else [node]
    target = merged
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = items
    return merged


def build_snapshot(provider: str, region: str, taken_at: str, pages: Pages) -> Snapshot | None:
    """The security-group snapshot of one region; None when the region has no groups saved."""
    paths = LIST_PATHS[provider]

    def one(action: str) -> Mapping[str, Any] | None:
        return merge_pages([body for _, body in pages(action)], paths.get(action, ()))

    _, list_action, cidrs_of = PREFIX_LISTS[provider]
    prefix_lists = {list_id: cidrs_of(body) for list_id, body in
                    _per_resource(pages(list_action), paths[list_action], "PrefixListId").items()
                    if list_id}
    if provider == "aliyun":
        attributes = list(_per_resource(pages("DescribeSecurityGroupAttribute"),
                                        paths["DescribeSecurityGroupAttribute"]).values())
        if not attributes:
            return None
        return parse_aliyun(attributes, one("DescribeSecurityGroups"), one("DescribeInstances"),
                            one("DescribeNetworkInterfaces"), region=region, taken_at=taken_at,
                            prefix_lists=prefix_lists)
    groups = one("DescribeSecurityGroups")
    if groups is None:
        return None
    return parse_aws(groups, one("DescribeInstances"), one("DescribeNetworkAcls"),
                     region=region, taken_at=taken_at, prefix_lists=prefix_lists)


def _per_resource(pages: list[tuple[str | None, Mapping[str, Any]]], path: tuple[str, ...],
                  id_field: str = "") -> dict[str | None, Mapping[str, Any]]:
    """One merged body per resource (the file name's id, else the body's ``id_field``)."""
    by_resource: dict[str | None, list[Mapping[str, Any]]] = {}
    for resource, body in pages:
        key = resource or (str(body.get(id_field) or "") if id_field else "") or None
        by_resource.setdefault(key, []).append(body)
    merged = {key: merge_pages(bodies, path) for key, bodies in by_resource.items()}
    return {key: body for key, body in merged.items() if body is not None}


def unresolved_prefix_lists(snapshot: Snapshot) -> list[dict[str, Any]]:
    """Report errors for the prefix lists the snapshot's rules name but the export lacks."""
    service, action, _ = PREFIX_LISTS[snapshot.provider]
    return [{"region": snapshot.region, "service": service, "action": action,
             "resource": list_id, "code": "PrefixListUnresolved",
             "message": f"rules of {', '.join(groups)} name prefix list {list_id}, whose entries "
                        "are not in the export: those rules were evaluated as reaching no "
                        "address"}
            for list_id, groups in snapshot.unresolved_prefix_lists.items()]


def _export_pages(export: ExportReader, region: str) -> Pages:
    return lambda action: [(r.resource, r.body) for r in export.responses(action, region)]


def _network_checks() -> dict[str, dict[str, Any]]:
    return {check_id: {"title": cls.TITLE, "severity": cls.SEVERITY, "family": "network",
                       "description": (cls.__doc__ or "").strip()}
            for check_id, cls in network.CHECKS.items()}


#: Trail events that change security-group rules (ActionTrail and CloudTrail names).
RULE_CHANGE_EVENTS = (
    "AuthorizeSecurityGroup", "AuthorizeSecurityGroupEgress", "RevokeSecurityGroup",
    "RevokeSecurityGroupEgress", "ModifySecurityGroupRule", "ModifySecurityGroupEgressRule",
    "AuthorizeSecurityGroupIngress", "RevokeSecurityGroupIngress",
    "ModifySecurityGroupRules",
)


def trail_events(connection: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The case's ActionTrail and CloudTrail records that change security-group rules, as the
    raw records (they carry eventName, eventTime and requestParameters) plus `time`."""
    import json

    found: list[dict[str, Any]] = []
    tables = {row[0] for row in connection.execute(
        "SELECT table_name FROM information_schema.tables").fetchall()}
    for source in ("actiontrail", "cloudtrail"):
        if f"ev_{source}" not in tables:
            continue
        rows = connection.execute(f"""
            SELECT e.time, n._raw FROM events e JOIN ev_{source} n ON n._uid = e.uid
            WHERE e.source_type = ? AND e.operation IN (SELECT unnest(?::VARCHAR[]))
            ORDER BY e.time
        """, [source, list(RULE_CHANGE_EVENTS)]).fetchall()
        for when, raw in rows:
            try:
                record = json.loads(raw)
            except (TypeError, ValueError):
                continue
            if isinstance(record, dict):
                found.append({**record, "time": when.isoformat() if when else None})
    return found


def audit(provider: str, export: ExportReader | None,
          case_connection: duckdb.DuckDBPyConnection | None = None,
          trail_events: Iterable[Mapping[str, Any]] | None = None, *,
          now: dt.datetime | None = None) -> AuditReport:
    """Audit one provider's configuration (``export``) and, with a case, its ingested logs."""
    now = now or dt.datetime.now(dt.UTC)
    audited_at = now.replace(microsecond=0).isoformat()
    taken_at = str((export.manifest.get("taken_at") if export else "") or audited_at)
    regions = export.regions if export else []
    report = AuditReport(provider, taken_at, audited_at, regions, [], _network_checks())
    if export is not None:
        report.errors += list(export.manifest.get("errors") or [])
        for region in regions:
            snapshot = build_snapshot(provider, region, taken_at, _export_pages(export, region))
            if snapshot is not None:
                report.errors += unresolved_prefix_lists(snapshot)
                report.findings += _with_region(network.run_checks(snapshot), region)
                if case_connection is not None:
                    report.findings += _changes(case_connection, snapshot, trail_events)
    load_check_families()
    context = AuditContext(provider, export, case_connection, now)
    for check in checks_for(provider):
        report.checks[check.id] = {"title": check.title, "severity": check.severity,
                                   "cis": check.cis, "cis_benchmark": check.cis_benchmark,
                                   "description": check.description,
                                   "family": type(check).__module__.split(".")[2]
                                   if type(check).__module__.count(".") >= 2 else ""}
        try:
            report.findings += list(check.run(context))
        except Exception as error:  # a broken check must not hide every other finding
            log.exception("audit check %s failed", check.id)
            report.errors.append({"check": check.id, "code": type(error).__name__,
                                  "message": str(error)[:500]})
    report.findings.sort(key=lambda f: (SEVERITIES.index(f.severity)
                                        if f.severity in SEVERITIES else len(SEVERITIES),
                                        f.check, f.resource))
    if case_connection is not None:
        store(case_connection, report, export)
    return report


def _with_region(findings: list[Finding], region: str) -> list[Finding]:
    for finding in findings:
        finding.evidence.setdefault("region", region)
    return findings


# ---------------------------------------------------------------- the case


def _ensure_tables(connection: duckdb.DuckDBPyConnection) -> None:
    connection.execute(_SNAPSHOTS_DDL)
    connection.execute(_FINDINGS_DDL)


def _changes(connection: duckdb.DuckDBPyConnection, snapshot: Snapshot,
             trail_events: Iterable[Mapping[str, Any]] | None) -> list[Finding]:
    """``sg-rule-changed`` findings against the case's previous snapshot of the region."""
    _ensure_tables(connection)
    row = connection.execute(
        "SELECT max(taken_at) FROM audit_snapshots WHERE provider = ? AND region = ? "
        "AND taken_at < ?", [snapshot.provider, snapshot.region, snapshot.taken_at]).fetchone()
    if row is None or row[0] is None:
        return []
    previous = str(row[0])
    rows = connection.execute(
        "SELECT action, resource, body FROM audit_snapshots WHERE provider = ? AND region = ? "
        "AND taken_at = ? ORDER BY action, resource, page",
        [snapshot.provider, snapshot.region, previous]).fetchall()

    def pages(action: str) -> list[tuple[str | None, Mapping[str, Any]]]:
        return [(resource, json.loads(body)) for name, resource, body in rows if name == action]

    old = build_snapshot(snapshot.provider, snapshot.region, previous, pages)
    if old is None:
        return []
    events = [dict(e) for e in trail_events or ()]
    return _with_region(network.change_findings(old, snapshot, events), snapshot.region)


def _every_response(export: ExportReader) -> list[Response]:
    # ExportReader offers responses by action; the case keeps them all.
    actions = sorted({r.action for r in export.all()})
    return [r for action in actions for r in export.responses(action)]


def store(connection: duckdb.DuckDBPyConnection, report: AuditReport,
          export: ExportReader | None) -> None:
    """Save the export's responses and the findings in the case (replacing a re-audit of the
    same snapshot)."""
    _ensure_tables(connection)
    connection.execute("BEGIN TRANSACTION")
    try:
        if export is not None:
            connection.execute("DELETE FROM audit_snapshots WHERE provider = ? AND taken_at = ?",
                               [report.provider, report.taken_at])
            rows = [(report.taken_at, report.provider, r.region, r.action, r.resource, r.page,
                     json.dumps(r.body, sort_keys=True))
                    for r in _every_response(export)]
            if rows:
                connection.executemany(
                    "INSERT INTO audit_snapshots VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        connection.execute("DELETE FROM audit_findings WHERE provider = ? AND taken_at = ?",
                           [report.provider, report.taken_at])
        findings = [(report.audited_at, report.taken_at, report.provider, f.check, f.severity,
                     f.resource, f.title, f.cis, json.dumps(f.to_dict(), sort_keys=True,
                                                            default=str))
                    for f in report.findings]
        if findings:
            connection.executemany(
                "INSERT INTO audit_findings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", findings)
        connection.execute("COMMIT")
    except Exception:
        connection.execute("ROLLBACK")
        raise


__all__ = ["CHECK_FAMILIES", "PREFIX_LISTS", "AuditReport", "audit", "build_snapshot",
           "load_check_families", "merge_pages", "store", "unresolved_prefix_lists"]
