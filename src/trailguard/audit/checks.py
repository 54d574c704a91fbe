"""The audit-check extension point: an :class:`AuditCheck` base class, the :class:`AuditContext`
every check reads, and the ``AUDIT_CHECKS`` registry.

To add a check (one small class per check, Prowler style):

1. Subclass :class:`AuditCheck` and set the metadata: ``id`` (stable, dotted:
   ``aliyun.logging.trail_not_multi_region``), ``provider`` (``aliyun`` | ``aws``),
   ``severity`` (one of :data:`trailguard.audit.finding.SEVERITIES`), ``title``, ``cis``
   (the benchmark control, ``"2.1"``, or None) and optionally ``cis_benchmark``,
   ``description`` and ``remediation``.
2. Implement :meth:`AuditCheck.run`: read the saved API responses from ``context.export``
   (an :class:`~trailguard.audit.export.ExportReader`, None when auditing a case without an
   export) and/or the case's ingested logs from ``context.connection`` (a DuckDB connection,
   None without a case); yield :class:`~trailguard.audit.finding.Finding` objects (use
   :meth:`AuditCheck.finding` to fill the metadata). Yield nothing when the data a check needs
   is absent: absence of data is not a finding (unless the check is about that absence).
3. Decorate the class with :func:`register_audit_check`. Built-in checks live in
   ``trailguard.audit.<family>`` modules that :mod:`trailguard.audit.run` imports; third
   parties use the entry-point group ``trailguard.audit_checks``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from trailguard.audit.export import ExportReader
from trailguard.audit.finding import SEVERITIES, Finding
from trailguard.plugins import Registry

if TYPE_CHECKING:
    import duckdb

PROVIDERS = ("aliyun", "aws")


@dataclass(frozen=True)
class AuditContext:
    """What a check reads: the export, the case's ingested logs, and the audit time."""

    provider: str
    export: ExportReader | None
    connection: duckdb.DuckDBPyConnection | None
    now: dt.datetime


class AuditCheck:
    """One posture check. Subclasses set the metadata and implement :meth:`run`."""

    id: ClassVar[str]
    provider: ClassVar[str]
    severity: ClassVar[str]
    title: ClassVar[str]
    cis: ClassVar[str | None] = None
    cis_benchmark: ClassVar[str | None] = None
    description: ClassVar[str] = ""
    remediation: ClassVar[dict[str, str]] = {}

    def run(self, context: AuditContext) -> Iterable[Finding]:
        raise NotImplementedError

    def finding(self, resource: str, evidence: dict[str, Any], *, title: str | None = None,
                severity: str | None = None, rule: dict[str, Any] | None = None,
                remediation: dict[str, str] | None = None) -> Finding:
        """A :class:`Finding` of this check, metadata filled in."""
        return Finding(check=self.id, severity=severity or self.severity, resource=resource,
                       title=title or self.title, evidence=evidence, rule=rule,
                       remediation=dict(remediation if remediation is not None
                                        else self.remediation),
                       cis=self.cis, cis_benchmark=self.cis_benchmark, provider=self.provider)


AUDIT_CHECKS: Registry[AuditCheck] = Registry("trailguard.audit_checks", "audit check")
"""Every audit check class by id; entry-point group ``trailguard.audit_checks`` for
third-party checks (built-ins win on a clash)."""

C = TypeVar("C", bound=type[AuditCheck])


def register_audit_check(cls: C) -> C:
    """Class decorator: validate the metadata and add the check to :data:`AUDIT_CHECKS`."""
    for attribute in ("id", "provider", "severity", "title"):
        if not isinstance(getattr(cls, attribute, None), str) or not getattr(cls, attribute):
            raise ValueError(f"audit check {cls.__qualname__}: {attribute} must be set")
    if cls.provider not in PROVIDERS:
        raise ValueError(f"audit check {cls.id}: provider must be one of {PROVIDERS}")
    if cls.severity not in SEVERITIES:
        raise ValueError(f"audit check {cls.id}: severity must be one of {SEVERITIES}")
    register: Callable[[type[AuditCheck]], type[AuditCheck]] = AUDIT_CHECKS.register(cls.id)
    register(cls)
    return cls


def checks_for(provider: str) -> list[AuditCheck]:
    """An instance of every registered check of one provider, in id order."""
    return [cls() for name, cls in sorted(AUDIT_CHECKS, key=lambda item: item[0])
            if cls.provider == provider]
