from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from trailguard.custody import CustodyError, record_artefact, verify
from trailguard.custody.log import read_lines

from .conftest import BuiltCase, add_files_rows, record


def _entries(built: BuiltCase) -> list[dict[str, Any]]:
    return [line.entry for line in read_lines(built.log) if line.entry is not None]


def test_evidence_is_recorded_with_ingests_hash_once(built: BuiltCase) -> None:
    evidence = [entry for entry in _entries(built) if entry["action"] == "evidence-added"]
    assert len(evidence) == 4
    auth = next(entry for entry in evidence if entry["path"].endswith("auth.log"))
    data = (built.evidence / "auth.log").read_bytes()
    assert auth["sha256"] == hashlib.sha256(data).hexdigest() and auth["size"] == len(data)
    assert auth["detail"]["chunk_size"] == 8
    assert len(auth["detail"]["chunks"]) == -(-len(data) // 8)
    member = next(entry for entry in evidence if entry["detail"].get("member"))
    assert member["detail"]["member"] == "logs/a.json" and "chunks" not in member["detail"]
    assert member["sha256"] == "ab" * 32
    before = built.log.read_bytes()
    assert record(built.folder) == 0  # idempotent
    assert built.log.read_bytes() == before


def test_a_file_changed_since_ingest_is_recorded_as_ingest_saw_it(tmp_path: Path) -> None:
    path = tmp_path / "e.log"
    path.write_bytes(b"original bytes\n")
    folder = tmp_path / "case"
    add_files_rows(folder, [path])
    path.write_bytes(b"changed! bytes\n")
    assert record(folder) == 1
    [entry] = [line.entry for line in read_lines(folder / "custody" / "log.jsonl")
               if line.entry and line.entry["action"] == "evidence-added"]
    assert entry["detail"]["changed_since_ingest"]["size"] == 15
    [problem] = verify(folder).problems
    assert problem.kind == "file-changed" and "differed from ingest" in problem.detail


def test_artefacts_inside_the_case_are_logged_relative(built: BuiltCase) -> None:
    inside = built.folder / "reports" / "incidents.json"
    inside.parent.mkdir()
    inside.write_text("[]\n")
    entry = record_artefact(built.folder, inside, detail={"incident": "INC-1"})
    assert entry["path"] == "reports/incidents.json"
    assert entry["detail"]["incident"] == "INC-1"
    outside = [e["path"] for e in _entries(built) if e["action"] == "artefact-written"]
    assert str(built.out / "report.html") in outside
    assert verify(built.folder).ok


def test_a_missing_artefact_cannot_be_recorded(built: BuiltCase) -> None:
    with pytest.raises(CustodyError, match="cannot read the artefact"):
        record_artefact(built.folder, built.out / "nope.html")
