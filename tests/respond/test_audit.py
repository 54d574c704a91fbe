"""The response audit log: append-only records with who and when, secrets masked, two
processes never interleave."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from trailguard.respond import audit


def test_records_carry_who_when_and_a_sequence(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRAILGUARD_ACTOR", "alice@ir")
    first = audit.append(tmp_path, "run-started", incident="INC-1", run="run-1")
    second = audit.append(tmp_path, "clock-mark", incident="INC-2",
                          detail={"clock": "recovered"}, time="2026-10-16T10:00:00Z")
    assert (first["seq"], second["seq"]) == (1, 2)
    assert first["who"] == "alice@ir" and first["time"].endswith("Z")
    assert [r["seq"] for r in audit.read(tmp_path)] == [1, 2]
    assert [r["seq"] for r in audit.read(tmp_path, "INC-2")] == [2]


def test_secrets_are_masked_before_writing(tmp_path: Path) -> None:
    audit.append(tmp_path, "executed", detail={
        "AccessKeySecret": "s3cr3t-value", "url": "https://oapi.dingtalk.com/robot/send?"
        "access_token=abcdef123456", "SecurityToken": "tok-value"})
    text = audit.audit_path(tmp_path).read_text(encoding="utf-8")
    assert "s3cr3t-value" not in text and "abcdef123456" not in text and "tok-value" not in text


def test_unknown_events_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown audit event"):
        audit.append(tmp_path, "deleted-everything")


def _append_many(folder: str) -> None:
    for number in range(50):
        audit.append(Path(folder), "clock-mark", detail={"n": number})


def test_two_processes_never_interleave(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_append_many, args=(str(tmp_path),)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    lines = audit.audit_path(tmp_path).read_text(encoding="utf-8").splitlines()
    assert len(lines) == 100
    assert sorted(json.loads(line)["seq"] for line in lines) == list(range(1, 101))
