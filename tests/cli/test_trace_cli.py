"""`trailguard investigate` (ingest → detect → trace → report) and `trailguard trace`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from trailguard.cli.main import app

RULE_SAMPLES = Path(__file__).resolve().parents[1] / "rules" / "aliyun"
SAMPLES = ("aliyun_ram_create_access_key", "aliyun_ecs_cloud_assistant_run_command",
           "aliyun_actiontrail_stop_logging")
OUTPUTS = {"report.html", "incidents.json", "timeline.csv", "attack-layer.json",
           "iocs.stix.json", "alerts.jsonl"}


def _evidence(tmp_path: Path) -> Path:
    folder = tmp_path / "evidence"
    folder.mkdir()
    for name in SAMPLES:
        shutil.copy(RULE_SAMPLES / name / "match.json", folder / f"{name}.json")
    return folder


def test_investigate_writes_every_output(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["investigate", str(_evidence(tmp_path)), "--out",
                                      str(out), "--json", "--no-progress"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["alerts"] >= len(SAMPLES)
    assert summary["incidents"] >= 1
    assert {path.name for path in out.iterdir()} >= OUTPUTS
    assert (out / "case" / "case.duckdb").is_file()
    incidents = json.loads((out / "incidents.json").read_text(encoding="utf-8"))
    assert {item["id"] for item in incidents} >= {summary["top"][0]["id"]}
    first = incidents[0]
    for key in ("id", "score", "first", "last", "entities", "alerts", "chain", "entry_point",
                "lateral_movement", "exfiltration", "persistence", "impact", "indicators"):
        assert key in first
    step = first["chain"][0]
    assert {"time", "tactic", "technique", "rule", "evidence"} <= set(step)
    assert {"file", "record"} <= set(step["evidence"])


def test_trace_reruns_on_a_case_and_prints_the_chain(tmp_path: Path) -> None:
    out = tmp_path / "out"
    runner = CliRunner()
    first = runner.invoke(app, ["investigate", str(_evidence(tmp_path)), "--out", str(out),
                                "--no-progress"])
    assert first.exit_code == 0, first.output
    assert "Next steps" in first.stdout and "Chain of INC-" in first.stdout
    again = runner.invoke(app, ["trace", "--case", str(out / "case"), "--window", "ip=1h",
                                "--json"])
    assert again.exit_code == 0, again.output
    summary = json.loads(again.stdout)
    assert summary["windows"]["ip"] == 3600
    assert summary["files"] == {}


def test_trace_without_alerts_says_to_detect_first(tmp_path: Path) -> None:
    out = tmp_path / "case"
    runner = CliRunner()
    ingest = runner.invoke(app, ["ingest", str(_evidence(tmp_path)), "--case", str(out),
                                 "--no-progress"])
    assert ingest.exit_code == 0, ingest.output
    result = runner.invoke(app, ["trace", "--case", str(out)])
    assert result.exit_code == 3
    assert "detect" in result.stderr


def test_a_bad_window_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["trace", "--case", str(tmp_path), "--window", "ipx=3h"])
    assert result.exit_code == 2
    assert "unknown entity kind" in result.output


def test_investigate_puts_evidence_and_outputs_under_custody(tmp_path: Path) -> None:
    out = tmp_path / "out"
    runner = CliRunner()
    result = runner.invoke(app, ["investigate", str(_evidence(tmp_path)), "--out", str(out),
                                 "--json", "--no-progress"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["custody"] == {"evidence_added": len(SAMPLES), "artefacts": len(OUTPUTS)}
    intact = runner.invoke(app, ["evidence", "verify", "--case", str(out / "case"), "--json"])
    assert intact.exit_code == 0, intact.output
    report = out / "report.html"
    data = bytearray(report.read_bytes())
    data[len(data) // 2] ^= 0x01
    report.write_bytes(bytes(data))
    broken = runner.invoke(app, ["evidence", "verify", "--case", str(out / "case"), "--json"])
    assert broken.exit_code == 6
    assert "report.html" in broken.stdout


def test_the_alert_clock_starts_from_when_detection_raised_the_alerts(tmp_path: Path) -> None:
    out = tmp_path / "out"
    runner = CliRunner()
    result = runner.invoke(app, ["investigate", str(_evidence(tmp_path)), "--out", str(out),
                                 "--no-progress"])
    assert result.exit_code == 0, result.output
    report = runner.invoke(app, ["sla", "report", "--case", str(out / "case"), "--json"])
    assert report.exit_code == 0, report.output
    assert "alerts.generated_at" in report.stdout
