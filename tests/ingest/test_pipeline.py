"""The ingest run: exact accounting, idempotence, archives, bad input, interrupted runs."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from trailguard.ingest.pipeline import Ingest, IngestReport
from trailguard.store.case import Case


def ingest(case_dir: Path, *paths: Path, **options: object) -> IngestReport:
    with Case.open(case_dir, create=True) as case:
        return Ingest(case, **options).run(list(paths))  # type: ignore[arg-type]


def count(case_dir: Path, sql: str) -> int:
    with Case.open(case_dir) as case:
        return int(case.connection.execute(sql).fetchall()[0][0])


def assert_balanced(report: IngestReport) -> None:
    summary = report.to_json()
    assert summary["records"] == summary["stored"] + summary["quarantined"] + summary["duplicates"]
    for stats in summary["sources"].values():
        assert stats["records"] == stats["stored"] + stats["quarantined"] + stats["duplicates"]


def cloudtrail_lines(count: int, prefix: str = "e") -> bytes:
    lines = []
    for number in range(count):
        lines.append(json.dumps({
            "eventVersion": "1.08", "eventTime": f"2024-03-01T10:{number % 60:02d}:00Z",
            "eventSource": "ec2.amazonaws.com", "eventName": "DescribeInstances",
            "eventID": f"{prefix}-{number}", "userIdentity": {"type": "IAMUser", "userName": "u"},
        }))
    return ("\n".join(lines) + "\n").encode()


def test_fixture_folder_is_stored_and_balanced(tmp_path: Path, fixtures: Path) -> None:
    report = ingest(tmp_path / "case", fixtures / "cloudtrail")
    assert_balanced(report)
    summary = report.to_json()
    stats = summary["sources"]["cloudtrail"]
    # s3_delivery.json and its .gz twin hold the same 4 events; lookup_events repeats one.
    assert stats["files"] == 4
    assert stats["records"] == 4 + 4 + 2 + 3
    assert stats["quarantined"] == 1
    assert stats["duplicates"] == 5
    assert stats["stored"] == 7
    assert stats["first"] == "2024-03-01T10:00:00Z"
    assert count(tmp_path / "case", "SELECT count(*) FROM ev_cloudtrail") == 7
    assert count(tmp_path / "case", "SELECT count(*) FROM events") == 7
    assert count(tmp_path / "case", "SELECT count(*) FROM quarantine") == 1


def test_nested_fields_are_addressable_by_dotted_path(tmp_path: Path, fixtures: Path) -> None:
    ingest(tmp_path / "case", fixtures / "cloudtrail" / "s3_delivery.json")
    with Case.open(tmp_path / "case") as case:
        rows = case.connection.execute(
            'SELECT "userIdentity.type", "requestParameters.bucketName", '
            '"additionalEventData.bytesTransferredOut", _record, _raw '
            'FROM ev_cloudtrail WHERE "eventName" = \'GetObject\'').fetchall()
    assert rows[0][:4] == ("AssumedRole", "payroll", "1048576", 3)
    assert json.loads(rows[0][4])["eventName"] == "GetObject"


def test_reingesting_adds_nothing(tmp_path: Path, fixtures: Path) -> None:
    first = ingest(tmp_path / "case", fixtures / "cloudtrail")
    again = ingest(tmp_path / "case", fixtures / "cloudtrail")
    assert_balanced(again)
    assert again.stored == 0 and again.quarantined == 0
    assert again.duplicates == first.records
    assert count(tmp_path / "case", "SELECT count(*) FROM ev_cloudtrail") == first.stored


def test_same_bytes_under_another_name_are_duplicates_and_listed(tmp_path: Path,
                                                                  fixtures: Path) -> None:
    copy = tmp_path / "copy.json"
    copy.write_bytes((fixtures / "cloudtrail" / "records.ndjson").read_bytes())
    ingest(tmp_path / "case", fixtures / "cloudtrail" / "records.ndjson")
    report = ingest(tmp_path / "case", copy)
    assert report.duplicates == 3 and report.stored == 0
    manifest = json.loads((tmp_path / "case" / "manifest.json").read_text())
    entries = {Path(item["path"]).name: item for item in manifest["files"]}
    assert entries["copy.json"]["status"] == "duplicate"
    assert entries["records.ndjson"]["sha256"] == hashlib.sha256(copy.read_bytes()).hexdigest()


def test_manifest_lists_every_file_with_hash_and_size(tmp_path: Path, fixtures: Path) -> None:
    ingest(tmp_path / "case", fixtures / "cloudtrail")
    manifest = json.loads((tmp_path / "case" / "manifest.json").read_text())
    for item in manifest["files"]:
        data = Path(item["path"]).read_bytes()
        assert item["sha256"] == hashlib.sha256(data).hexdigest()
        assert item["size"] == len(data)


def test_archives_nested_and_members_hashed(tmp_path: Path) -> None:
    inner_tar = io.BytesIO()
    with tarfile.open(fileobj=inner_tar, mode="w:gz") as archive:
        for name, data in [("logs/a.json", cloudtrail_lines(3, "a")),
                           ("logs/b.json.gz", gzip.compress(cloudtrail_lines(2, "b"))),
                           ("logs/empty.log", b"")]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    outer = tmp_path / "evidence.zip"
    with zipfile.ZipFile(outer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("collection/host.tar.gz", inner_tar.getvalue())
        archive.writestr("collection/c.json", cloudtrail_lines(4, "c"))
        archive.writestr("__MACOSX/._c.json", b"\x00\x05\x16\x07binary")
    report = ingest(tmp_path / "case", outer)
    assert_balanced(report)
    assert report.stored == 9
    assert report.files == 4
    assert [p["message"] for p in report.problems] == ["empty file"]
    with Case.open(tmp_path / "case") as case:
        members = dict(case.connection.execute(
            "SELECT member, sha256 FROM files WHERE parent_id IS NOT NULL").fetchall())
    assert members["collection/c.json"] == hashlib.sha256(cloudtrail_lines(4, "c")).hexdigest()
    assert "collection/host.tar.gz!logs/b.json.gz" in members
    again = ingest(tmp_path / "case", outer)
    assert again.duplicates == 9 and again.stored == 0


def test_truncated_gzip_keeps_what_was_read_and_says_so(tmp_path: Path) -> None:
    data = gzip.compress(os.urandom(200_000).hex().encode()[:0] + cloudtrail_lines(3000))
    path = tmp_path / "trail.json.gz"
    path.write_bytes(data[: len(data) // 2])
    report = ingest(tmp_path / "case", path)
    assert_balanced(report)
    assert 0 < report.stored < 3000
    assert "truncated" in report.problems[0]["message"]


def test_bad_files_get_a_message_and_do_not_stop_the_run(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    (evidence / "empty.log").write_bytes(b"")
    (evidence / "garbage.bin").write_bytes(bytes(range(256)) * 40)
    (evidence / "broken.zip").write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    (evidence / "good.json").write_bytes(cloudtrail_lines(5))
    report = ingest(tmp_path / "case", evidence)
    assert_balanced(report)
    assert report.stored == 5
    messages = {Path(p["file"]).name: p["message"] for p in report.problems}
    assert messages["empty.log"] == "empty file"
    assert messages["garbage.bin"].startswith("format not recognised: binary data")
    assert "zip" in messages["broken.zip"]


def test_wrong_encoding_is_kept_and_huge_garbage_quarantined(tmp_path: Path) -> None:
    good = cloudtrail_lines(2).splitlines()
    huge_valid = json.dumps({"eventSource": "s3.amazonaws.com", "eventName": "PutObject",
                             "eventID": "big", "pad": "x" * (10 * 1024 * 1024)}).encode()
    lines = [good[0], b'{"eventName": "caf\xe9", "eventSource": "x.amazonaws.com"}',
             b"y" * (10 * 1024 * 1024), huge_valid, good[1]]
    path = tmp_path / "mixed.json"
    path.write_bytes(b"\n".join(lines) + b"\n")
    report = ingest(tmp_path / "case", path, source="cloudtrail")
    assert_balanced(report)
    assert report.stored == 4
    assert report.quarantined == 1
    with Case.open(tmp_path / "case") as case:
        rows = case.connection.execute(
            "SELECT position, length(raw), raw_length FROM quarantine ORDER BY position"
        ).fetchall()
        latin = case.connection.execute(
            "SELECT \"eventName\", _raw FROM ev_cloudtrail WHERE _record = 2").fetchall()
    assert latin == [("caf\\xe9", '{"eventName": "caf\\xe9", "eventSource": "x.amazonaws.com"}')]
    assert [row[0] for row in rows] == [3]
    assert rows[0][1] == 64 * 1024 and rows[0][2] == 10 * 1024 * 1024


KILL_SCRIPT = """
import os, sys
from pathlib import Path
import trailguard.ingest.pipeline as pipeline
from trailguard.ingest.pipeline import Ingest
from trailguard.store.case import Case

