"""The case's response audit log: who did what, when, to which incident, with what result.

`<case>/respond/audit.jsonl`, append-only, one JSON object per line:

    {"seq": 1, "time": "2026-10-15T09:55:19.120000Z", "who": "alice@ir-laptop",
     "incident": "INC-…", "run": "run-…", "playbook": "contain-stolen-key", "step": "disable",
     "action": "aliyun.disable_access_key",
     "event": "run-started" | "planned" | "approved" | "executed" | "failed" | "skipped"
              | "rolled-back" | "run-finished" | "clock-mark",
     "plan": {...} | null,      # respond.model.Plan.to_dict()
     "result": {...} | null,    # respond.model.Result.to_dict(): every call's request and
                                # response, secrets already redacted
     "error": {...} | null,     # {"type", "message", "code", "request_id", "attempts"}
     "detail": {...}}           # anything else (approval note, clock name and time …)

Every record is passed through `respond.redact` once more before it is written: nothing that
looks like a credential reaches the file. Appends take a lock file, so two processes cannot
interleave lines. The log is also what a resumed run reads to know which steps already ran.
"""

from __future__ import annotations

import fcntl
import getpass
import json
import os
import socket
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trailguard.respond.redact import redact

FOLDER = "respond"
FILE = "audit.jsonl"
EVENTS = frozenset({"run-started", "planned", "approved", "executed", "failed", "skipped",
                    "rolled-back", "run-finished", "clock-mark"})


def audit_path(case_folder: Path) -> Path:
    return case_folder / FOLDER / FILE


def who() -> str:
    """user@host of whoever runs TrailGuard (overridable with TRAILGUARD_ACTOR)."""
    override = os.environ.get("TRAILGUARD_ACTOR")
    if override:
        return override
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with (path.parent / (path.name + ".lock")).open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def append(case_folder: Path, event: str, *, incident: str | None = None,
           run: str | None = None, playbook: str | None = None, step: str | None = None,
           action: str | None = None, plan: Mapping[str, Any] | None = None,
           result: Mapping[str, Any] | None = None, error: Mapping[str, Any] | None = None,
           detail: Mapping[str, Any] | None = None, time: str | None = None) -> dict[str, Any]:
    """Append one record and return it (with its `seq`)."""
    if event not in EVENTS:
        raise ValueError(f"unknown audit event {event!r}")
    path = audit_path(case_folder)
    with _locked(path):
        seq = sum(1 for _ in _lines(path)) + 1
        record: dict[str, Any] = {
            "seq": seq, "time": time or now_iso(), "who": who(), "incident": incident,
            "run": run, "playbook": playbook, "step": step, "action": action, "event": event,
            "plan": plan, "result": result, "error": error, "detail": dict(detail or {}),
        }
        record = redact(record)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, ensure_ascii=False, sort_keys=True, default=str)
                         + "\n")
            handle.flush()
            os.fsync(handle.fileno())
    return record


def _lines(path: Path) -> Iterator[str]:
    if not path.exists():
        return
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield line


def read(case_folder: Path, incident: str | None = None) -> list[dict[str, Any]]:
    """Every record (of one incident when named), in order."""
    records = [json.loads(line) for line in _lines(audit_path(case_folder))]
    return [r for r in records if incident is None or r.get("incident") == incident]
