"""The ingest run: evidence files → units → parser → case store, with exact accounting.

Every record read ends up stored, quarantined or counted as a duplicate of one already in the
case: ``records = stored + quarantined + duplicates`` holds for the run and for every source.
An evidence unit (a file, or an archive member) counts as written only when its final files
row is committed; until then a commit marks it 'loading', and the next run removes its rows and
reads it again. So an ingest killed half-way leaves only whole units behind and a second run
completes exactly the rest.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.forkserver
import os
import queue
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from trailguard.allocator import use_system_allocator
from trailguard.collector import collector_paused
from trailguard.errors import CaseError, EvidenceError, SourceLocation, TrailGuardError
from trailguard.ingest.base import PARSERS, clean_text
from trailguard.ingest.evidence import Root, find_roots, hash_root
from trailguard.ingest.reader import (
    Event,
    QuarantineBatch,
    ReaderFailure,
    RootJob,
    SpilledBatch,
    UnitEnd,
    UnitStart,
    choose_parser,
    make_spool,
    read_root,
    start_worker,
    stream_root,
)
from trailguard.ingest.report import IngestReport, NoProgress, Progress
from trailguard.store.case import Case
from trailguard.store.writer import CaseWriter, UnitResult, quote_identifier

__all__ = ["Ingest", "IngestReport", "choose_parser"]



#: DuckDB's memory budget while ingesting (it spills beyond it).
#: A fixed budget from the environment; by default it follows the widest table (DuckDB keeps a
#: block per column of a table being appended to): 256 MB plus 1 MB per column.
INGEST_MEMORY_LIMIT = os.environ.get("TRAILGUARD_INGEST_MEMORY_LIMIT", "")
_BASE_MEMORY_MB = 256
_MEMORY_PER_COLUMN_KB = 1024
#: Below this much evidence a run stays in one process (starting workers costs ~0.5 s).
PARALLEL_MIN_BYTES = 2 * 1024 * 1024
#: Records are committed every this many records, bytes or seconds: small files share a commit
#: (it costs milliseconds), big files are committed in parts so that memory stays flat. A unit
#: counts as done only when its files row leaves the 'loading' status; an interrupted run's
#: 'loading' units are purged and read again, so no unit is ever left half-written. Each commit
#: rewrites the last, partial DuckDB row group of every table it touched (see store.case), so
#: parts are not small: 192 MB (the OTRF LSASS ingest took 2.8 s with them, 3.3 s with 96 MB
#: parts). But an uncommitted part must fit DuckDB's memory budget: once a table is wider than
#: WIDE_TABLE_COLUMNS, parts are 96 MB (with 192 MB parts the 580-column table of all OTRF
#: Windows atomics ran out of it).
COMMIT_RECORDS = 100_000
COMMIT_BYTES = 192 * 1024 * 1024
WIDE_COMMIT_BYTES = 96 * 1024 * 1024
WIDE_TABLE_COLUMNS = 300
COMMIT_SECONDS = 60.0


@dataclass(slots=True)
class _Planned:
    """A root to read in this run, with what the case already holds of it."""

    job: RootJob
    size: int
    root_id: int | None  # an interrupted container being completed


#: The files-table columns written by the pipeline, in the order of a queued row.
_FILE_COLUMNS: list[tuple[str, pa.DataType]] = [
    ("id", pa.int32()), ("parent_id", pa.int32()), ("path", pa.string()),
    ("member", pa.string()), ("root_sha256", pa.string()), ("sha256", pa.string()),
    ("size", pa.int64()), ("source_type", pa.string()), ("status", pa.string()),
    ("message", pa.string()), ("records", pa.int64()), ("stored", pa.int64()),
    ("quarantined", pa.int64()), ("duplicates", pa.int64()), ("first_time", pa.timestamp("us")),
    ("last_time", pa.timestamp("us")), ("ingested_at", pa.timestamp("us")),
]


class _Inbox:
    """Events from worker processes as they come, whichever root they belong to."""

    def __init__(self, results: Any, futures: list[Future[None]]) -> None:
        self.results = results
        self.futures = futures

    def next(self) -> tuple[int, Event | None]:
        """(root index, event); None ends that root's stream."""
        while True:
            try:
                index, event = self.results.get(timeout=1.0)
            except queue.Empty:
                for future in self.futures:
                    failure = future.exception() if future.done() else None
                    if failure is not None:
                        raise failure from None
                continue
            return int(index), event


