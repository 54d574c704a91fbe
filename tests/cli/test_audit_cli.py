"""`trailguard audit` through a local app that adds the sub-app the way main.py does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import responses
import typer
from typer.testing import CliRunner

from tests.audit.collect.conftest import fake_credentials  # noqa: F401 (autouse fixture)
from tests.audit.collect.fake_cloud import FakeAliyunRead
from trailguard.audit.report import validate_sarif
from trailguard.cli.audit import audit_app

EXPORTS = Path(__file__).resolve().parents[1] / "fixtures" / "audit" / "exports"

app = typer.Typer()
app.add_typer(audit_app, name="audit")


@app.callback()
def _root() -> None:
    """Like main.py: a root app with several commands."""


runner = CliRunner()


def trailguard(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["audit", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def aliyun() -> Iterator[FakeAliyunRead]:
    fake = FakeAliyunRead.sample()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.install(rsps)
        yield fake


def test_audit_without_subcommand_writes_json() -> None:
    code, out, err = trailguard("--provider", "aliyun", "--from-export",
                                str(EXPORTS / "aliyun-basic"))
    assert code == 0, err
    document = json.loads(out)
    assert any(f["check"] == "sg-internet-admin-port" for f in document["findings"])
    assert "finding(s)" in err


def test_run_writes_sarif_to_a_file(tmp_path: Path) -> None:
    target = tmp_path / "out" / "audit.sarif"
    code, out, err = trailguard("run", "--provider", "aws", "--from-export",
                                str(EXPORTS / "aws-basic"), "--format", "sarif",
                                "--out", str(target))
    assert code == 0, err
    assert out == ""
    assert validate_sarif(json.loads(target.read_text())) == []


def test_run_html(tmp_path: Path) -> None:
    target = tmp_path / "audit.html"
    code, _, err = trailguard("--provider", "aliyun", "--from-export",
                              str(EXPORTS / "aliyun-basic"), "--format", "html",
                              "--out", str(target))
    assert code == 0, err
    assert target.read_text().startswith("<!DOCTYPE html>")


def test_case_keeps_the_snapshot(tmp_path: Path) -> None:
    case = tmp_path / "case"
    code, _, err = trailguard("run", "--provider", "aliyun", "--from-export",
                              str(EXPORTS / "aliyun-basic"), "--case", str(case))
    assert code == 0, err
    code, out, err = trailguard("run", "--provider", "aliyun", "--from-export",
                                str(EXPORTS / "aliyun-later"), "--case", str(case))
    assert code == 0, err
    assert any(f["check"] == "sg-rule-changed" for f in json.loads(out)["findings"])


def test_wrong_provider_for_the_export_is_usage_error() -> None:
    code, _, err = trailguard("--provider", "aws", "--from-export",
                              str(EXPORTS / "aliyun-basic"))
    assert code == 2
    assert "from aliyun" in err


def test_missing_export_folder(tmp_path: Path) -> None:
    code, _, err = trailguard("--provider", "aws", "--from-export", str(tmp_path / "none"))
    assert code == 1
    assert "not an export folder" in err


def test_no_provider_shows_help() -> None:
    code, out, _ = trailguard()
    assert code == 2
    assert "--provider" in out


def test_collect_then_live_run(tmp_path: Path, aliyun: FakeAliyunRead) -> None:
    folder = tmp_path / "export"
    code, _, err = trailguard("collect", "--provider", "aliyun", "--out", str(folder),
                              "--region", "cn-hangzhou")
    assert code == 0, err
    assert (folder / "manifest.json").is_file()
    assert (folder / "cn-hangzhou" / "DescribeSecurityGroupAttribute-sg-bp1web.json").is_file()

    kept = tmp_path / "kept"
    code, out, err = trailguard("run", "--provider", "aliyun", "--region", "cn-hangzhou",
                                "--keep-export", str(kept))
    assert code == 0, err
    assert (kept / "global" / "ListUsers.json").is_file()
    admin = [f for f in json.loads(out)["findings"] if f["check"] == "sg-internet-admin-port"]
    assert [f["evidence"]["port_range"] for f in admin] == ["22/22"]
