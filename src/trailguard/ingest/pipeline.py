"""The ingest run: evidence files → units → parser → case store, with exact accounting.

Every record read ends up stored, quarantined or counted as a duplicate of one already in the
case: ``records = stored + quarantined + duplicates`` holds for the run and for every source.
Each evidence unit (a file, or an archive member) is written in one transaction, so an ingest
killed half-way leaves only whole units behind and a second run completes exactly the rest.
"""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

import trailguard.ingest.parsers  # noqa: F401  (registers the built-in parsers)
from trailguard.errors import EvidenceError
from trailguard.ingest.base import PARSERS, SNIFF_BYTES, ParseContext, Record, SourceParser
from trailguard.ingest.evidence import Root, Unit, UnitProblem, find_roots, hash_root, iter_units
from trailguard.ingest.timeparse import to_iso
from trailguard.store.case import Case
from trailguard.store.writer import BATCH_BYTES, BATCH_RECORDS, CaseWriter

log = logging.getLogger(__name__)

#: files.status values of a unit whose records are all accounted for.
_DONE = ("complete", "partial", "unrecognised", "unreadable", "empty")


class Progress(Protocol):
    """What the pipeline reports while it runs (the CLI draws a progress bar from it)."""

    def start(self, roots: int, total_bytes: int) -> None: ...
    def root_done(self, size: int) -> None: ...
    def records(self, count: int) -> None: ...
    def note(self, text: str) -> None: ...


@dataclass
class SourceStats:
    files: int = 0
    records: int = 0
    stored: int = 0
    quarantined: int = 0
    duplicates: int = 0
    first: datetime | None = None
    last: datetime | None = None

    def widen(self, first: datetime | None, last: datetime | None) -> None:
        if first is not None and (self.first is None or first < self.first):
            self.first = first
        if last is not None and (self.last is None or last > self.last):
            self.last = last

    def to_json(self) -> dict[str, Any]:
        return {"files": self.files, "records": self.records, "stored": self.stored,
                "quarantined": self.quarantined, "duplicates": self.duplicates,
                "first": to_iso(self.first), "last": to_iso(self.last)}


@dataclass
class IngestReport:
    files: int = 0
    records: int = 0
    stored: int = 0
    quarantined: int = 0
    duplicates: int = 0
    sources: dict[str, SourceStats] = field(default_factory=dict)
    problems: list[dict[str, str]] = field(default_factory=list)
    """Per-file messages: unreadable, unrecognised, empty, truncated …"""

    def add(self, source: str, files: int, records: int, stored: int, quarantined: int,
            duplicates: int, first: datetime | None, last: datetime | None) -> None:
        stats = self.sources.setdefault(source, SourceStats())
        stats.files += files
        stats.records += records
        stats.stored += stored
        stats.quarantined += quarantined
        stats.duplicates += duplicates
        stats.widen(first, last)
        self.records += records
        self.stored += stored
        self.quarantined += quarantined
        self.duplicates += duplicates

    def problem(self, path: str, member: str, message: str) -> None:
        self.problems.append({"file": path, "member": member, "message": message})

    @property
    def nothing_read(self) -> bool:
        return self.records == 0

    def to_json(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "records": self.records,
            "stored": self.stored,
            "quarantined": self.quarantined,
            "duplicates": self.duplicates,
            "sources": {name: stats.to_json() for name, stats in sorted(self.sources.items())},
            "problems": self.problems,
        }


class _NoProgress:
    def start(self, roots: int, total_bytes: int) -> None:
        pass

    def root_done(self, size: int) -> None:
        pass

    def records(self, count: int) -> None:
        pass

    def note(self, text: str) -> None:
        pass


class _Chain(io.RawIOBase):
    """The already-read head followed by the rest of the stream."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self.head = memoryview(head)
        self.offset = 0
        self.rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self.offset < len(self.head):
            size = min(len(buffer), len(self.head) - self.offset)
            buffer[:size] = self.head[self.offset:self.offset + size]
            self.offset += size
            return size
        data = self.rest.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def choose_parser(head: bytes, name: str) -> type[SourceParser] | None:
    """The most confident parser for a file's first bytes, or None."""
    best: tuple[int, str] = (0, "")
    for key, cls in PARSERS:
        try:
            score = cls.sniff(head, name)
        except Exception:  # a sniffer bug must not stop the ingest
            log.exception("sniffer of %s failed on %s", key, name)
            continue
        if score > best[0] or (score == best[0] and score > 0 and key < best[1]):
            best = (score, key)
    return PARSERS.get(best[1]) if best[0] > 0 else None