@dataclass(slots=True)
class _RootWrite:
    """What the writer knows of one root being written (the roots of a parallel run are
    written in turns, as their events arrive)."""

    item: _Planned
    root_id: int | None
    file_id: int = 0
    recorded: bool = False
    """The root's own files row was written (a plain file is its own unit)."""
    unit_open: bool = False
    result: UnitResult = field(default_factory=UnitResult)


def _worker_context() -> multiprocessing.context.BaseContext:
    """How worker processes start: forked from a fresh server process that has imported the
    reader once (each spawned worker importing pyarrow and the parsers cost ~0.3 s of CPU);
    spawned where there is no fork server. Never forked from this process, whose DuckDB
    threads a fork would copy mid-flight."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["trailguard.ingest.reader"])
        return context
    return multiprocessing.get_context("spawn")


@contextlib.contextmanager
def _main_module_unnamed() -> Iterator[None]:
    """Workers started meanwhile do not import the program's main module again.

    A worker started through the fork server (or spawned) first re-imports ``__main__`` by its
    path or module name, as a pickled function might live there. Ours never do, and a script's
    imports can cost more than a worker's share of the job (a benchmark importing the
    detection engine made each worker import pySigma: +0.6 s on the OTRF LSASS ingest).
    """
    main = sys.modules.get("__main__")
    saved = {name: getattr(main, name) for name in ("__file__", "__spec__")
             if hasattr(main, name)}
    if main is None or not any(value is not None for value in saved.values()):
        yield
        return
    for name in saved:
        setattr(main, name, None)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(main, name, value)


def _start_fork_server() -> bool:
    """Start the fork server (where there is one) without waiting for it to be ready;
    whether it was started."""
    context = _worker_context()
    if context.get_start_method() != "forkserver":
        return False
    multiprocessing.forkserver.ensure_running()
    return True


def _fork_server_running() -> bool:
    server = getattr(multiprocessing.forkserver, "_forkserver", None)
    return getattr(server, "_forkserver_pid", None) is not None


def _stop_fork_server() -> None:
    """Stop the fork server this run started, once its workers are gone: no process outlives
    the run, and the workers' CPU time is counted with this process's children (where
    benchmarks read it). A server the embedding program had already started is left alone."""
    server = getattr(multiprocessing.forkserver, "_forkserver", None)
    stop = getattr(server, "_stop", None)
    if callable(stop):
        stop()


class Ingest:
    """One ingest run into an open case.

    Roots are hashed and checked against the case in the main process. Reading and encoding
    (the CPU-heavy part) runs in up to ``workers`` processes, one root per task; the main
    process writes their batches as they arrive, several units in one transaction at times.
    """

    def __init__(self, case: Case, source: str | None = None,
                 progress: Progress | None = None, reference_year: int | None = None,
                 workers: int | None = None) -> None:
        self.case = case
        self.con = case.connection
        self.source = source
        if source:
            PARSERS.get(source)  # fail early on an unknown name
        self.progress: Progress = progress or NoProgress()
        self.reference_year = reference_year
        self.workers = workers if workers is not None else min(os.cpu_count() or 1, 4)
        self.writer = CaseWriter(case, on_widen=self._fit_memory)
        self.report = IngestReport()
        self.run_files: set[int] = set()
        """files.id of the units parsed in this run."""
        self._pending_copies: list[tuple[Root, Path]] = []
        """Roots whose bytes another root of this run holds: (copy, original path)."""
        self._in_transaction = False
        self._pending_records = 0
        self._pending_bytes = 0
        self._transaction_started = 0.0
        self._known_roots: dict[str, tuple[int, str, str]] | None = None
        self._memory_mb = _BASE_MEMORY_MB
        self._file_rows: list[tuple[Any, ...]] = []
        self._open_units: dict[int, tuple[Root, int | None, str]] = {}
        """Units being written whose files row is not in the case yet: file id → (root,
        parent id, member)."""
        self._file_ids: int | None = None
        self._own_fork_server = False
        """This run started the fork server early (stopped when the run ends)."""
        self._commit_bytes = COMMIT_BYTES

    def run(self, paths: list[Path]) -> IngestReport:
        con = self.con
        previous = con.execute("SELECT current_setting('memory_limit'), "
                               "current_setting('threads')").fetchall()[0]
        # Ingest streams: a small DuckDB budget keeps memory flat however big the evidence,
        # and one DuckDB thread leaves the other cores to the readers (appends do not gain
        # from more threads: measured twice as fast with one on two cores).
        self._memory_mb = _BASE_MEMORY_MB
        try:
            con.execute("SET memory_limit = ?",
                        [INGEST_MEMORY_LIMIT or f"{self._memory_mb}MB"]).fetchall()
        except duckdb.Error as error:
            raise CaseError(f"bad TRAILGUARD_INGEST_MEMORY_LIMIT {INGEST_MEMORY_LIMIT!r}: "
                            f"{error}") from error
        con.execute("SET threads = 1").fetchall()
        use_system_allocator()
        try:
            with collector_paused():
                return self._run(paths)
        except RuntimeError as error:
            if "interrupted" in str(error).lower():  # DuckDB's word for Ctrl-C mid-statement
                raise KeyboardInterrupt from error
            raise
        except duckdb.OutOfMemoryException as error:
            budget = INGEST_MEMORY_LIMIT or f"{self._memory_mb}MB"
            raise CaseError(
                f"DuckDB ran out of its ingest memory budget ({budget}); evidence with very "
                "many distinct fields needs more: set TRAILGUARD_INGEST_MEMORY_LIMIT higher "
                f"and run the same ingest again ({error})") from error
        finally:
            if self._own_fork_server and _fork_server_running():
                _stop_fork_server()  # started early, and no reader was needed after all
            self._own_fork_server = False
            con.execute("SET memory_limit = ?", [previous[0]]).fetchall()
            con.execute("SET threads = ?", [int(previous[1])]).fetchall()

    def _run(self, paths: list[Path]) -> IngestReport:
        self._purge_interrupted()
        files, problems = find_roots(paths)
        for problem in problems:
            where, _, message = problem.partition(": ")
            self.report.problem(where, "", message)
        sizes = []
        for path in files:
            try:
                sizes.append(path.stat().st_size)
            except OSError:
                sizes.append(0)
        self.progress.start(len(files), sum(sizes))
        if self.workers > 1 and sum(sizes) >= PARALLEL_MIN_BYTES and not _fork_server_running():
            # It imports the readers while this process hashes the files.
            self._own_fork_server = _start_fork_server()
        plan: list[_Planned] = []
        seen: dict[str, Path] = {}
        for path, size in zip(files, sizes, strict=True):
            try:
                root = hash_root(path)
            except EvidenceError as error:
                self.report.problem(str(path), "", error.message)
                self.progress.root_done(size)
                continue
            planned = self._plan(root, seen)
            if planned is None:
                self.progress.root_done(size)
            else:
                plan.append(_Planned(planned[0], size, planned[1]))
        total = sum(item.size for item in plan)
        try:
            # One root too: a worker reads it while this process writes what it has read.
            if self.workers > 1 and total >= PARALLEL_MIN_BYTES:
                self._run_parallel(plan)
            else:
                for item in plan:
                    write = _RootWrite(item, item.root_id)
                    for event in read_root(item.job):
                        self._take(write, event)
                    self._finish_root(write)
            self._maybe_commit(0, force=True)
            self._flush_files()  # rows written outside a unit (copies, empty archives)
        except BaseException:
            self._rollback()
            raise
        self._deduplicate()
        self.case.write_manifest()
        # Roots written in turns report in the order their files end: say it by file instead.
        self.report.problems.sort(key=lambda problem: (problem["file"], problem["member"]))
        return self.report

    def _plan(self, root: Root, seen: dict[str, Path]) -> tuple[RootJob, int | None] | None:
        """The job for a root, or None when its bytes are already in the case."""
        if root.sha256 in seen:  # the same bytes twice in this run: count the copy later
            self._pending_copies.append((root, seen[root.sha256]))
            return None
        if self._known_roots is None:
            # Roots already in the case by content; the earliest row wins (read last here).
            self._known_roots = {
                str(row[0]): (int(row[1]), str(row[2]), str(row[3]))
                for row in self.con.execute(
                    "SELECT root_sha256, id, path, status FROM files WHERE member = '' "
                    "AND parent_id IS NULL AND status <> 'duplicate' ORDER BY id DESC"
                ).fetchall()
            }
        known = self._known_roots.get(root.sha256)
        if known is not None and known[2] != "reading":
            self._count_previous_root(root, known[0], known[1])
            return None
        seen[root.sha256] = root.path
        root_id = known[0] if known is not None else None
        skip: frozenset[str] = frozenset()
        if root_id is not None:
            rows = self.con.execute(
                "SELECT member FROM files WHERE parent_id = ? AND status IN "
                "('complete', 'partial', 'unrecognised', 'unreadable', 'empty')", [root_id]
            ).fetchall()
            skip = frozenset(str(row[0]) for row in rows)
        job = RootJob(root, skip, self.source, self.reference_year)
        return job, root_id

    def _run_parallel(self, plan: list[_Planned]) -> None:
        """Workers read roots and stream their events; this process writes them as they come."""
        spool = make_spool(self.case.folder)
        context = _worker_context()
        own_server = self._own_fork_server or not _fork_server_running()
        results = context.Queue()
        try:
            with ProcessPoolExecutor(max_workers=self.workers, mp_context=context,
                                     initializer=start_worker,
                                     initargs=(results, os.getpid())) as pool:
                with _main_module_unnamed():  # workers start as the jobs are submitted
                    futures = [pool.submit(stream_root, index, item.job, spool)
                               for index, item in enumerate(plan)]
                inbox = _Inbox(results, futures)
                try:
                    # Events are written as they arrive, whichever root they belong to: the
                    # writer never waits for one slow reader while others have batches ready.
                    writes = [_RootWrite(item, item.root_id) for item in plan]
                    remaining = len(writes)
                    while remaining:
                        index, event = inbox.next()
                        if event is None:
                            self._finish_root(writes[index])
                            remaining -= 1
                        else:
                            self._take(writes[index], event)
                except BaseException:
                    # Interrupted or failed: drop the roots still queued and let the running
                    # readers finish, taking what they still send (a reader blocked on a full
                    # pipe would never exit), before the spool goes.
                    for future in futures:
                        future.cancel()
                    while not all(future.done() for future in futures):
                        with contextlib.suppress(queue.Empty):
                            results.get(timeout=0.2)
                    pool.shutdown(wait=True)
                    raise
        finally:
            spool.remove()
            if own_server:
                _stop_fork_server()

    # -- writing what a reader produced --------------------------------------------------
    def _take(self, write: _RootWrite, event: Event) -> None:
        """Write one event of a root's stream. A unit counts as done only once its final files
        row is committed (a unit committed in parts stays 'loading' until then)."""
        root = write.item.job.root
        if isinstance(event, UnitStart):
            write.unit_open = True
            self._begin()
            if event.member and write.root_id is None:
                write.root_id = self._insert_file(None, root, "", root.sha256, root.size, None,
                                                  "reading", None)
            write.file_id = self._next_file_id()
            self._open_units[write.file_id] = (root, write.root_id if event.member else None,
                                               event.member)
            write.result = self.writer.start_unit(write.file_id)
        elif isinstance(event, ReaderFailure):
            raise TrailGuardError(f"reading failed: {event.message}", SourceLocation(root.label))
        elif isinstance(event, UnitEnd):
            if event.status == "skipped":
                self._count_previous_member(write.root_id, event.member)
                return
            write.unit_open = False
            self._end_unit(root, write.root_id if event.member else None, write.file_id,
                           write.result, event)
            write.recorded = write.recorded or not event.member
            self._maybe_commit(0)
        else:
            # A unit committed in parts goes on in a new transaction: its rows and its final
            # files row must be committed together.
            self._begin()
            self.writer.resume_unit(write.file_id, write.result)
            batch = event.load() if isinstance(event, SpilledBatch) else event
            if isinstance(batch, QuarantineBatch):
                self.writer.insert_quarantine(batch.table)
                self._maybe_commit(batch.table.num_rows)
            else:
                self.writer.insert_encoded(batch)
                self.progress.records(batch.native.num_rows)
                self._maybe_commit(batch.native.num_rows, batch.native.nbytes)

    def _finish_root(self, write: _RootWrite) -> None:
        """A root's stream has ended: mark its archive row, count copies of it."""
        root = write.item.job.root
        if write.unit_open:
            raise TrailGuardError("the reader stopped inside a file", SourceLocation(root.label))
        if write.root_id is not None:
            self._flush_files()
            self.con.execute("UPDATE files SET status = 'container' WHERE id = ?",
                             [write.root_id])
        elif not write.recorded and not self._root_recorded(root):  # an empty archive
            self._insert_file(None, root, "", root.sha256, root.size, None, "container",
                              "archive holds no files")
        self.progress.root_done(write.item.size)
        for copy, original in [c for c in self._pending_copies if c[1] == root.path]:
            self._count_previous_root(copy, self._root_id(copy.sha256),
                                      clean_text(str(original)))

    def _purge_interrupted(self) -> None:
        """Remove what an interrupted run wrote of a unit it did not finish.

        A unit's records are committed in chunks (so that memory stays flat on big files) while
        its files row says 'loading'; only the unit's last commit marks it done. Rows of a
        unit still 'loading' are deleted here, and the unit is read again in full.
        """
        rows = self.con.execute("SELECT id FROM files WHERE status = 'loading'").fetchall()
        if not rows:
            return
        ids = [int(row[0]) for row in rows]
        self.con.execute("BEGIN TRANSACTION")
        try:
            for table in self.case.source_tables():
                self.con.execute(f"DELETE FROM {quote_identifier(table)} "
                                 "WHERE list_contains(?, _file)", [ids]).fetchall()
            for sql in ("DELETE FROM events WHERE list_contains(?, file_id)",
                        "DELETE FROM quarantine WHERE list_contains(?, file_id)",
                        "DELETE FROM files WHERE list_contains(?, id)"):
                self.con.execute(sql, [ids]).fetchall()
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.progress.note(f"removed the partial records of {len(ids)} interrupted file(s)")

    # -- transactions: whole units, grouped so that many small files commit together ------
    def _begin(self) -> None:
        if not self._in_transaction:
            self.con.execute("BEGIN TRANSACTION")
            self._in_transaction = True
            self._pending_records = 0
            self._transaction_started = time.monotonic()

    def _fit_memory(self, widest: int) -> None:
        """Grow DuckDB's budget with the widest table (unless the user fixed it); the writer
        calls this whenever a table gains columns, before it inserts into it."""
        if widest > WIDE_TABLE_COLUMNS:
            self._commit_bytes = min(self._commit_bytes, WIDE_COMMIT_BYTES)
        if INGEST_MEMORY_LIMIT:
            return
        needed = _BASE_MEMORY_MB + widest * _MEMORY_PER_COLUMN_KB // 1024
        if needed > self._memory_mb:
            self._memory_mb = needed
            self.con.execute("SET memory_limit = ?", [f"{needed}MB"]).fetchall()

    def _maybe_commit(self, records: int, size: int = 0, force: bool = False) -> None:
        self._pending_records += records
        self._pending_bytes += size
        if self._in_transaction and (
            force or self._pending_records >= COMMIT_RECORDS
            or self._pending_bytes >= self._commit_bytes
            or time.monotonic() - self._transaction_started >= COMMIT_SECONDS
        ):
            self.writer.flush_inserts()
            # A unit committed in parts is marked 'loading' until its last part is in.
            for file_id, (root, parent_id, member) in self._open_units.items():
                self._insert_file(parent_id, root, member, None, None, None, "loading", None,
                                  file_id=file_id)
            self._open_units = {}
            self._flush_files()
            self.con.execute("COMMIT")
            self._in_transaction = False
            self._pending_bytes = 0

    def _rollback(self) -> None:
        self.writer.discard_pending()
        self._file_rows = []
        self._open_units = {}
        if self._in_transaction:
            self._in_transaction = False
            # DuckDB may have rolled back already (an interrupted statement ends it).
            with contextlib.suppress(duckdb.TransactionException):
                self.con.execute("ROLLBACK")

    def _end_unit(self, root: Root, parent_id: int | None, file_id: int, result: UnitResult,
                  end: UnitEnd) -> None:
        stored = result.stored
        if self._open_units.pop(file_id, None) is None:  # its 'loading' row is in already
            self._flush_files()
            self.con.execute(
                "UPDATE files SET sha256 = ?, size = ?, source_type = ?, status = ?, "
                "message = ?, records = ?, stored = ?, quarantined = ?, first_time = ?, "
                "last_time = ? WHERE id = ?",
                [end.sha256, end.size, end.source_type, end.status, end.message, end.records,
                 stored, end.quarantined, result.first, result.last, file_id])
        else:
            self._insert_file(parent_id, root, end.member, end.sha256, end.size,
                              end.source_type, end.status, end.message, file_id=file_id,
                              records=end.records, stored=stored, quarantined=end.quarantined,
                              first=result.first, last=result.last)
        self.run_files.add(file_id)
        if end.message:
            self.report.problem(root.label, end.member, end.message)
        self.report.files += 1
        if end.source_type:
            self.progress.records(end.quarantined)
            self.report.add(end.source_type, 1, end.records, stored, end.quarantined, 0,
                            result.first, result.last)

    def _root_recorded(self, root: Root) -> bool:
        self._flush_files()
        return bool(self.con.execute(
            "SELECT 1 FROM files WHERE root_sha256 = ? AND member = '' AND path = ?",
            [root.sha256, root.label]).fetchall())

    def _root_id(self, sha256: str) -> int:
        self._flush_files()
        rows = self.con.execute(
            "SELECT id FROM files WHERE root_sha256 = ? AND member = '' AND parent_id IS NULL "
            "AND status <> 'duplicate' ORDER BY id LIMIT 1", [sha256]).fetchall()
        return int(rows[0][0])

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

    def _count_previous_root(self, root: Root, root_id: int, previous_path: str) -> None:
        """The same bytes were ingested before: every record is a duplicate."""
        self._flush_files()
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
        # What was said about these files then still holds: say it again.
        for member, message in self.con.execute(
            "SELECT member, message FROM files WHERE (id = ? OR parent_id = ?) "
            "AND message IS NOT NULL AND status <> 'container' ORDER BY id",
            [root_id, root_id],
        ).fetchall():
            self.report.problem(root.label, str(member), f"{message} (already in the case)")
        if previous_path != root.label and not self._root_recorded(root):
            self._insert_file(None, root, "", root.sha256, root.size, None, "duplicate",
                              f"same content as {previous_path}")
        self.progress.note(f"already in the case: {clean_text(root.path.name)}")

    def _count_previous_member(self, root_id: int | None, member: str) -> None:
        self._flush_files()
        rows = self.con.execute(
            "SELECT source_type, records FROM files WHERE parent_id = ? AND member = ?",
            [root_id, member]).fetchall()
        self.report.files += 1
        if rows and rows[0][0]:
            records = int(rows[0][1] or 0)
            self.report.add(str(rows[0][0]), 1, records, 0, 0, records, None, None)

    # -- the files table -----------------------------------------------------------------
    def _next_file_id(self) -> int:
        if self._file_ids is None:
            rows = self.con.execute("SELECT coalesce(max(id), 0) FROM files").fetchall()
            self._file_ids = int(rows[0][0])
        self._file_ids += 1  # ids of a rolled-back transaction are simply not reused
        return self._file_ids

    def _insert_file(self, parent_id: int | None, root: Root, member: str, sha: str | None,
                     size: int | None, source_type: str | None, status: str,
                     message: str | None, *, file_id: int | None = None, records: int = 0,
                     stored: int = 0, quarantined: int = 0, duplicates: int = 0,
                     first: datetime | None = None, last: datetime | None = None) -> int:
        """Queue a files row; queued rows are written before anything reads or updates files,
        and before every commit (one insert for many small files instead of one each)."""
        if file_id is None:
            file_id = self._next_file_id()
        self._file_rows.append(
            (file_id, parent_id, root.label, member, root.sha256, sha, size, source_type,
             status, message, records, stored, quarantined, duplicates, first, last,
             datetime.now(UTC).replace(tzinfo=None)))
        return file_id

    def _flush_files(self) -> None:
        if not self._file_rows:
            return
        rows, self._file_rows = self._file_rows, []
        columns = list(zip(*rows, strict=True))
        table = pa.table({name: pa.array(values, kind) for (name, kind), values
                          in zip(_FILE_COLUMNS, columns, strict=True)})
        self.con.register("tg_files", table)
        try:
            self.con.execute("INSERT INTO files BY NAME SELECT * FROM tg_files").fetchall()
        finally:
            with contextlib.suppress(duckdb.Error):
                self.con.unregister("tg_files")