pipeline.COMMIT_RECORDS = 1  # commit after every batch, to be killed between commits
limit = int(sys.argv[3])

class KillMidway:
    seen = 0
    def start(self, roots, total): pass
    def root_done(self, size): pass
    def note(self, text): pass
    def records(self, count):
        self.seen += count
        if self.seen >= limit:
            os._exit(9)   # like kill -9: no cleanup, no commit

def main():
    pipeline.PARALLEL_MIN_BYTES = 0
    case = Case.open(Path(sys.argv[1]), create=True)
    Ingest(case, progress=KillMidway(), workers=int(sys.argv[4])).run([Path(sys.argv[2])])

if __name__ == "__main__":
    main()
"""


def kill_during_ingest(case_dir: Path, evidence: Path, after_records: int,
                       workers: int = 1) -> None:
    script = case_dir.parent / "kill_midway.py"
    script.write_text(KILL_SCRIPT)
    result = subprocess.run([sys.executable, str(script), str(case_dir), str(evidence),
                             str(after_records), str(workers)], check=False, timeout=300)
    assert result.returncode == 9


def test_killed_ingest_resumes_to_exactly_the_right_records(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    for number in range(4):
        (evidence / f"trail{number}.json").write_bytes(cloudtrail_lines(6000, f"f{number}"))
    case_dir = tmp_path / "case"
    kill_during_ingest(case_dir, evidence, 14000)
    partial = count(case_dir, "SELECT count(*) FROM events")
    # two whole files committed (each in parts of 2,000 and 4,000 records), the third rolled
    # back: a unit's last part and its final files row are committed together
    assert partial == 12000
    report = ingest(case_dir, evidence)
    assert_balanced(report)
    assert report.stored == 24000 - partial and report.duplicates == partial
    assert count(case_dir, "SELECT count(*) FROM ev_cloudtrail") == 24000
    assert count(case_dir, "SELECT count(DISTINCT _uid) FROM ev_cloudtrail") == 24000
    assert count(case_dir, "SELECT count(*) FROM events") == 24000
    assert count(case_dir, "SELECT count(*) FROM files WHERE status = 'complete'") == 4


def assert_no_process_left(folder: Path, seconds: float = 15.0) -> None:
    """No worker or fork server of a killed run (their command lines name its folder) stays."""
    proc = Path("/proc")
    if not proc.is_dir():
        return
    deadline = time.monotonic() + seconds
    while True:
        left = []
        for entry in proc.iterdir():
            try:
                if entry.name.isdigit() and str(folder).encode() in \
                        (entry / "cmdline").read_bytes():
                    left.append(entry.name)
            except OSError:
                continue
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert not left, f"processes of the killed run still running: {left}"


def test_files_written_in_turns_resume_exactly_after_a_kill(tmp_path: Path) -> None:
    """Workers' files are written as their batches arrive, several units open at once; a kill
    leaves each of them 'loading' or complete, and the next run ends with exactly the records."""
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    for number in range(3):
        (evidence / f"trail{number}.json").write_bytes(cloudtrail_lines(12000, f"t{number}"))
    case_dir = tmp_path / "case"
    kill_during_ingest(case_dir, evidence, 20000, workers=2)
    assert 0 < count(case_dir, "SELECT count(*) FROM events") < 36000
    assert_no_process_left(tmp_path)
    report = ingest(case_dir, evidence, workers=2)
    assert_balanced(report)
    assert report.records == 36000
    assert count(case_dir, "SELECT count(DISTINCT _uid) FROM ev_cloudtrail") == 36000
    assert count(case_dir, "SELECT count(*) FROM events") == 36000
    assert count(case_dir, "SELECT count(*) FROM files WHERE status = 'complete'") == 3
    assert count(case_dir, "SELECT count(*) FROM files WHERE status = 'loading'") == 0


def test_archives_written_in_turns_resume_exactly_after_a_kill(tmp_path: Path) -> None:
    """Two archives read by two workers, their members written in turns: after a kill the
    next run skips the members already complete and ends with exactly the records."""
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    for archive in range(2):
        with zipfile.ZipFile(evidence / f"logs{archive}.zip", "w") as out:
            for member in range(3):
                out.writestr(f"trail{member}.json",
                             cloudtrail_lines(5000, f"a{archive}m{member}"))
    case_dir = tmp_path / "case"
    kill_during_ingest(case_dir, evidence, 17000, workers=2)
    assert_no_process_left(tmp_path)
    before = count(case_dir, "SELECT count(*) FROM events")
    assert 0 < before < 30000
    report = ingest(case_dir, evidence, workers=2)
    assert_balanced(report)
    assert report.records == 30000
    assert count(case_dir, "SELECT count(DISTINCT _uid) FROM ev_cloudtrail") == 30000
    assert count(case_dir, "SELECT count(*) FROM events") == 30000
    assert count(case_dir, "SELECT count(*) FROM files WHERE status = 'complete'") == 6
    assert count(case_dir, "SELECT count(*) FROM files WHERE status = 'container'") == 2
    assert count(case_dir, "SELECT count(*) FROM files WHERE status IN ('loading', "
                           "'reading')") == 0


def test_file_killed_after_a_partial_commit_is_read_again_in_full(tmp_path: Path) -> None:
    evidence = tmp_path / "big.json"
    evidence.write_bytes(cloudtrail_lines(30000, "big"))
    case_dir = tmp_path / "case"
    kill_during_ingest(case_dir, evidence, 25000)
    # parts of 2,000 and 8,000 records committed; the third (20,000) was not
    assert count(case_dir, "SELECT count(*) FROM events") == 10000
    assert count(case_dir, "SELECT count(*) FROM files WHERE status = 'loading'") == 1
    report = ingest(case_dir, evidence)
    assert_balanced(report)
    assert report.stored == 30000
    assert count(case_dir, "SELECT count(*) FROM ev_cloudtrail") == 30000
    assert count(case_dir, "SELECT count(*) FROM events") == 30000
    assert count(case_dir, "SELECT count(*) FROM files") == 1


def test_unknown_forced_source_is_a_clear_error(tmp_path: Path) -> None:
    from trailguard.errors import UnknownPluginError

    with pytest.raises(UnknownPluginError, match="unknown source parser 'nope'; known: "):
        ingest(tmp_path / "case", tmp_path, source="nope")


def test_parallel_workers_store_exactly_what_one_process_stores(
    tmp_path: Path, fixtures: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import trailguard.ingest.pipeline as pipeline

    monkeypatch.setattr(pipeline, "PARALLEL_MIN_BYTES", 0)
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    for number in range(3):
        (evidence / f"trail{number}.json").write_bytes(cloudtrail_lines(500, f"p{number}"))
    (evidence / "copy.json").write_bytes(cloudtrail_lines(500, "p0"))
    (evidence / "empty.log").write_bytes(b"")
    one = ingest(tmp_path / "one", evidence, fixtures / "cloudtrail", workers=1)
    two = ingest(tmp_path / "two", evidence, fixtures / "cloudtrail", workers=2)
    assert_balanced(two)
    assert one.to_json() == two.to_json()
    assert two.duplicates == 500 + 5
    query = "SELECT count(*), count(DISTINCT _uid) FROM ev_cloudtrail"
    with Case.open(tmp_path / "one") as first, Case.open(tmp_path / "two") as second:
        assert first.connection.execute(query).fetchall() == \
            second.connection.execute(query).fetchall()
    assert not list((tmp_path / "two").glob(".spool-*"))


def test_batches_spill_to_the_case_folder_when_shared_memory_is_full(
    tmp_path: Path, fixtures: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import trailguard.ingest.pipeline as pipeline
    import trailguard.ingest.reader as reader

    monkeypatch.setattr(pipeline, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(reader, "SPOOL_MEMORY_BYTES", 1)  # every batch goes to the case folder
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    for number in range(3):
        (evidence / f"trail{number}.json").write_bytes(cloudtrail_lines(300, f"p{number}"))
    memory = ingest(tmp_path / "memory", evidence, workers=2)
    monkeypatch.setattr(reader, "SPOOL_MEMORY_BYTES", 0)
    disk = ingest(tmp_path / "disk", evidence, workers=2)
    assert memory.to_json() == disk.to_json()
    assert disk.stored == 900
    assert not list((tmp_path / "disk").glob(".spool-*"))


def test_a_killed_runs_shared_memory_spool_is_removed_by_the_next_run(tmp_path: Path) -> None:
    from trailguard.ingest.reader import make_spool

    (tmp_path / "case").mkdir()
    first = make_spool(tmp_path / "case")
    if first.memory is None:
        pytest.skip("no shared memory on this system")
    (Path(first.memory) / "left.arrow").write_bytes(b"x")  # the run was killed here
    second = make_spool(tmp_path / "case")
    try:
        assert not Path(first.memory).exists()
        assert second.memory is not None and Path(second.memory).is_dir()
    finally:
        first.remove()
        second.remove()
    assert not Path(second.memory).exists()
    assert not Path(second.disk).exists()


def test_a_fork_server_started_by_the_caller_is_left_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import multiprocessing
    import multiprocessing.forkserver as forkserver

    import trailguard.ingest.pipeline as pipeline

    if "forkserver" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork server on this system")
    monkeypatch.setattr(pipeline, "PARALLEL_MIN_BYTES", 0)
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    for number in range(2):
        (evidence / f"trail{number}.json").write_bytes(cloudtrail_lines(50, f"p{number}"))
    ingest(tmp_path / "own", evidence, workers=2)
    assert not pipeline._fork_server_running()  # the run stopped the server it started
    forkserver.ensure_running()
    try:
        assert_balanced(ingest(tmp_path / "theirs", evidence, workers=2))
        assert pipeline._fork_server_running()
    finally:
        pipeline._stop_fork_server()


def test_utf16_files_are_read_as_text(tmp_path: Path) -> None:
    text = cloudtrail_lines(3).decode()
    (tmp_path / "bom.json").write_bytes(text.encode("utf-16"))
    (tmp_path / "le.json").write_bytes(text.replace("e-", "le-").encode("utf-16-le"))
    report = ingest(tmp_path / "case", tmp_path / "bom.json", tmp_path / "le.json")
    assert_balanced(report)
    assert report.stored == 6
    assert not report.problems


def test_special_files_in_folders_are_reported_not_skipped_silently(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    (evidence / "good.json").write_bytes(cloudtrail_lines(2))
    os.mkfifo(evidence / "pipe")
    (evidence / "dangling").symlink_to(tmp_path / "missing")
    (evidence / "loop").symlink_to(evidence, target_is_directory=True)
    report = ingest(tmp_path / "case", evidence)
    assert report.stored == 2
    messages = {Path(p["file"]).name: p["message"] for p in report.problems}
    assert messages["pipe"] == "skipped (not a regular file)"
    assert messages["dangling"] == "skipped (broken symbolic link)"
    assert messages["loop"].startswith("skipped (symbolic link to a folder")


def test_damaged_tar_keeps_its_readable_members_and_says_so(tmp_path: Path) -> None:
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        for name in ("a.json", "b.json"):
            data = cloudtrail_lines(2000, name)
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    whole = archive.getvalue()
    (tmp_path / "padded.tar.gz").write_bytes(whole + b"\n")  # a trailing newline is harmless
    (tmp_path / "cut.tar.gz").write_bytes(whole[: len(whole) * 3 // 4])
    report = ingest(tmp_path / "case", tmp_path / "padded.tar.gz", tmp_path / "cut.tar.gz")
    assert_balanced(report)
    problems = [p for p in report.problems if p["file"].endswith("cut.tar.gz")]
    assert problems
    assert all(any(word in p["message"] for word in ("truncated", "damaged", "cut short"))
               for p in problems)
    assert not [p for p in report.problems if p["file"].endswith("padded.tar.gz")]
    # the padded copy whole; most of the cut one, whose events repeat the padded copy's
    assert report.stored == 4000
    assert report.duplicates > 2000


def test_small_truncated_gzip_keeps_its_readable_lines(tmp_path: Path) -> None:
    data = gzip.compress(cloudtrail_lines(400))
    (tmp_path / "cut.json.gz").write_bytes(data[: len(data) // 2])
    report = ingest(tmp_path / "case", tmp_path / "cut.json.gz")
    assert_balanced(report)
    assert report.stored > 100
    assert "truncated" in report.problems[0]["message"]


def test_compression_inside_compression_is_unwrapped(tmp_path: Path) -> None:
    import bz2

    (tmp_path / "twice.json.gz.bz2").write_bytes(bz2.compress(gzip.compress(
        cloudtrail_lines(5))))
    report = ingest(tmp_path / "case", tmp_path / "twice.json.gz.bz2")
    assert report.stored == 5
    assert not report.problems


def test_undecodable_bytes_in_names_and_keys_are_stored_escaped(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    odd = os.fsdecode(b"trail-\xff\xfe.json")
    (evidence / odd).write_bytes(b'{"eventName": "A", "eventSource": "s3.amazonaws.com", '
                                 b'"eventID": "id-\xff", "x\xfe": "v\xfd"}\n')
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w", format=tarfile.GNU_FORMAT,
                      encoding="utf-8", errors="surrogateescape") as tar:
        data = cloudtrail_lines(2)
        info = tarfile.TarInfo(os.fsdecode(b"member-\xff.json"))
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    (evidence / "bundle.tar").write_bytes(archive.getvalue())
    report = ingest(tmp_path / "case", evidence)
    assert_balanced(report)
    assert report.stored == 3
    with Case.open(tmp_path / "case") as case:
        names = sorted(row[0] for row in case.connection.execute(
            "SELECT path || '!' || member FROM files WHERE status = 'complete'").fetchall())
    assert any("trail-\\xff\\xfe.json" in name for name in names)
    assert any("member-\\xff.json" in name for name in names)


def test_reingest_repeats_what_was_said_about_the_files(tmp_path: Path) -> None:
    (tmp_path / "empty.log").write_bytes(b"")
    ingest(tmp_path / "case", tmp_path / "empty.log")
    again = ingest(tmp_path / "case", tmp_path / "empty.log")
    assert [p["message"] for p in again.problems] == ["empty file (already in the case)"]


def test_a_failing_write_stops_the_workers_without_hanging(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import trailguard.ingest.pipeline as pipeline
    from trailguard.store.writer import CaseWriter

    monkeypatch.setattr(pipeline, "PARALLEL_MIN_BYTES", 0)
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    for number in range(6):
        (evidence / f"trail{number}.json").write_bytes(cloudtrail_lines(3000, f"w{number}"))

    def broken(self: CaseWriter, batch: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(CaseWriter, "insert_encoded", broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        ingest(tmp_path / "case", evidence, workers=2)
    assert not list((tmp_path / "case").glob(".spool-*"))
