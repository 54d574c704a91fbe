"""A small case built by hand: evidence files, their files rows, and a custody log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from trailguard.custody import record_artefact, record_evidence, record_note
from trailguard.custody.log import log_path
from trailguard.ingest.evidence import hash_root
from trailguard.store.case import Case

#: Tiny chunks so that a few dozen bytes make several chunks.
CHUNK = 8

EVIDENCE = {
    "cloudtrail.json": b'{"Records":[{"eventName":"CreateAccessKey","eventID":"e1"}]}\n',
    "auth.log": b"Jan  1 00:00:01 host sshd[1]: Accepted password for root from 10.0.0.1\n",
    "bundle.tar.gz": b"\x1f\x8b pretend archive bytes, members vouched for by the root\n",
}


@dataclass
class BuiltCase:
    folder: Path
    evidence: Path
    out: Path

    @property
    def log(self) -> Path:
        return log_path(self.folder)

    def lines(self) -> list[bytes]:
        return self.log.read_bytes().splitlines(keepends=True)

    def write_lines(self, lines: list[bytes]) -> None:
        self.log.write_bytes(b"".join(lines))


def add_files_rows(folder: Path, paths: list[Path]) -> None:
    """files rows as ingest writes them: one per root, plus a member for the archive."""
    now = datetime(2026, 1, 1)
    with Case.open(folder, create=True) as case:
        start = case.connection.execute("SELECT coalesce(max(id), 0) FROM files").fetchone()
        next_id = int(start[0]) + 1 if start else 1
        for path in paths:
            root = hash_root(path)
            archive = path.name.endswith(".tar.gz")
            case.connection.execute(
                "INSERT INTO files (id, parent_id, path, member, root_sha256, sha256, size, "
                "source_type, status, ingested_at) VALUES (?, NULL, ?, '', ?, ?, ?, ?, ?, ?)",
                [next_id, root.label, root.sha256, root.sha256, root.size,
                 None if archive else "json", "container" if archive else "complete", now])
            if archive:
                case.connection.execute(
                    "INSERT INTO files (id, parent_id, path, member, root_sha256, sha256, "
                    "size, source_type, status, ingested_at) VALUES "
                    "(?, ?, ?, 'logs/a.json', ?, ?, 12, 'json', 'complete', ?)",
                    [next_id + 1, next_id, root.label, root.sha256, "ab" * 32, now])
                next_id += 1
            next_id += 1
        case.write_manifest()


def record(folder: Path) -> int:
    with Case.open(folder, read_only=True) as case:
        return len(record_evidence(folder, case.connection, chunk_size=CHUNK).added)


@pytest.fixture
def built(tmp_path: Path) -> BuiltCase:
    """A case with three evidence files recorded, two artefacts and a note: 8 log entries
    (custody-opened, 4 evidence entries, 2 artefacts, 1 note)."""
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    for name, data in EVIDENCE.items():
        (evidence / name).write_bytes(data)
    folder = tmp_path / "case"
    add_files_rows(folder, sorted(evidence.iterdir()))
    assert record(folder) == 4
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.html").write_text("<html><body>Incident INC-1: 3 alerts</body></html>\n")
    (out / "alerts.jsonl").write_text('{"rule":"r1","time":"2026-01-01T00:00:00Z"}\n')
    record_artefact(folder, out / "report.html", chunk_size=CHUNK)
    record_artefact(folder, out / "alerts.jsonl", chunk_size=CHUNK)
    record_note(folder, "handed over to the legal team")
    return BuiltCase(folder, evidence, out)
