"""Edits to the custody log itself: verify names the line and the field."""

from __future__ import annotations

import json
from typing import Any

import pytest

from trailguard.custody import Problem, verify
from trailguard.custody.chain import field_at
from trailguard.custody.hashing import canonical_json
from trailguard.custody.keys import CaseKey, load_or_create_key
from trailguard.custody.log import CONTENT_FIELDS, entry_hash, field_digest

from .conftest import BuiltCase

LOG_KINDS = {"entry-unreadable", "entry-changed", "entry-removed", "entry-inserted",
             "entries-reordered", "chain-broken", "signature-invalid"}


def _flip(line: bytes, position: int) -> bytes:
    return line[:position] + bytes([line[position] ^ 0x01]) + line[position + 1:]


def _value_position(line: bytes, name: str) -> int:
    """A byte inside the value of top-level field ``name`` (a digit, or a character of the
    first string in it)."""
    key = f'"{name}":'.encode()
    start = next(found + len(key) for found in range(len(line))
                 if line.startswith(key, found) and field_at(line, found + len(key)) == name)
    if line[start:start + 1].isdigit():
        return start
    quote = line.index(b'"', start)
    return quote + 2


def _chain_problems(built: BuiltCase) -> list[Problem]:
    return [p for p in verify(built.folder).problems if p.kind in LOG_KINDS]


def test_an_untouched_case_verifies(built: BuiltCase) -> None:
    report = verify(built.folder)
    assert report.ok, report.problems
    assert report.entries == 8 and report.files_checked == 6


@pytest.mark.parametrize("line_number", [1, 3, 6])
@pytest.mark.parametrize("name", [*CONTENT_FIELDS, "field_hashes", "hash", "signature"])
def test_one_flipped_byte_in_any_field_names_the_line_and_field(
        built: BuiltCase, line_number: int, name: str) -> None:
    lines = built.lines()
    line = lines[line_number - 1]
    lines[line_number - 1] = _flip(line, _value_position(line, name))
    built.write_lines(lines)
    problems = _chain_problems(built)
    assert problems, f"flip in {name} of line {line_number} not found"
    first = problems[0]
    assert (first.seq, first.field) == (line_number, name), first
    # A flipped digit can also make a number JSON cannot read ("013"): the field is named.
    expected = {"signature-invalid"} if name == "signature" else {"entry-changed",
                                                                  "entry-unreadable"}
    assert first.kind in expected


def test_a_flipped_short_field_hash_is_told_from_a_flipped_field(built: BuiltCase) -> None:
    lines = built.lines()
    position = lines[3].index(b'"time":"', lines[3].index(b'"field_hashes"')) + 9
    lines[3] = _flip(lines[3], position)
    built.write_lines(lines)
    [problem] = _chain_problems(built)
    assert (problem.seq, problem.field) == (4, "field_hashes")
    assert "'time'" in problem.detail


@pytest.mark.parametrize("line_number", [4, 8])
def test_every_byte_of_a_line_flipped_is_found_at_that_line(built: BuiltCase,
                                                            line_number: int) -> None:
    original = built.lines()
    line = original[line_number - 1]
    for position in range(len(line)):
        lines = list(original)
        lines[line_number - 1] = _flip(line, position)
        built.write_lines(lines)
        problems = _chain_problems(built)
        assert problems, f"flip at byte {position} ({line[position:position + 1]!r}) missed"
        assert problems[0].seq == line_number, (position, problems[0])


def test_a_flip_that_breaks_the_json_names_the_byte_and_field(built: BuiltCase) -> None:
    lines = built.lines()
    position = lines[2].index(b'"actor":') - 1  # the comma before "actor"
    lines[2] = _flip(lines[2], position)
    built.write_lines(lines)
    [problem] = _chain_problems(built)
    assert problem.kind == "entry-unreadable" and problem.seq == 3
    assert problem.offset_range == (position, position + 1)
    assert problem.field == "action"


