"""``verify``: is the case exactly as its custody log says?

1. The log: every entry's hash, link, sequence number and signature, and the signed head
   (see ``chain``); the first broken entry is named with its line and field.
2. The keys: ``case.pub`` and ``case.key`` must be the key the log was started with.
3. The files: each logged file re-hashed; changed (with byte ranges), removed, added
   (see ``files``). With the case's database, evidence not yet recorded is reported too.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from trailguard.custody import problems as kinds
from trailguard.custody.chain import check_chain, check_head, logged_key
from trailguard.custody.errors import CustodyError
from trailguard.custody.files import check_files, logged_files
from trailguard.custody.keys import (
    CUSTODY_FOLDER,
    PRIVATE_KEY_FILE,
    PUBLIC_KEY_FILE,
    custody_folder,
    fingerprint,
    load_private_key,
    load_public_key,
    private_pem,
    raw_public_bytes,
)
from trailguard.custody.log import LOG_FILE, log_path, read_head, read_lines
from trailguard.custody.problems import Problem, VerifyReport
from trailguard.custody.record import record_note, unrecorded_evidence

VERIFIED = "verified"
_PUBLIC = f"{CUSTODY_FOLDER}/{PUBLIC_KEY_FILE}"
_PRIVATE = f"{CUSTODY_FOLDER}/{PRIVATE_KEY_FILE}"


def verify(case_folder: Path, connection: duckdb.DuckDBPyConnection | None = None,
           expected_fingerprint: str | None = None) -> VerifyReport:
    """Check the case's chain of custody; every problem found, each with where it is.

    ``connection`` (the case database) adds evidence the log has not recorded;
    ``expected_fingerprint`` (kept outside the case) catches a log re-signed with a new key.
    Raises CustodyError only when the log cannot be read at all.
    """
    case_folder = case_folder.resolve()
    report = VerifyReport(str(case_folder))
    path = log_path(case_folder)
    if not path.exists():
        report.problems.append(Problem(kinds.LOG_MISSING, "the case has no custody log (run "
                                       "`trailguard evidence record`)",
                                       path=f"{CUSTODY_FOLDER}/{LOG_FILE}"))
        if connection is not None:
            report.problems.extend(_unrecorded(case_folder, connection, []))
        return report
    lines = read_lines(path)
    entries = [line.entry for line in lines if line.entry is not None]
    report.entries = len(lines)
    key, key_problems = _check_keys(case_folder, logged_key(lines), expected_fingerprint)
    report.key_fingerprint = fingerprint(key) if key is not None else None
    report.problems.extend(key_problems)
    report.problems.extend(check_chain(lines, key))
    report.problems.extend(check_head(read_head(case_folder), lines, key))
    files = logged_files(entries)
    report.files_checked = len(files)
    file_problems = check_files(case_folder, files)
    if connection is not None:
        unrecorded = _unrecorded(case_folder, connection, entries)
        told = {problem.path for problem in unrecorded}  # said once, as not recorded
        file_problems = [problem for problem in file_problems
                         if problem.kind != kinds.FILE_ADDED or problem.path not in told]
        file_problems.extend(unrecorded)
    report.problems.extend(file_problems)
    return report


def record_verification(case_folder: Path, report: VerifyReport,
                        actor: str | None = None) -> dict[str, Any]:
    """Append a ``verified`` entry with the outcome (refused if the log itself is broken)."""
    counts = Counter(problem.kind for problem in report.problems)
    return record_note(case_folder, "custody verified" if report.ok else "custody problems "
                       "found", {"ok": report.ok, "entries": report.entries,
                                 "files_checked": report.files_checked,
                                 "problems": dict(sorted(counts.items()))},
                       actor=actor, action=VERIFIED)


def _check_keys(case_folder: Path, from_log: Ed25519PublicKey | None,
                expected_fingerprint: str | None
                ) -> tuple[Ed25519PublicKey | None, list[Problem]]:
    """The key to check signatures with (the one the log was started with) and what is wrong
    with the key files."""
    found: list[Problem] = []
    folder = custody_folder(case_folder)
    public: Ed25519PublicKey | None = None
    try:
        public = load_public_key(folder / PUBLIC_KEY_FILE)
    except CustodyError as error:
        found.append(Problem(kinds.KEY_CHANGED, error.message, path=_PUBLIC))
    reference = from_log or public
    if reference is None:
        return None, found
    if from_log is not None and public is not None \
            and raw_public_bytes(public) != raw_public_bytes(from_log):
        found.append(Problem(kinds.KEY_REPLACED, f"case.pub holds key {fingerprint(public)}, "
                             f"the log was started with {fingerprint(from_log)}",
                             path=_PUBLIC, seq=1, field="detail"))
    if expected_fingerprint and fingerprint(reference) != expected_fingerprint.lower():
        found.append(Problem(kinds.KEY_REPLACED, f"the log was started with key "
                             f"{fingerprint(reference)}, not the expected "
                             f"{expected_fingerprint}", seq=1, field="detail"))
    found.extend(_check_private_key(folder / PRIVATE_KEY_FILE, reference))
    return reference, found


def _check_private_key(path: Path, reference: Ed25519PublicKey) -> list[Problem]:
    """The private key must be the log's key and exactly its own canonical encoding (a byte
    changed in the PEM text that still decodes is a change too). No key bytes are shown."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [Problem(kinds.KEY_CHANGED, "the case private key is gone: nothing more can be "
                        "signed", path=_PRIVATE)]
    except OSError:
        return []  # not ours to read (mode 0600, another user): nothing to check
    try:
        private = load_private_key(path)
    except CustodyError as error:
        return [Problem(kinds.KEY_CHANGED, error.message, path=_PRIVATE)]
    if raw_public_bytes(private.public_key()) != raw_public_bytes(reference):
        return [Problem(kinds.KEY_REPLACED, "case.key is not the key the log was started "
                        "with", path=_PRIVATE)]
    canonical = private_pem(private)
    if canonical != data:
        offset = next((index for index, (a, b) in enumerate(zip(canonical, data, strict=False))
                       if a != b), min(len(canonical), len(data)))
        return [Problem(kinds.KEY_CHANGED, "case.key decodes to the right key but its bytes "
                        "were changed", path=_PRIVATE, offset_range=(offset, offset + 1))]
    return []


def _unrecorded(case_folder: Path, connection: duckdb.DuckDBPyConnection,
                entries: list[dict[str, Any]]) -> list[Problem]:
    return [Problem(kinds.EVIDENCE_UNRECORDED, "in the case's files table but not in the "
                    "custody log (run `trailguard evidence record`)", path=path)
            for path in unrecorded_evidence(case_folder, connection, entries)]
