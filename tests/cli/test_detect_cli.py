"""`trailguard detect`, `trailguard rules check` and `trailguard rules update` end to end.

Each test has its own compiled-rule cache and data folder (so an installed SigmaHQ release or a
warm cache never leaks into another test). `rules update` only ever reads `file://` archives built
here; http(s) fetching is exercised through a stub of urlopen.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.detect._support import MACOS_RULE, MACOS_RULE_ID
from trailguard.cli.main import app

runner = CliRunner()

LINE_KEYS = {"time", "rule", "attack", "event", "entities"}
RULE_KEYS = {"id", "title", "level", "author", "path", "source"}
EVENT_KEYS = {"source_type", "file", "record", "id"}
SUMMARY_KEYS = {"rules", "rules_run", "refused", "rule_errors", "correlation_errors", "matches",
                "alerts", "written", "out", "seconds", "top_rules"}

UNDEFINED_CONDITION_RULE = """\
title: Undefined Condition
id: 5a1b0000-0000-4000-8000-000000000802
status: test
author: TrailGuard tests
logsource:
    product: windows
    category: process_creation
detection:
    selection:
        Image|endswith: '\\x.exe'
    condition: selection and nothere
level: low
"""


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """This test's TRAILGUARD_DATA_DIR (where `rules update` installs releases)."""
    return tmp_path / "data"


