"""Checking the files the custody log names: changed (and where), removed, and added.

Each file is compared with the latest entry that names it. A changed file's chunk hashes say
which byte ranges differ. Files added are looked for in the folders that hold logged files
(the evidence files' folders, the folders artefacts were written to, the custody folder),
one level deep; the case's own bookkeeping files are not evidence.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trailguard.custody import problems as kinds
from trailguard.custody.hashing import CHUNK_SIZE, FileDigest, hash_file
from trailguard.custody.keys import CUSTODY_FOLDER
from trailguard.custody.log import resolve_logged
from trailguard.custody.problems import Problem

#: Entries of these actions name no file to check.
NOT_FILES = frozenset({"verified", "note"})
#: Files of the case folder that are not evidence (the database, its write-ahead log…).
_CASE_BOOKKEEPING = frozenset({"case.duckdb", "case.duckdb.wal", "manifest.json"})
_BOOKKEEPING_PREFIXES = (".manifest-", ".spool-")
#: The custody folder's own files (besides case.pub, which the log names).
_CUSTODY_BOOKKEEPING = frozenset({"case.key", "log.jsonl", "log.lock", "log.head"})
#: At most this many byte ranges are listed for one changed file.
_MAX_RANGES = 64


@dataclass(frozen=True, slots=True)
class LoggedFile:
    """A file as the latest entry naming it describes it."""

    seq: int
    path: str
    sha256: str
    size: int | None
    detail: dict[str, Any]

    @property
    def digest(self) -> FileDigest | None:
        chunks = self.detail.get("chunks")
        chunk_size = self.detail.get("chunk_size")
        if not isinstance(chunks, list) or not isinstance(chunk_size, int) or chunk_size < 1:
            return None
        return FileDigest(self.sha256, self.size or 0, chunk_size,
                          tuple(str(chunk) for chunk in chunks))


def logged_files(entries: Iterable[dict[str, Any]]) -> dict[str, LoggedFile]:
    """Latest entry per file path. Archive members are vouched for by their archive."""
    files: dict[str, LoggedFile] = {}
    for entry in entries:
        detail = entry.get("detail")
        detail = detail if isinstance(detail, dict) else {}
        path, sha256, seq = entry.get("path"), entry.get("sha256"), entry.get("seq")
        if entry.get("action") in NOT_FILES or detail.get("member") \
                or not isinstance(path, str) or not isinstance(sha256, str):
            continue
        size = entry.get("size")
        files[path] = LoggedFile(seq if isinstance(seq, int) else 0, path, sha256,
                                 size if isinstance(size, int) else None, detail)
    return files


def check_files(case_folder: Path, files: dict[str, LoggedFile]) -> list[Problem]:
    """Re-hash every logged file; then look for files nobody logged."""
    found: list[Problem] = []
    for logged in files.values():
        problem = _check_one(case_folder, logged)
        if problem is not None:
            found.append(problem)
    found.extend(_added_files(case_folder, files))
    return found


def _check_one(case_folder: Path, logged: LoggedFile) -> Problem | None:
    target = resolve_logged(case_folder, logged.path)
    before = logged.digest
    try:
        now = hash_file(target, before.chunk_size if before else CHUNK_SIZE)
    except FileNotFoundError:
        return Problem(kinds.FILE_REMOVED, f"the file logged at seq {logged.seq} is gone",
                       path=logged.path, seq=logged.seq)
    except OSError as error:
        return Problem(kinds.FILE_CHANGED, f"cannot be read: {error.strerror or error}",
                       path=logged.path, seq=logged.seq)
    changed_before = logged.detail.get("changed_since_ingest")
    if now.sha256 == logged.sha256:
        return None
    size_note = (f"; size {logged.size} -> {now.size}" if logged.size != now.size else "")
    if before is None:
        why = ("it already differed from ingest's hash when it was recorded"
               if changed_before else "no chunk hashes were logged to say where")
        return Problem(kinds.FILE_CHANGED, f"its SHA-256 differs from seq {logged.seq} "
                       f"({why}){size_note}", path=logged.path, seq=logged.seq)
    ranges = before.differing_ranges(now)
    if not ranges:  # chunk hashes agree but the whole does not: the log entry is inconsistent
        return Problem(kinds.FILE_CHANGED, f"its SHA-256 differs from seq {logged.seq} "
                       f"but no chunk does{size_note}", path=logged.path, seq=logged.seq)
    shown = ", ".join(f"{start}-{end}" for start, end in ranges[:8])
    more = f" and {len(ranges) - 8} more" if len(ranges) > 8 else ""
    return Problem(kinds.FILE_CHANGED, f"bytes [{shown}){more} differ from seq {logged.seq} "
                   f"({before.chunk_size}-byte chunks){size_note}", path=logged.path,
                   seq=logged.seq, offset_range=ranges[0], ranges=tuple(ranges[:_MAX_RANGES]))


def _added_files(case_folder: Path, files: dict[str, LoggedFile]) -> list[Problem]:
    case_folder = case_folder.resolve()
    custody = case_folder / CUSTODY_FOLDER
    known = {resolve_logged(case_folder, path) for path in files}
    folders = sorted({path.parent for path in known})
    found: list[Problem] = []
    for folder in folders:
        try:
            names = sorted(entry.name for entry in os.scandir(folder)
                           if entry.is_file(follow_symlinks=False))
        except OSError:
            continue  # a folder that is gone: its files are reported as removed
        for name in names:
            candidate = folder / name
            if candidate in known or _bookkeeping(case_folder, custody, folder, name):
                continue
            shown = (candidate.relative_to(case_folder).as_posix()
                     if candidate.is_relative_to(case_folder) else str(candidate))
            found.append(Problem(kinds.FILE_ADDED, "a file the custody log does not know, "
                                 "beside files it does", path=shown))
    return found


def _bookkeeping(case_folder: Path, custody: Path, folder: Path, name: str) -> bool:
    if folder == custody:
        return name in _CUSTODY_BOOKKEEPING or (name.startswith(".") and name.endswith(".tmp"))
    if folder == case_folder:
        return name in _CASE_BOOKKEEPING or name.startswith(_BOOKKEEPING_PREFIXES)
    return False
