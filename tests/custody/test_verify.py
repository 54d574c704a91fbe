"""verify as a whole: the keys, the report, evidence not recorded, recording the outcome."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trailguard.custody import record_verification, verify
from trailguard.custody.keys import load_or_create_key
from trailguard.custody.log import read_lines
from trailguard.store.case import Case

from .conftest import BuiltCase, add_files_rows, record


def _flip_file(path: Path, position: int) -> None:
    data = bytearray(path.read_bytes())
    data[position] ^= 0x01
    path.write_bytes(bytes(data))


def test_every_flipped_byte_of_the_public_key_is_named(built: BuiltCase) -> None:
    path = built.folder / "custody" / "case.pub"
    original = path.read_bytes()
    for position in range(len(original)):
        _flip_file(path, position)
        problems = verify(built.folder).problems
        assert any(p.path == "custody/case.pub" for p in problems), position
        path.write_bytes(original)
    assert verify(built.folder).ok


def test_every_flipped_byte_of_the_private_key_is_named_without_showing_it(
        built: BuiltCase) -> None:
    path = built.folder / "custody" / "case.key"
    original = path.read_bytes()
    secret = original.split(b"\n")[1]
    for position in range(len(original)):
        _flip_file(path, position)
        problems = verify(built.folder).problems
        assert [p.path for p in problems] == ["custody/case.key"], (position, problems)
        assert problems[0].kind in {"key-changed", "key-replaced"}
        assert secret.decode() not in json.dumps([str(p) for p in problems])
        path.write_bytes(original)


def test_a_replaced_key_pair_is_named(built: BuiltCase) -> None:
    custody = built.folder / "custody"
    fingerprint = load_or_create_key(built.folder).fingerprint
    (custody / "case.key").unlink()
    (custody / "case.pub").unlink()
    load_or_create_key(built.folder)  # a new pair
    report = verify(built.folder)
    kinds = {(p.kind, p.path) for p in report.problems}
    assert ("key-replaced", "custody/case.pub") in kinds
    assert ("key-replaced", "custody/case.key") in kinds
    assert report.key_fingerprint == fingerprint  # the log's own key still checks the chain
    assert not any(p.kind == "signature-invalid" for p in report.problems)


def test_a_log_resigned_with_another_key_is_caught_by_the_expected_fingerprint(
        built: BuiltCase) -> None:
    report = verify(built.folder, expected_fingerprint="0" * 64)
    assert [(p.kind, p.seq) for p in report.problems] == [("key-replaced", 1)]
    good = load_or_create_key(built.folder).fingerprint
    assert verify(built.folder, expected_fingerprint=good.upper()).ok


def test_evidence_not_yet_recorded_is_reported_with_the_database(built: BuiltCase) -> None:
    extra = built.evidence / "late.json"
    extra.write_text('{"late": true}\n')
    add_files_rows(built.folder, [extra])
    with Case.open(built.folder, read_only=True) as case:
        report = verify(built.folder, case.connection)
    assert [(p.kind, p.path) for p in report.problems] == [("evidence-unrecorded", str(extra))]
    assert record(built.folder) == 1
    with Case.open(built.folder, read_only=True) as case:
        assert verify(built.folder, case.connection).ok


def test_a_case_without_a_log(tmp_path: Path) -> None:
    report = verify(tmp_path)
    assert [p.kind for p in report.problems] == ["log-missing"]


def test_the_report_as_json(built: BuiltCase) -> None:
    (built.evidence / "auth.log").unlink()
    document = json.loads(verify(built.folder).to_json())
    assert document["ok"] is False and document["entries"] == 8
    [problem] = document["problems"]
    assert set(problem) >= {"kind", "path", "seq", "offset_range", "detail", "field"}


def test_a_verification_is_recorded_in_the_log(built: BuiltCase) -> None:
    entry = record_verification(built.folder, verify(built.folder), actor="carol@soc")
    assert entry["action"] == "verified" and entry["detail"]["ok"] is True
    assert entry["seq"] == len(read_lines(built.log))
    assert verify(built.folder).ok


def test_a_cut_short_last_line_is_reported(built: BuiltCase) -> None:
    built.log.write_bytes(built.log.read_bytes()[:-20])
    problems = verify(built.folder).problems
    assert (problems[0].kind, problems[0].seq) == ("entry-unreadable", 8)
    assert "incomplete" in problems[0].detail


@pytest.mark.parametrize("content", [b"", b"{}\n"])
def test_a_missing_or_bad_head_is_reported(built: BuiltCase, content: bytes) -> None:
    head = built.folder / "custody" / "log.head"
    if content:
        head.write_bytes(content)
    else:
        head.unlink()
    assert [p.kind for p in verify(built.folder).problems] == ["head-invalid"]
