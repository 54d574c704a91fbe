from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from trailguard.custody import EntryDraft, LogTamperedError, append_entries, verify
from trailguard.custody.keys import load_or_create_key
from trailguard.custody.log import (
    GENESIS_PREV,
    entry_hash,
    log_path,
    read_lines,
)

from .conftest import BuiltCase


def test_a_new_log_opens_with_the_public_key(tmp_path: Path) -> None:
    entries = append_entries(tmp_path, [EntryDraft("note", detail={"text": "hello"})],
                             actor="alice@desk")
    lines = read_lines(log_path(tmp_path))
    assert [line.entry for line in lines][1:] == entries
    first = lines[0].entry
    assert first is not None
    assert first["seq"] == 1 and first["prev"] == GENESIS_PREV
    assert first["action"] == "custody-opened" and first["path"] == "custody/case.pub"
    assert first["detail"]["public_key_fingerprint"] == load_or_create_key(tmp_path).fingerprint
    assert entries[0]["seq"] == 2 and entries[0]["prev"] == first["hash"]
    assert entries[0]["actor"] == "alice@desk"
    assert entries[0]["time"].endswith("Z")
    assert entry_hash(entries[0]) == entries[0]["hash"]
    raw = log_path(tmp_path).read_bytes().splitlines()
    assert json.loads(raw[1]) == entries[0]
    assert b"PRIVATE" not in log_path(tmp_path).read_bytes()


def test_actor_defaults_to_the_environment(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRAILGUARD_ACTOR", "bob@ir-laptop")
    [entry] = append_entries(tmp_path, [EntryDraft("note")])
    assert entry["actor"] == "bob@ir-laptop"


@pytest.mark.parametrize("tamper", ["edit-middle", "edit-last", "truncate-end",
                                    "cut-last-line-short"])
def test_append_after_tampering_is_refused(built: BuiltCase, tamper: str) -> None:
    lines = built.lines()
    if tamper == "edit-middle":
        lines[3] = lines[3].replace(b'"status":"complete"', b'"status":"partial!"')
    elif tamper == "edit-last":
        lines[-1] = lines[-1].replace(b"legal team", b"legal teem")
    elif tamper == "truncate-end":
        lines = lines[:-1]
    else:
        lines[-1] = lines[-1][:-10]
    built.write_lines(lines)
    before = built.log.read_bytes()
    with pytest.raises(LogTamperedError, match="refusing to append"):
        append_entries(built.folder, [EntryDraft("note")])
    assert built.log.read_bytes() == before


def test_append_with_a_replaced_key_is_refused(built: BuiltCase) -> None:
    (built.folder / "custody" / "case.key").unlink()
    (built.folder / "custody" / "case.pub").unlink()
    with pytest.raises(LogTamperedError, match="key replaced"):
        append_entries(built.folder, [EntryDraft("note")])


def _append_many(folder: str, worker: int, count: int) -> None:
    for number in range(count):
        append_entries(Path(folder), [EntryDraft("note", detail={"worker": worker,
                                                                 "number": number})])


def test_concurrent_appends_from_two_processes_keep_one_chain(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_append_many, args=(str(tmp_path), worker, 15))
               for worker in (1, 2)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(120)
        assert process.exitcode == 0
    entries = [line.entry for line in read_lines(log_path(tmp_path))]
    assert [entry["seq"] for entry in entries if entry] == list(range(1, 32))
    assert sum(1 for entry in entries if entry and entry["action"] == "custody-opened") == 1
    report = verify(tmp_path)
    assert report.ok, report.problems
