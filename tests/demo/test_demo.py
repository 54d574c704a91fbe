"""`trailguard demo`: the evidence is deterministic, read as intended, the ground truth names real
records, and the built-in packs are measured against it end to end.

One demo run through the command line (generation, ingest, detection) is shared by the tests;
the determinism tests generate twice more without ingesting.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from trailguard.cli.main import app
from trailguard.demo.generate import (
    ALERTS,
    CASE,
    DEFAULT_SEED,
    EVIDENCE,
    MARKER,
    TRUTH,
    DemoError,
    generate,
    prepare,
)
from trailguard.demo.truth import STEP_IDS, load
from trailguard.detect.attack import technique

#: The target the built-in packs are measured against.
MAX_BENIGN_RATE = 0.01


@dataclass(frozen=True)
class DemoRun:
    out: Path
    summary: dict[str, Any]
    truth: dict[str, Any]

    @property
    def evidence(self) -> Path:
        return self.out / EVIDENCE

    def connect(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.out / CASE / "case.duckdb"), read_only=True)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """`trailguard demo --json` once, with its own cache and data folders."""
    base = tmp_path_factory.mktemp("demo")
    out = base / "demo-incident"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRAILGUARD_CACHE_DIR", str(base / "cache"))
        patch.setenv("TRAILGUARD_DATA_DIR", str(base / "data"))
        result = CliRunner().invoke(app, ["demo", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    return DemoRun(out, summary, load(out / TRUTH))


def _digests(folder: Path) -> dict[str, str]:
    return {path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


# --- determinism ------------------------------------------------------------------------------

def test_same_seed_gives_the_same_bytes(demo_run: DemoRun, tmp_path: Path) -> None:
    again = generate(tmp_path / "again", DEFAULT_SEED)
    assert _digests(again.evidence) == _digests(demo_run.evidence)
    assert again.truth_path.read_bytes() == (demo_run.out / TRUTH).read_bytes()


def test_another_seed_gives_other_evidence(demo_run: DemoRun, tmp_path: Path) -> None:
    other = generate(tmp_path / "other", DEFAULT_SEED + 1)
    mine, theirs = _digests(demo_run.evidence), _digests(other.evidence)
    host_logs = [name for name in mine if name.startswith("hosts/")]
    assert host_logs and all(mine[name] != theirs.get(name) for name in host_logs)
    assert other.truth["steps"] != demo_run.truth["steps"]
    assert [step["id"] for step in other.truth["steps"]] == sorted(STEP_IDS)


# --- the evidence as the ingest reads it ------------------------------------------------------

def test_every_file_is_read_as_its_intended_source(demo_run: DemoRun) -> None:
    expected = {item["path"]: item for item in demo_run.truth["files"]}
    root = demo_run.evidence.resolve()
    with demo_run.connect() as connection:
        rows = connection.execute(
            "SELECT path, member, source_type, status, records, stored, quarantined "
            "FROM files").fetchall()
        quarantined = connection.execute("SELECT count(*) FROM quarantine").fetchone()
    seen = {}
    for path, member, source_type, status, records, stored, in_quarantine in rows:
        name = Path(path).resolve().relative_to(root).as_posix()
        assert not member, name
        seen[name] = (source_type, status, records, stored, in_quarantine)
    assert set(seen) == set(expected)
    for name, (source_type, status, records, stored, in_quarantine) in seen.items():
        want = expected[name]
        assert (source_type, status) == (want["source_type"], "complete"), name
        assert records == stored == want["records"], name
        assert in_quarantine == 0, name
    assert quarantined == (0,)
    summary = demo_run.summary
    assert summary["quarantined"] == 0
    assert summary["stored"] == summary["records"] == demo_run.truth["records"]["total"]


def test_evidence_is_in_the_documented_layouts(demo_run: DemoRun) -> None:
    types = defaultdict(list)
    for item in demo_run.truth["files"]:
        types[item["source_type"]].append(item["path"])
    assert set(types) == {"actiontrail", "vpcflow_aliyun", "syslog", "auditd", "web_access",
                          "web_error", "shell_history"}
    for path in types["actiontrail"]:
        parts = path.split("/")
        index = parts.index("AliyunLogs")
        event_type, region, year, month, day, name = parts[index + 1:]
        assert event_type in {"ApiCall", "ConsoleSignin"}
        assert len(year) == 4 and len(month) == 2 and len(day) == 2
        stem = name.removesuffix(".gz").split("_")
        assert stem[0] == "Actiontrail" and stem[1] == region and stem[3] == "1002", name
        assert len(stem[2]) == 14 and len(stem[6]) == 32, name
    audit = (demo_run.evidence / "hosts/build-01/var/log/audit/audit.log").read_bytes()
    assert b"\x1dARCH=x86_64 SYSCALL=execve" in audit  # auditd's ENRICHED format
    history = (demo_run.evidence / "hosts/build-01/home/wchen/.bash_history").read_text()
    assert history.startswith("#17")
    rotated = [path for path in types["web_access"] if path.endswith(".gz")]
    assert rotated, "older access logs are compressed by logrotate"


# --- the ground truth -------------------------------------------------------------------------

def test_ground_truth_steps_are_complete(demo_run: DemoRun) -> None:
    truth = demo_run.truth
    assert {step["id"] for step in truth["steps"]} == STEP_IDS
    for step in truth["steps"]:
        found = technique(step["technique"])
        assert found is not None, step["technique"]
        assert step["tactic"] in found[1], (step["id"], step["tactic"], found)
        assert step["technique_name"] == found[0]
        assert step["description"] and step["evidence"], step["id"]
    records = truth["records"]
    assert records["attack"] == sum(len(step["evidence"]) for step in truth["steps"])
    assert 10 <= records["benign"] / records["attack"] <= 100, records


def test_ground_truth_points_at_records_that_exist(demo_run: DemoRun) -> None:
    root = demo_run.evidence.resolve()
    with demo_run.connect() as connection:
        files = {Path(path).resolve().relative_to(root).as_posix(): (file_id, source_type)
                 for file_id, path, source_type in connection.execute(
                     "SELECT id, path, source_type FROM files").fetchall()}
        present: dict[tuple[int, int], str | None] = {}
        for source_type in {source for _, source in files.values()}:
            column = '"eventId"' if source_type == "actiontrail" else "NULL"
            for file_id, record, event_id in connection.execute(
                    f"SELECT _file, _record, {column} FROM ev_{source_type}").fetchall():
                present[(file_id, record)] = event_id
    for step in demo_run.truth["steps"]:
        for item in step["evidence"]:
            file_id, source_type = files[item["file"]]
            assert item["source_type"] == source_type, (step["id"], item)
            key = (file_id, item["record"])
            assert key in present, (step["id"], item)
            if source_type == "actiontrail":
                assert present[key] == item["event_id"], (step["id"], item)


# --- detection, measured ----------------------------------------------------------------------

def _measured(demo_run: DemoRun) -> tuple[dict[str, set[str]], set[tuple[str, int]]]:
    """From the case alone: the rules that alerted on each step, and the benign records
    alerted (an alert names its event and, for a correlation, its member events)."""
    root = demo_run.evidence.resolve()
    owner = {(item["file"], item["record"]): step["id"]
             for step in demo_run.truth["steps"] for item in step["evidence"]}
    with demo_run.connect() as connection:
        paths = {file_id: Path(path).resolve().relative_to(root).as_posix()
                 for file_id, path in connection.execute("SELECT id, path FROM files")
                 .fetchall()}
        where = {uid: (paths[file_id], record) for uid, file_id, record in connection.execute(
            "SELECT uid, file_id, record FROM events").fetchall()}
        alerts = connection.execute("SELECT rule_title, uid, members FROM alerts").fetchall()
    by_step: dict[str, set[str]] = defaultdict(set)
    benign: set[tuple[str, int]] = set()
    for title, uid, members in alerts:
        for event in (uid, *(members or [])):
            key = where[event]
            if key in owner:
                by_step[owner[key]].add(title)
            else:
                benign.add(key)
    return by_step, benign


def test_measurement_matches_the_case(demo_run: DemoRun) -> None:
    by_step, benign = _measured(demo_run)
    summary = demo_run.summary
    assert summary["benign_records_alerted"] == len(benign)
    assert {step["id"] for step in summary["steps"] if step["alerted"]} == set(by_step)
    for step in summary["steps"]:
        assert set(step["rules"]) == by_step.get(step["id"], set()), step["id"]
    lines = (demo_run.out / ALERTS).read_text(encoding="utf-8").splitlines()
    assert summary["alerts"] == len(lines)


def test_benign_alert_rate_is_at_most_one_percent(demo_run: DemoRun) -> None:
    _, benign = _measured(demo_run)
    rate = len(benign) / demo_run.truth["records"]["benign"]
    assert rate <= MAX_BENIGN_RATE, f"{rate:.2%} of benign records alerted: " \
        f"{demo_run.summary['benign_rules']}"


def test_every_attack_step_is_alerted(demo_run: DemoRun) -> None:
    by_step, _ = _measured(demo_run)
    missed = [f"{step['id']} {step['title']} ({step['technique']})"
              for step in demo_run.truth["steps"] if step["id"] not in by_step]
    assert not missed, f"{len(missed)} of {len(STEP_IDS)} steps not alerted:\n" + \
        "\n".join(missed)


# --- the output folder ------------------------------------------------------------------------

def test_a_foreign_folder_is_never_overwritten(tmp_path: Path) -> None:
    mine = tmp_path / "notes.txt"
    mine.write_text("keep me", encoding="utf-8")
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert mine.read_text(encoding="utf-8") == "keep me"
    with pytest.raises(DemoError):
        prepare(tmp_path)


def test_an_earlier_demo_is_replaced_but_nothing_else(tmp_path: Path) -> None:
    (tmp_path / MARKER).write_text("", encoding="utf-8")
    for name in (EVIDENCE, CASE):
        (tmp_path / name).mkdir()
        (tmp_path / name / "old").write_text("old", encoding="utf-8")
    (tmp_path / ALERTS).write_text("{}\n", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("keep me", encoding="utf-8")
    prepare(tmp_path)
    assert sorted(path.name for path in tmp_path.iterdir()) == [MARKER, "notes.txt"]


# --- tracing against the ground truth's "trace" facts ------------------------------------------

def test_tracing_rebuilds_the_seed_chain(demo_run: DemoRun) -> None:
    trace = demo_run.summary["trace"]
    facts = demo_run.truth["trace"]
    assert trace["entry_point"]["match"], trace["entry_point"]
    assert trace["entry_point"]["found"]["host"] == facts["entry_point"]["host"]
    assert trace["lateral_movement"]["found"] == facts["hop_count"] == 2
    assert trace["lateral_movement"]["match"]
    assert trace["exfiltration"]["relative_error"] <= 0.01
    assert trace["passed"]


def test_the_attack_stays_in_one_incident(demo_run: DemoRun) -> None:
    trace = demo_run.summary["trace"]
    assert trace["incidents"] < demo_run.summary["alerts"] / 5
    assert trace["attack_alerts_in_main_incident"] >= 0.95 * trace["attack_alerts"]
    assert trace["steps_in_main_incident"] >= trace["steps_total"] - 2


def test_the_report_is_written(demo_run: DemoRun) -> None:
    report = Path(demo_run.summary["report"])
    names = {path.name for path in report.parent.iterdir()}
    assert {"report.html", "incidents.json", "timeline.csv", "attack-layer.json",
            "iocs.stix.json"} <= names
    incidents = json.loads((report.parent / "incidents.json").read_text(encoding="utf-8"))
    assert incidents[0]["id"] == demo_run.summary["trace"]["main_incident"]
    assert incidents[0]["hop_count"] == 2
