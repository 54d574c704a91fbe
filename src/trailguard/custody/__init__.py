"""Evidence under chain of custody: an append-only, hash-chained custody log signed with a
per-case Ed25519 key, and ``verify``, which finds any changed, added or removed byte.

    record_evidence(case_folder, connection)     # every evidence file of the case
    record_artefact(case_folder, path)           # a generated report, alerts file …
    report = verify(case_folder)                 # report.ok, report.problems
"""

from __future__ import annotations

from trailguard.custody.errors import CustodyError, LogTamperedError
from trailguard.custody.keys import CaseKey, load_or_create_key
from trailguard.custody.log import EntryDraft, append_entries, read_lines
from trailguard.custody.problems import Problem, VerifyReport
from trailguard.custody.record import (
    ARTEFACT_WRITTEN,
    EVIDENCE_ADDED,
    RecordResult,
    record_artefact,
    record_evidence,
    record_note,
)
from trailguard.custody.verify import record_verification, verify

__all__ = [
    "ARTEFACT_WRITTEN",
    "EVIDENCE_ADDED",
    "CaseKey",
    "CustodyError",
    "EntryDraft",
    "LogTamperedError",
    "Problem",
    "RecordResult",
    "VerifyReport",
    "append_entries",
    "load_or_create_key",
    "read_lines",
    "record_artefact",
    "record_evidence",
    "record_note",
    "record_verification",
    "verify",
]
