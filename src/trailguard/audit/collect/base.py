"""What every collector shares: the export writer plus the list of calls that failed.

A failed read (AccessDenied, a service not opened in a region, throttling past the retries) is
recorded in the manifest's ``errors`` list and collection goes on: an audit of a partial export
is still worth having, and the list tells the reader what is missing and why. Credentials are
never written: bodies are API responses, error messages go through ``redact_text``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trailguard.audit.export import GLOBAL, ExportError, ExportWriter
from trailguard.errors import TrailGuardError
from trailguard.respond.redact import redact_text

MAX_PAGES = 1000
"""A runaway pagination guard: no API of the collectors needs more pages than this."""


class CollectError(TrailGuardError):
    """Collection cannot start at all (no credentials, no region)."""


@dataclass
class CollectResult:
    """Where the export went, the files written and the calls that failed."""

    folder: Path
    provider: str
    regions: list[str]
    files: list[Path] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


def jsonable(value: Any) -> Any:
    """SDK values as JSON values: datetimes as ISO 8601, bytes as text."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value


class Recorder:
    """Writes responses in the export layout and keeps the errors for the manifest."""

    def __init__(self, folder: Path, provider: str, taken_at: str | None = None) -> None:
        taken = taken_at or dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
        self.writer = ExportWriter(folder, provider, taken_at=taken)
        self.result = CollectResult(folder, provider, [])

    @property
    def taken_at(self) -> str:
        return str(self.writer.manifest["taken_at"])

    def set_account(self, account: str) -> None:
        self.writer.manifest["account"] = account

    def save(self, region: str, action: str, body: Mapping[str, Any],
             resource: str | None = None, page: int = 1) -> None:
        clean = {k: v for k, v in jsonable(body).items() if k != "ResponseMetadata"}
        try:
            self.result.files.append(self.writer.write(region, action, clean, resource, page))
        except ExportError as error:
            self.error(region, "", action, resource, "UnusableName", str(error))

    def error(self, region: str, service: str, action: str, resource: str | None,
              code: str, message: str) -> None:
        self.result.errors.append({
            "region": region, "service": service, "action": action, "resource": resource,
            "code": code, "message": redact_text(message)[:500]})

    def close(self, regions: list[str]) -> CollectResult:
        self.result.regions = sorted(set(regions))
        self.writer.manifest["regions"] = sorted(
            set(self.writer.manifest["regions"]) | set(regions))
        self.writer.manifest["errors"] = self.result.errors
        self.writer.close()
        return self.result


__all__ = ["GLOBAL", "MAX_PAGES", "CollectError", "CollectResult", "Recorder", "jsonable"]