@pytest.fixture(autouse=True)
def _own_folders(tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRAILGUARD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TRAILGUARD_DATA_DIR", str(data_dir))


@pytest.fixture(scope="module")
def rules(fixtures: Path) -> Path:
    return Path(__file__).resolve().parents[1] / "detect" / "rules"


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory, fixtures: Path) -> Path:
    folder = tmp_path_factory.mktemp("cli-case") / "case"
    evidence = [str(p) for p in sorted((fixtures / "detect").iterdir()) if p.name != "rules"]
    result = runner.invoke(app, ["ingest", *evidence, "--case", str(folder), "--year", "2024",
                                 "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["stored"] == 32
    return folder


def invoke(*args: str | Path) -> Any:
    return runner.invoke(app, [str(arg) for arg in args])


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def build_zip(path: Path, members: dict[str, bytes | Path]) -> Path:
    with zipfile.ZipFile(path, "w") as bundle:
        for name, content in members.items():
            data = content.read_bytes() if isinstance(content, Path) else content
            bundle.writestr(name, data)
    return path


def installed(data: Path) -> list[str]:
    """Everything under the data folder, relative, sorted."""
    return sorted(str(p.relative_to(data)) for p in data.rglob("*")) if data.exists() else []


def test_private_folders_are_in_effect(data_dir: Path) -> None:
    assert os.environ["TRAILGUARD_DATA_DIR"] == str(data_dir)


# --- rules check --------------------------------------------------------------------------------


def test_rules_check_json_shape_and_counts(tmp_path: Path, rules: Path) -> None:
    folder = tmp_path / "check"
    folder.mkdir()
    (folder / "good.yml").write_bytes((rules / "windows" / "proc_creation_whoami.yml")
                                      .read_bytes())
    (folder / "macos.yml").write_text(MACOS_RULE, encoding="utf-8")
    (folder / "undefined.yml").write_text(UNDEFINED_CONDITION_RULE, encoding="utf-8")
    (folder / "not_yaml.yml").write_text("title: [unclosed\n  foo: : :\n", encoding="utf-8")
    (folder / "notes.txt").write_text("not a rule file", encoding="utf-8")

    result = invoke("rules", "check", folder, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {"rules", "compiled", "refused", "refusals"} <= set(report)
    assert (report["rules"], report["compiled"], report["refused"]) == (4, 1, 3)
    assert all({"path", "id", "reason"} <= set(r) for r in report["refusals"])
    by_file = {Path(r["path"]).name: r for r in report["refusals"]}
    assert set(by_file) == {"macos.yml", "undefined.yml", "not_yaml.yml"}
    assert by_file["macos.yml"]["id"] == MACOS_RULE_ID
    assert by_file["macos.yml"]["reason"].startswith("no ingested source serves logsource")
    assert by_file["undefined.yml"]["id"] == "5a1b0000-0000-4000-8000-000000000802"
    assert "nothere" in by_file["undefined.yml"]["reason"]
    assert by_file["not_yaml.yml"]["reason"].startswith("unreadable")

    text = invoke("rules", "check", folder)
    assert text.exit_code == 0
    assert "1 compiled" in text.stdout and "3 refused" in text.stdout


def test_rules_check_counts_correlations(rules: Path) -> None:
    result = invoke("rules", "check", rules / "windows", rules / "correlation", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["rules"], report["compiled"], report["refused"]) == (8, 8, 0)


def test_a_rule_file_named_twice_is_read_once(rules: Path) -> None:
    result = invoke("rules", "check", rules / "cloud", rules / "cloud" / "aws_create_user.yml",
                    "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["files"], report["rules"], report["refused"]) == (2, 2, 0)


def test_rules_check_missing_path_exits_2(tmp_path: Path) -> None:
    result = invoke("rules", "check", tmp_path / "nope", "--json")
    assert result.exit_code == 2
    assert "no such file or folder" in result.stderr


# --- detect -------------------------------------------------------------------------------------


def test_detect_writes_documented_json_lines(case: Path, rules: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "alerts.jsonl"
    result = invoke("detect", "--case", case, "--rules", rules / "windows", "--rules",
                    rules / "correlation", "--rules", rules / "cloud", "--no-builtin-rules",
                    "--out", out, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    lines = read_lines(out)
    assert len(lines) == summary["written"] == summary["alerts"] == 9
    for line in lines:
        assert set(line) >= LINE_KEYS
        assert set(line["rule"]) == RULE_KEYS
        assert line["rule"]["author"].startswith("TrailGuard tests")
        assert line["rule"]["source"] == "user"
        assert set(line["attack"]) == {"techniques", "tactics"}
        assert set(line["event"]) == EVENT_KEYS
        assert line["time"].endswith("Z")
        assert isinstance(line["entities"], dict)
    correlations = [line for line in lines if "correlation" in line]
    assert len(correlations) == 3
    for line in correlations:
        assert {"type", "group", "value", "members"} <= set(line["correlation"])
        assert all(EVENT_KEYS | {"time"} == set(m) for m in line["correlation"]["members"])
        assert line["event"]["id"] == line["correlation"]["members"][0]["id"]
    assert [line["time"] for line in lines] == sorted(line["time"] for line in lines)


def test_detect_json_summary(case: Path, rules: Path, tmp_path: Path) -> None:
    result = invoke("detect", "--case", case, "--rules", rules / "windows", "--rules",
                    rules / "correlation", "--no-builtin-rules", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert set(summary) >= SUMMARY_KEYS
    assert summary["rules"] == 8 and summary["rules_run"] == 6 and summary["refused"] == 0
    assert summary["matches"] == 18 and summary["alerts"] == 7
    assert summary["written"] == 0 and summary["out"] is None
    assert summary["rule_errors"] == {} and summary["correlation_errors"] == {}
    assert set(summary["seconds"]) == {"compile", "match", "correlate"}
    counts = {item["title"]: item["alerts"] for item in summary["top_rules"]}
    assert counts == {"Logon Brute Force": 2, "Certutil Without OriginalFileName": 2,
                      "Recon Then Download": 1, "Defender Detected Mimikatz": 1,
                      "Urlcache In A Security Log Event": 1}
    assert all(RULE_KEYS | {"alerts"} == set(item) for item in summary["top_rules"])


def test_detect_stores_alerts_and_prints_a_table(case: Path, rules: Path) -> None:
    result = invoke("detect", "--case", case, "--rules", rules / "cloud", "--no-builtin-rules")
    assert result.exit_code == 0, result.output
    assert "2 rules run (0 refused), 2 alerts" in result.stdout
    assert "TrailGuard tests (aws)" in result.stdout  # the author is shown with the alerts
    query = invoke("query", "--case", case, "--json",
                   "SELECT rule_title, rule_author, rule_source FROM alerts ORDER BY time")
    assert query.exit_code == 0, query.output
    assert json.loads(query.stdout) == [
        {"rule_title": "AWS Root Console Login", "rule_author": "TrailGuard tests (aws)",
         "rule_source": "user"},
        {"rule_title": "AWS IAM User Created", "rule_author": "TrailGuard tests (aws)",
         "rule_source": "user"},
    ]


def test_engines_write_the_same_alerts(case: Path, rules: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRAILGUARD_NO_CACHE", "1")  # both runs compile
    outputs = []
    for engine in ("vector", "sql"):
        out = tmp_path / f"{engine}.jsonl"
        result = invoke("detect", "--case", case, "--rules", rules, "--no-builtin-rules",
                        "--engine", engine, "--out", out)
        assert result.exit_code == 0, result.output
        outputs.append(sorted(out.read_text(encoding="utf-8").splitlines()))
    assert outputs[0] == outputs[1]
    assert len(outputs[0]) > 10


def test_running_detect_twice_gives_the_same_alerts(case: Path, rules: Path,
                                                    tmp_path: Path) -> None:
    outputs = []
    for attempt in ("cold", "warm"):
        out = tmp_path / f"{attempt}.jsonl"
        result = invoke("detect", "--case", case, "--rules", rules / "windows", "--rules",
                        rules / "correlation", "--no-builtin-rules", "--out", out, "--json")
        assert result.exit_code == 0, result.output
        outputs.append(out.read_text(encoding="utf-8"))
    assert outputs[1] == outputs[0]


def test_detect_exit_codes(case: Path, rules: Path, tmp_path: Path) -> None:
    no_rules = invoke("detect", "--case", case, "--no-builtin-rules")
    assert no_rules.exit_code == 5
    assert "no rules to run" in no_rules.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    assert invoke("detect", "--case", case, "--rules", empty, "--no-builtin-rules").exit_code == 5

    missing_case = invoke("detect", "--case", tmp_path / "no-case", "--rules", rules / "cloud")
    assert missing_case.exit_code == 3
    assert "not a TrailGuard case" in missing_case.stderr
    assert not (tmp_path / "no-case").exists()

    missing_rules = invoke("detect", "--case", case, "--rules", tmp_path / "nope.yml")
    assert missing_rules.exit_code == 2
    assert "no such file or folder" in missing_rules.stderr

    assert invoke("detect", "--case", case, "--rules", rules / "cloud", "--engine",
                  "gpu").exit_code == 2


# --- rules update -------------------------------------------------------------------------------


@pytest.fixture
def release(tmp_path: Path, rules: Path) -> Path:
    """A SigmaHQ-like release: rule folders inside one top folder, plus files not to keep."""
    return build_zip(tmp_path / "sigma_all_rules.zip", {
        "sigma/rules/windows/process_creation/proc_creation_win_whoami.yml":
            rules / "windows" / "proc_creation_whoami.yml",
        "sigma/rules-emerging-threats/cloud/aws_root_console_login.yml":
            rules / "cloud" / "aws_root_console_login.yml",
        "sigma/LICENSE.Detection.Rules.md": b"Detection Rule License (DRL) 1.1\n",
        "sigma/tools/sigma_tool.py": b"print('not kept')\n",
        "sigma/deprecated/notes.txt": b"not kept\n",
    })


def test_rules_update_installs_a_release_that_detect_uses(case: Path, release: Path,
                                                          tmp_path: Path,
                                                          data_dir: Path) -> None:
    result = invoke("rules", "update", "--url", release.as_uri(), "--json")
    assert result.exit_code == 0, result.output
    update = json.loads(result.stdout)
    digest = hashlib.sha256(release.read_bytes()).hexdigest()
    assert update["sha256"] == digest and update["rule_files"] == 2
    assert update["url"] == release.as_uri()
    folder = Path(update["folder"])
    assert folder.parent == data_dir / "sigmahq"
    pointer = json.loads((data_dir / "sigmahq" / "current.json").read_text(encoding="utf-8"))
    assert pointer["folder"] == folder.name and pointer["sha256"] == digest
    kept = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert kept == ["sigma/LICENSE.Detection.Rules.md",
                    "sigma/rules-emerging-threats/cloud/aws_root_console_login.yml",
                    "sigma/rules/windows/process_creation/proc_creation_win_whoami.yml"]

    out = tmp_path / "alerts.jsonl"
    detected = invoke("detect", "--case", case, "--no-builtin-rules", "--out", out, "--json")
    assert detected.exit_code == 0, detected.output
    lines = read_lines(out)
    assert sorted(line["rule"]["title"] for line in lines) == [
        "AWS Root Console Login", "Whoami Execution", "Whoami Execution"]
    assert {line["rule"]["source"] for line in lines} == {"sigmahq"}
    assert all(Path(line["rule"]["path"]).is_relative_to(folder) for line in lines)
    assert {item["source"] for item in json.loads(detected.stdout)["top_rules"]} == {"sigmahq"}


def test_rules_update_replaces_the_previous_release(release: Path, tmp_path: Path,
                                                    rules: Path, data_dir: Path) -> None:
    assert invoke("rules", "update", "--url", release.as_uri()).exit_code == 0
    newer = build_zip(tmp_path / "newer.zip", {
        "rules/cloud/aws_create_user.yml": rules / "cloud" / "aws_create_user.yml"})
    result = invoke("rules", "update", "--url", newer.as_uri(), "--json")
    assert result.exit_code == 0, result.output
    releases = sorted(p.name for p in (data_dir / "sigmahq").glob("release-*"))
    assert releases == [Path(json.loads(result.stdout)["folder"]).name]


@pytest.mark.parametrize("member", [
    pytest.param("../evil.yml", id="parent"),
    pytest.param("rules/../../evil.yml", id="nested-parent"),
    pytest.param("/tmp/trailguard-evil.yml", id="absolute"),
    pytest.param("C:/evil.yml", id="drive"),
])
def test_rules_update_refuses_unsafe_paths(tmp_path: Path, rules: Path, member: str,
                                           data_dir: Path) -> None:
    archive = build_zip(tmp_path / "evil.zip", {
        "rules/windows/ok.yml": rules / "windows" / "proc_creation_whoami.yml",
        member: b"title: evil\n",
    })
    result = invoke("rules", "update", "--url", archive.as_uri(), "--json")
    assert result.exit_code == 1
    assert "unsafe path in archive" in result.stderr
    assert result.stdout == ""
    assert installed(data_dir) in ([], ["sigmahq"])  # no release, no pointer, no leftovers
    assert not (data_dir / "evil.yml").exists()
    assert not (data_dir / "sigmahq" / "evil.yml").exists()
    assert not Path("/tmp/trailguard-evil.yml").exists()


def test_a_refused_update_keeps_the_installed_release(release: Path, tmp_path: Path,
                                                      data_dir: Path) -> None:
    assert invoke("rules", "update", "--url", release.as_uri()).exit_code == 0
    before = installed(data_dir)
    archive = build_zip(tmp_path / "evil.zip", {"../evil.yml": b"title: evil\n"})
    assert invoke("rules", "update", "--url", archive.as_uri()).exit_code == 1
    assert installed(data_dir) == before


@pytest.mark.parametrize("content", [
    pytest.param(b"this is not a zip archive\n", id="text"),
    pytest.param(b"PK\x03\x04 truncated", id="truncated-zip"),
    pytest.param(None, id="zip-without-rules"),
])
def test_rules_update_refuses_non_zip_or_empty(tmp_path: Path, content: bytes | None,
                                               data_dir: Path) -> None:
    archive = tmp_path / "release.zip"
    if content is None:
        build_zip(archive, {"README.md": b"no rules here\n"})
    else:
        archive.write_bytes(content)
    result = invoke("rules", "update", "--url", archive.as_uri())
    assert result.exit_code == 1
    assert ("not a zip archive" in result.stderr) != (content is None)
    assert installed(data_dir) in ([], ["sigmahq"])


def test_rules_update_refuses_a_zip_with_a_corrupt_member(tmp_path: Path, rules: Path,
                                                          data_dir: Path) -> None:
    archive = build_zip(tmp_path / "release.zip", {
        "rules/windows/whoami.yml": rules / "windows" / "proc_creation_whoami.yml"})
    data = bytearray(archive.read_bytes())
    data[data.index(b"title: Whoami") + 3] ^= 0xFF  # stored, so this is the member's own data
    archive.write_bytes(bytes(data))
    result = invoke("rules", "update", "--url", archive.as_uri())
    assert installed(data_dir) in ([], ["sigmahq"])
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 1
    assert "error:" in result.stderr


def test_rules_update_over_http_goes_through_urlopen_only(monkeypatch: pytest.MonkeyPatch,
                                                          data_dir: Path) -> None:
    requested: list[str] = []

    def refuse(url: str, *args: object, **kwargs: object) -> object:
        requested.append(url)
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    result = invoke("rules", "update", "--url", "https://example.invalid/sigma.zip")
    assert result.exit_code == 1
    assert "cannot fetch" in result.stderr
    assert requested == ["https://example.invalid/sigma.zip"]
    # Plain http has no integrity: refused before anything is opened.
    result = invoke("rules", "update", "--url", "http://example.invalid/sigma.zip")
    assert result.exit_code == 1
    assert "unsupported URL scheme" in result.stderr
    assert requested == ["https://example.invalid/sigma.zip"]
    assert installed(data_dir) in ([], ["sigmahq"])

    # Other schemes are refused before anything is opened.
    result = invoke("rules", "update", "--url", "ftp://example.invalid/sigma.zip")
    assert result.exit_code == 1
    assert "unsupported URL scheme" in result.stderr
    assert len(requested) == 1