def test_a_renamed_field_is_named(built: BuiltCase) -> None:
    lines = built.lines()
    lines[3] = lines[3].replace(b'"actor":', b'"actos":')
    built.write_lines(lines)
    [problem] = _chain_problems(built)
    assert (problem.kind, problem.seq, problem.field) == ("entry-changed", 4, "actor")


def test_field_at_finds_top_level_keys_only() -> None:
    line = b'{"a":1,"b":{"c":"x"},"d":"y"}'
    assert field_at(line, line.index(b'"x"')) == "b"
    assert field_at(line, line.index(b'"y"')) == "d"
    assert field_at(line, 1) is None or field_at(line, 1) == "a"


@pytest.mark.parametrize("removed", [1, 4, 7])
def test_a_deleted_line_is_named(built: BuiltCase, removed: int) -> None:
    lines = built.lines()
    del lines[removed - 1]
    built.write_lines(lines)
    problems = _chain_problems(built)
    assert problems[0].kind == "entry-removed" and problems[0].seq == removed


def test_the_deleted_last_line_is_found_by_the_head(built: BuiltCase) -> None:
    built.write_lines(built.lines()[:-1])
    kinds = [(p.kind, p.seq) for p in verify(built.folder).problems]
    assert ("log-truncated", 8) in kinds


def _forged(previous: dict[str, Any], seq: int, key: CaseKey) -> bytes:
    entry = {"seq": seq, "time": "2026-01-01T00:00:00.000000Z", "actor": "mallory@x",
             "action": "note", "path": None, "sha256": None, "size": None,
             "detail": {"text": "all fine"}, "prev": previous["hash"]}
    entry["field_hashes"] = {name: field_digest(entry[name]) for name in CONTENT_FIELDS}
    entry["hash"] = entry_hash(entry)
    entry["signature"] = key.sign(bytes.fromhex(entry["hash"]))
    return canonical_json(entry) + b"\n"


def test_an_inserted_forged_line_is_named(built: BuiltCase, tmp_path_factory) -> None:
    other_key = load_or_create_key(tmp_path_factory.mktemp("other"))
    lines = built.lines()
    lines.insert(4, _forged(json.loads(lines[3]), 5, other_key))
    built.write_lines(lines)
    problems = _chain_problems(built)
    assert (problems[0].kind, problems[0].seq) == ("entry-inserted", 5)


def test_a_forged_line_at_the_end_has_an_invalid_signature(built: BuiltCase,
                                                           tmp_path_factory) -> None:
    other_key = load_or_create_key(tmp_path_factory.mktemp("other"))
    lines = built.lines()
    lines.append(_forged(json.loads(lines[-1]), 9, other_key))
    built.write_lines(lines)
    problems = _chain_problems(built)
    assert (problems[0].kind, problems[0].seq, problems[0].field) == \
        ("signature-invalid", 9, "signature")


def test_swapped_lines_are_reported_as_reordered(built: BuiltCase) -> None:
    lines = built.lines()
    lines[3], lines[4] = lines[4], lines[3]
    built.write_lines(lines)
    problems = _chain_problems(built)
    assert (problems[0].kind, problems[0].seq) == ("entries-reordered", 4)


def test_a_duplicated_line_is_reported_as_inserted(built: BuiltCase) -> None:
    lines = built.lines()
    lines.insert(5, lines[4])
    built.write_lines(lines)
    problems = _chain_problems(built)
    assert (problems[0].kind, problems[0].seq) == ("entry-inserted", 6)


def test_two_edited_lines_are_both_reported(built: BuiltCase) -> None:
    lines = built.lines()
    for index in (2, 6):
        lines[index] = _flip(lines[index], _value_position(lines[index], "time"))
    built.write_lines(lines)
    assert [(p.seq, p.field) for p in _chain_problems(built)] == [(3, "time"), (7, "time")]
