"""Edits to the files the custody log names: changed (where), removed, added."""

from __future__ import annotations

import pytest

from trailguard.custody import Problem, record_artefact, verify

from .conftest import CHUNK, BuiltCase


def _flip_file(path, position: int) -> None:
    data = bytearray(path.read_bytes())
    data[position] ^= 0x01
    path.write_bytes(bytes(data))


def _problems(built: BuiltCase, kind: str) -> list[Problem]:
    return [p for p in verify(built.folder).problems if p.kind == kind]


@pytest.mark.parametrize("where", ["start", "middle", "last"])
@pytest.mark.parametrize("name", ["cloudtrail.json", "auth.log"])
def test_a_flipped_evidence_byte_is_located_to_its_chunk(built: BuiltCase, where: str,
                                                         name: str) -> None:
    path = built.evidence / name
    size = path.stat().st_size
    position = {"start": 0, "middle": size // 2, "last": size - 1}[where]
    _flip_file(path, position)
    report = verify(built.folder)
    assert not report.ok
    [problem] = report.problems
    assert problem.kind == "file-changed"
    assert problem.path == str(path)
    start = position // CHUNK * CHUNK
    assert problem.offset_range == (start, min(start + CHUNK, size))
    assert problem.seq is not None and problem.seq > 1


def test_a_flipped_artefact_byte_is_located(built: BuiltCase) -> None:
    path = built.out / "report.html"
    _flip_file(path, 20)
    [problem] = _problems(built, "file-changed")
    assert problem.path == str(path) and problem.offset_range == (16, 24)


def test_every_changed_range_is_listed(built: BuiltCase) -> None:
    path = built.evidence / "auth.log"
    _flip_file(path, 1)
    _flip_file(path, 30)
    [problem] = _problems(built, "file-changed")
    assert problem.ranges == ((0, 8), (24, 32))


def test_an_appended_byte_is_located_at_the_end(built: BuiltCase) -> None:
    path = built.out / "alerts.jsonl"
    size = path.stat().st_size
    with path.open("ab") as handle:
        handle.write(b"x")
    [problem] = _problems(built, "file-changed")
    assert problem.offset_range is not None and problem.offset_range[1] == size + 1
    assert f"size {size} -> {size + 1}" in problem.detail


def test_a_flipped_archive_byte_is_found_at_the_archive(built: BuiltCase) -> None:
    path = built.evidence / "bundle.tar.gz"
    _flip_file(path, 3)
    [problem] = _problems(built, "file-changed")
    assert problem.path == str(path) and problem.offset_range == (0, 8)


def test_a_removed_evidence_file(built: BuiltCase) -> None:
    (built.evidence / "auth.log").unlink()
    report = verify(built.folder)
    assert [(p.kind, p.path) for p in report.problems] == \
        [("file-removed", str(built.evidence / "auth.log"))]


def test_a_removed_artefact(built: BuiltCase) -> None:
    (built.out / "report.html").unlink()
    assert [p.path for p in _problems(built, "file-removed")] == [str(built.out / "report.html")]


@pytest.mark.parametrize("folder", ["evidence", "out", "custody"])
def test_an_unknown_file_beside_logged_ones_is_reported(built: BuiltCase, folder: str) -> None:
    target = {"evidence": built.evidence, "out": built.out,
              "custody": built.folder / "custody"}[folder]
    (target / "planted.json").write_text("{}")
    [problem] = verify(built.folder).problems
    assert problem.kind == "file-added"
    assert problem.path is not None and problem.path.endswith("planted.json")


def test_the_case_bookkeeping_is_not_reported_as_added(built: BuiltCase) -> None:
    summary = built.folder / "summary.txt"
    summary.write_text("short summary\n")
    record_artefact(built.folder, summary, chunk_size=CHUNK)
    report = verify(built.folder)
    assert report.ok, report.problems  # case.duckdb, manifest.json are not evidence


def test_an_artefact_written_again_is_checked_against_its_latest_entry(
        built: BuiltCase) -> None:
    path = built.out / "report.html"
    path.write_text("<html>regenerated</html>\n")
    assert [p.kind for p in verify(built.folder).problems] == ["file-changed"]
    record_artefact(built.folder, path, chunk_size=CHUNK)
    assert verify(built.folder).ok
