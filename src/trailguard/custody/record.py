"""Putting evidence and generated artefacts into the custody log."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from trailguard.custody.errors import CustodyError
from trailguard.custody.hashing import CHUNK_SIZE, chunk_size_for, hash_file
from trailguard.custody.log import (
    EntryDraft,
    file_detail,
    log_path,
    logged_path,
    open_for_append,
    read_lines,
)
from trailguard.errors import CaseError, SourceLocation

EVIDENCE_ADDED = "evidence-added"
ARTEFACT_WRITTEN = "artefact-written"
#: files rows of units an interrupted ingest has not finished: not evidence yet.
_UNFINISHED = ("loading", "reading")


@dataclass(slots=True)
class RecordResult:
    """What ``record_evidence`` did: entries added, rows already in the log, and rows whose
    file no longer matches what ingest measured (recorded with ingest's hash, flagged)."""

    added: list[dict[str, Any]] = field(default_factory=list)
    already_recorded: int = 0
    changed_since_ingest: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _EvidenceRow:
    path: str
    member: str
    sha256: str
    size: int | None
    file_id: int
    status: str

    def key(self, case_folder: Path) -> tuple[str, str, str]:
        return logged_path(case_folder, Path(self.path)), self.member, self.sha256


def _evidence_key(entry: dict[str, Any]) -> tuple[str, str, str] | None:
    if entry.get("action") != EVIDENCE_ADDED:
        return None
    detail = entry.get("detail") or {}
    return str(entry.get("path")), str(detail.get("member", "")), str(entry.get("sha256"))


def _evidence_rows(connection: duckdb.DuckDBPyConnection) -> list[_EvidenceRow]:
    try:
        rows = connection.execute(
            "SELECT path, member, coalesce(sha256, CASE WHEN member = '' THEN root_sha256 END), "
            "size, id, status FROM files WHERE status NOT IN (?, ?) ORDER BY id",
            list(_UNFINISHED)).fetchall()
    except duckdb.Error as error:
        raise CaseError(f"cannot read the case's evidence files: {error}") from error
    return [_EvidenceRow(str(path), str(member), str(sha), None if size is None else int(size),
                         int(file_id), str(status))
            for path, member, sha, size, file_id, status in rows if sha is not None]


def unrecorded_evidence(case_folder: Path, connection: duckdb.DuckDBPyConnection,
                        entries: list[dict[str, Any]]) -> list[str]:
    """Files and members of the case's ``files`` table that the log has no entry for, named
    as the log would name them (path, or path!member)."""
    known = {key for entry in entries if (key := _evidence_key(entry)) is not None}
    missing = [row.key(case_folder) for row in _evidence_rows(connection)]
    return [f"{path}!{member}" if member else path
            for path, member, sha256 in missing if (path, member, sha256) not in known]


def record_evidence(case_folder: Path, connection: duckdb.DuckDBPyConnection,
                    actor: str | None = None, chunk_size: int = CHUNK_SIZE) -> RecordResult:
    """Add an ``evidence-added`` entry for each file and archive member of the case's
    ``files`` table that the log does not have yet (running it twice adds nothing).

    The hash and size are those ingest measured. A file is read again (in chunks) to keep
    its chunk hashes; if it no longer matches ingest's hash, it is recorded with ingest's
    hash and ``detail.changed_since_ingest`` (its current hash), and verify will report it.
    Archive members are vouched for by their archive's entry.
    """
    case_folder = case_folder.resolve()
    result = RecordResult()
    known = {key for line in read_lines(log_path(case_folder))
             if line.entry is not None and (key := _evidence_key(line.entry)) is not None}
    drafts: list[tuple[tuple[str, str, str], EntryDraft]] = []
    for row in _evidence_rows(connection):
        key = row.key(case_folder)
        if key in known:
            result.already_recorded += 1
            continue
        known.add(key)
        drafts.append((key, _evidence_draft(case_folder, row, chunk_size, result)))
    with open_for_append(case_folder, actor) as appender:
        present = {key for entry in appender.entries
                   if (key := _evidence_key(entry)) is not None}
        for key, draft in drafts:
            if key in present:  # another process recorded it meanwhile
                result.already_recorded += 1
            else:
                result.added.append(appender.append(draft))
    return result


def _evidence_draft(case_folder: Path, row: _EvidenceRow, chunk_size: int,
                    result: RecordResult) -> EntryDraft:
    path = logged_path(case_folder, Path(row.path))
    detail: dict[str, Any] = {"file_id": row.file_id, "status": row.status}
    if row.member:
        detail["member"] = row.member  # its bytes are vouched for by the archive's entry
        return EntryDraft(EVIDENCE_ADDED, path, row.sha256, row.size, detail)
    try:
        digest = hash_file(Path(row.path), chunk_size_for(row.size or 0, chunk_size))
    except OSError as error:
        detail["unreadable"] = error.strerror or str(error)
        result.changed_since_ingest.append(row.path)
        return EntryDraft(EVIDENCE_ADDED, path, row.sha256, row.size, detail)
    if digest.sha256 == row.sha256:
        detail.update(file_detail(digest))
    else:
        detail["changed_since_ingest"] = {"sha256": digest.sha256, "size": digest.size}
        result.changed_since_ingest.append(row.path)
    return EntryDraft(EVIDENCE_ADDED, path, row.sha256, row.size, detail)


def record_artefact(case_folder: Path, path: Path, action: str = ARTEFACT_WRITTEN,
                    detail: dict[str, Any] | None = None, actor: str | None = None,
                    chunk_size: int = CHUNK_SIZE) -> dict[str, Any]:
    """Hash a generated file (report.html, incidents.json, alerts.jsonl …) and append an
    entry for it; the entry as written. Recording a file again records its new state."""
    case_folder = case_folder.resolve()
    try:
        size = path.stat().st_size
        digest = hash_file(path, chunk_size_for(size, chunk_size))
    except OSError as error:
        raise CustodyError(f"cannot read the artefact: {error.strerror or error}",
                           SourceLocation(str(path))) from error
    draft = EntryDraft(action, logged_path(case_folder, path), digest.sha256, digest.size,
                       {**(detail or {}), **file_detail(digest)})
    with open_for_append(case_folder, actor) as appender:
        return appender.append(draft)


def record_note(case_folder: Path, text: str, detail: dict[str, Any] | None = None,
                actor: str | None = None, action: str = "note") -> dict[str, Any]:
    """Append an entry that names no file (a note, a verification result)."""
    with open_for_append(case_folder.resolve(), actor) as appender:
        return appender.append(EntryDraft(action, None, None, None,
                                          {"text": text, **(detail or {})}))
