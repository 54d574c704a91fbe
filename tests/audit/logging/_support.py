"""Shared by the logging, storage and identity audit tests: the demo case (generated and
ingested once per session) and running one provider's checks over an export or a case."""

from __future__ import annotations

import atexit
import datetime as dt
import functools
import json
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

import trailguard.audit.identity
import trailguard.audit.logging
import trailguard.audit.storage
from trailguard.audit.checks import AuditContext, checks_for
from trailguard.audit.export import ExportReader
from trailguard.audit.finding import Finding

EXPORTS = Path(__file__).resolve().parents[2] / "fixtures" / "audit" / "exports" / "posture"
NOW = dt.datetime(2026, 10, 17, tzinfo=dt.UTC)
FAMILIES = (trailguard.audit.logging, trailguard.audit.storage, trailguard.audit.identity)


@dataclass(frozen=True)
class DemoCase:
    database: Path
    truth: dict[str, Any]

    def connect(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.database), read_only=True)


@functools.cache
def demo_case() -> DemoCase:
    """The demo (seed 1) generated and ingested into a temporary case, once per process."""
    from trailguard.demo.generate import generate
    from trailguard.ingest.pipeline import Ingest
    from trailguard.store.case import DATABASE, Case

    folder = Path(tempfile.mkdtemp(prefix="tg-audit-demo-"))
    atexit.register(shutil.rmtree, folder, True)
    demo = generate(folder / "demo", 1)
    case = Case.open(folder / "case", create=True)
    Ingest(case).run([demo.evidence])
    case.close()
    return DemoCase(folder / "case" / DATABASE, json.loads(demo.truth_path.read_text()))


def run(provider: str, export: str | None = None,
        connection: duckdb.DuckDBPyConnection | None = None,
        prefix: str = "") -> list[Finding]:
    reader = ExportReader(EXPORTS / export) if export else None
    context = AuditContext(provider, reader, connection, NOW)
    return [finding for check in checks_for(provider) if check.id.startswith(prefix)
            for finding in check.run(context)]


def by_check(findings: Iterable[Finding]) -> dict[str, list[Finding]]:
    grouped: dict[str, list[Finding]] = {}
    for finding in findings:
        grouped.setdefault(finding.check, []).append(finding)
    return grouped