class Ingest:
    """One ingest run into an open case."""

    def __init__(self, case: Case, source: str | None = None,
                 progress: Progress | None = None, reference_year: int | None = None) -> None:
        self.case = case
        self.con = case.connection
        self.forced = PARSERS.get(source) if source else None
        self.progress: Progress = progress or _NoProgress()
        self.reference_year = reference_year
        self.writer = CaseWriter(case)
        self.report = IngestReport()
        self.run_files: set[int] = set()
        """files.id of the units parsed in this run."""

    def run(self, paths: list[Path]) -> IngestReport:
        files, problems = find_roots(paths)
        for problem in problems:
            self.report.problem(problem.split(":", 1)[0], "", problem.split(": ", 1)[-1])
        sizes = []
        for path in files:
            try:
                sizes.append(path.stat().st_size)
            except OSError:
                sizes.append(0)
        self.progress.start(len(files), sum(sizes))
        for path, size in zip(files, sizes, strict=True):
            try:
                root = hash_root(path)
            except EvidenceError as error:
                self.report.problem(str(path), "", error.message)
                self.progress.root_done(size)
                continue
            self._ingest_root(root)
            self.progress.root_done(size)
        self._deduplicate()
        self.case.write_manifest()
        return self.report

    def _deduplicate(self) -> None:
        """Records that arrived twice under one natural key (e.g. a CloudTrail eventID seen in
        an S3 file and in lookup-events output) are kept once and counted as duplicates."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            removed = self.writer.deduplicate()
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        for file_id, number in removed.items():
            found = self.con.execute("SELECT source_type FROM files WHERE id = ?",
                                     [file_id]).fetchall()
            if file_id in self.run_files and found:
                stats = self.report.sources[str(found[0][0])]
                stats.stored -= number
                stats.duplicates += number
                self.report.stored -= number
                self.report.duplicates += number

    # -- roots ---------------------------------------------------------------------------
    def _ingest_root(self, root: Root) -> None:
        con = self.con
        found = con.execute(
            "SELECT id, path, status FROM files WHERE root_sha256 = ? AND member = '' "
            "AND parent_id IS NULL AND status <> 'duplicate' ORDER BY id LIMIT 1",
            [root.sha256],
        ).fetchall()
        previous = found[0] if found else None
        if previous is not None and previous[2] != "reading":
            self._count_previous_root(root, int(previous[0]), str(previous[1]))
            return
        root_id = int(previous[0]) if previous is not None else None
        for unit in iter_units(root):
            if unit.member == "" and root_id is None:
                self._ingest_unit(unit, parent_id=None)
                return
            if root_id is None:
                root_id = self._insert_file(None, root, "", root.sha256, root.size, None,
                                            "reading", None)
            self._ingest_member(unit, root_id)
        if root_id is None:  # an archive with nothing in it
            root_id = self._insert_file(None, root, "", root.sha256, root.size, None,
                                        "reading", None)
        con.execute("UPDATE files SET status = 'container' WHERE id = ?", [root_id])

    def _count_previous_root(self, root: Root, root_id: int, previous_path: str) -> None:
        """The same bytes were ingested before: every record is a duplicate."""
        rows = self.con.execute(
            "SELECT source_type, count(*), sum(records) FROM files "
            "WHERE (id = ? OR parent_id = ?) AND status <> 'container' GROUP BY source_type",
            [root_id, root_id],
        ).fetchall()
        for source_type, files, records in rows:
            self.report.files += int(files)
            if source_type:
                self.report.add(source_type, int(files), int(records or 0), 0, 0,
                                int(records or 0), None, None)
        if previous_path != str(root.path):
            known = self.con.execute(
                "SELECT 1 FROM files WHERE path = ? AND root_sha256 = ? AND member = ''",
                [str(root.path), root.sha256]).fetchall()
            if not known:
                self._insert_file(None, root, "", root.sha256, root.size, None, "duplicate",
                                  f"same content as {previous_path}")
        self.progress.note(f"already in the case: {root.path.name}")

    def _ingest_member(self, unit: Unit | UnitProblem, root_id: int) -> None:
        found = self.con.execute(
            "SELECT source_type, records, status FROM files WHERE parent_id = ? AND member = ?",
            [root_id, unit.member],
        ).fetchall()
        done = found[0] if found else None
        if done is not None and done[2] in _DONE:
            self.report.files += 1
            if done[0]:
                records = int(done[1] or 0)
                self.report.add(str(done[0]), 1, records, 0, 0, records, None, None)
            if isinstance(unit, Unit):
                unit.finish()
            return
        self._ingest_unit(unit, parent_id=root_id)

    # -- units ---------------------------------------------------------------------------
    def _ingest_unit(self, unit: Unit | UnitProblem, parent_id: int | None) -> None:
        report = self.report
        report.files += 1
        root = unit.root
        if isinstance(unit, UnitProblem):
            self._insert_file(parent_id, root, unit.member, None, None, None, "unreadable",
                              unit.message)
            report.problem(str(root.path), unit.member, unit.message)
            return
        stream = unit.opener()
        try:
            head = stream.read(SNIFF_BYTES)
        except (OSError, EOFError, ValueError) as error:
            message = f"cannot read: {error}"
            sha, size = _safe_finish(unit)
            self._insert_file(parent_id, root, unit.member, sha, size, None, "unreadable", message)
            report.problem(str(root.path), unit.member, message)
            return
        if not head:
            sha, size = _safe_finish(unit)
            self._insert_file(parent_id, root, unit.member, sha, size, None, "empty",
                              "empty file")
            report.problem(str(root.path), unit.member, "empty file")
            return
        parser_cls = self.forced or choose_parser(head, unit.name)
        if parser_cls is None:
            message = "format not recognised: " + _describe(head)
            sha, size = _safe_finish(unit)
            self._insert_file(parent_id, root, unit.member, sha, size, None, "unrecognised",
                              message)
            report.problem(str(root.path), unit.member, message)
            return
        self._parse_unit(unit, parent_id, parser_cls, io.BufferedReader(_Chain(head, stream)))

    def _parse_unit(self, unit: Unit, parent_id: int | None, parser_cls: type[SourceParser],
                    stream: IO[bytes]) -> None:
        con = self.con
        root = unit.root
        source_type = parser_cls.NAME
        year = self.reference_year or (unit.mtime or root.mtime).year
        context = ParseContext(str(root.path), unit.member, year)
        con.execute("BEGIN TRANSACTION")
        try:
            file_id = self._next_file_id()
            key = hashlib.blake2b(f"{root.sha256}\x00{unit.member}".encode(),
                                  digest_size=8).hexdigest()
            self.writer.start_unit(file_id, f"{key}:")
            records = quarantined = 0
            status, message = "complete", None
            batch: list[Record] = []
            batch_bytes = 0
            writer = self.writer
            try:
                for item in parser_cls().parse(stream, context):
                    if type(item) is Record:
                        batch.append(item)
                        batch_bytes += len(item.raw)
                        if len(batch) >= BATCH_RECORDS or batch_bytes >= BATCH_BYTES:
                            records += len(batch)
                            writer.add_many(source_type, batch)
                            self.progress.records(len(batch))
                            batch, batch_bytes = [], 0
                    elif isinstance(item, Record):
                        batch.append(item)
                    else:
                        quarantined += 1
                        writer.reject(source_type, item)
            except (OSError, EOFError, ValueError) as error:
                read = records + len(batch) + quarantined
                status = "partial"
                message = f"stopped reading after {read} records: {_reason(error)}"
            except Exception as error:  # a parser bug: keep what was read, say so  # noqa: BLE001
                log.exception("parser %s failed on %s", source_type, unit.location)
                read = records + len(batch) + quarantined
                status = "partial"
                message = f"parser error after {read} records: {type(error).__name__}: {error}"
            records += len(batch) + quarantined
            writer.add_many(source_type, batch)
            self.progress.records(len(batch) + quarantined)
            writer.flush()
            result = self.writer.result
            sha, size = _safe_finish(unit)
            self._insert_file(parent_id, root, unit.member, sha, size, source_type, status,
                              message, file_id=file_id, records=records, stored=result.stored,
                              quarantined=quarantined, duplicates=result.duplicates,
                              first=result.first, last=result.last)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        self.run_files.add(file_id)
        if message:
            self.report.problem(str(root.path), unit.member, message)
        self.report.add(source_type, 1, records, result.stored, quarantined, result.duplicates,
                        result.first, result.last)

    # -- the files table -----------------------------------------------------------------
    def _next_file_id(self) -> int:
        rows = self.con.execute("SELECT coalesce(max(id), 0) + 1 FROM files").fetchall()
        return int(rows[0][0])

    def _insert_file(self, parent_id: int | None, root: Root, member: str, sha: str | None,
                     size: int | None, source_type: str | None, status: str,
                     message: str | None, *, file_id: int | None = None, records: int = 0,
                     stored: int = 0, quarantined: int = 0, duplicates: int = 0,
                     first: datetime | None = None, last: datetime | None = None) -> int:
        if file_id is None:
            file_id = self._next_file_id()
        self.con.execute(
            "INSERT INTO files (id, parent_id, path, member, root_sha256, sha256, size, "
            "source_type, status, message, records, stored, quarantined, duplicates, "
            "first_time, last_time, ingested_at) VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [file_id, parent_id, str(root.path), member, root.sha256, sha, size, source_type,
             status, message, records, stored, quarantined, duplicates, first, last,
             datetime.now(UTC).replace(tzinfo=None)],
        )
        return file_id


def _safe_finish(unit: Unit) -> tuple[str | None, int | None]:
    try:
        return unit.finish()
    except (OSError, EOFError, ValueError):
        return None, None


def _reason(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    if isinstance(error, EOFError) or "end-of-stream" in text:
        return f"truncated compressed file ({text})"
    return text


def _describe(head: bytes) -> str:
    """A short, safe description of a file's first bytes for an error message."""
    sample = head[:24]
    printable = sum(32 <= byte < 127 or byte in (9, 10, 13) for byte in head[:512])
    kind = "text" if printable >= 0.9 * min(len(head), 512) else "binary data"
    return f"{kind}, first bytes {sample!r}"
