"""`trailguard evidence record` and `trailguard evidence verify` through a local app."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from tests.custody.conftest import add_files_rows
from trailguard.cli.evidence import evidence_app

app = typer.Typer()
app.add_typer(evidence_app, name="evidence")


def _case(tmp_path: Path, name: str = "auth.log") -> tuple[Path, Path]:
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    path = evidence / name
    path.write_bytes(b"Jan  1 00:00:01 host sshd[1]: Accepted password for root\n")
    folder = tmp_path / "case"
    add_files_rows(folder, [path])
    return folder, path


def test_record_then_verify_then_tamper(tmp_path: Path) -> None:
    folder, path = _case(tmp_path)
    runner = CliRunner()
    recorded = runner.invoke(app, ["evidence", "record", "--case", str(folder)])
    assert recorded.exit_code == 0, recorded.output
    assert "recorded 1 evidence entries" in recorded.stdout
    again = runner.invoke(app, ["evidence", "record", "--case", str(folder), "--json"])
    assert json.loads(again.stdout)["recorded"] == 0
    intact = runner.invoke(app, ["evidence", "verify", "--case", str(folder)])
    assert intact.exit_code == 0, intact.output
    assert "custody intact" in intact.stdout
    path.write_bytes(path.read_bytes().replace(b"root", b"r00t"))
    broken = runner.invoke(app, ["evidence", "verify", "--case", str(folder), "--json"])
    assert broken.exit_code == 6
    document = json.loads(broken.stdout)
    assert document["ok"] is False
    assert [p["kind"] for p in document["problems"]] == ["file-changed"]
    assert document["problems"][0]["offset_range"] == [0, path.stat().st_size]


def test_a_tampered_log_refuses_record_with_exit_6(tmp_path: Path) -> None:
    folder, _ = _case(tmp_path)
    runner = CliRunner()
    assert runner.invoke(app, ["evidence", "record", "--case", str(folder)]).exit_code == 0
    log = folder / "custody" / "log.jsonl"
    log.write_bytes(log.read_bytes().replace(b'"status":"complete"', b'"status":"partial!"'))
    result = runner.invoke(app, ["evidence", "record", "--case", str(folder)])
    assert result.exit_code == 6
    assert "refusing to append" in result.output
    verify = runner.invoke(app, ["evidence", "verify", "--case", str(folder), "--record"])
    assert verify.exit_code == 6


def test_not_a_case_exits_3(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["evidence", "verify", "--case", str(tmp_path / "none")])
    assert result.exit_code == 3
    assert "not a TrailGuard case" in result.output


def test_hostile_file_names_are_shown_escaped(tmp_path: Path) -> None:
    folder, path = _case(tmp_path, "[bold]evil\x1b[31m.log")
    runner = CliRunner()
    assert runner.invoke(app, ["evidence", "record", "--case", str(folder)]).exit_code == 0
    assert runner.invoke(app, ["evidence", "verify", "--case", str(folder)]).exit_code == 0
    path.unlink()
    result = runner.invoke(app, ["evidence", "verify", "--case", str(folder)])
    assert result.exit_code == 6
    assert "\x1b[31m" not in result.stdout
    assert "\\x1b" in result.stdout and "[bold]evil" in result.stdout
