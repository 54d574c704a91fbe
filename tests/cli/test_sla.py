"""`trailguard sla report` and `trailguard sla mark` through a local app."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import responses
import typer
from typer.testing import CliRunner

from tests.respond.test_clocks import T0, URL, clock_mark, executed, make_case
from trailguard.cli.sla import sla_app
from trailguard.respond import audit
from trailguard.store.case import Case

app = typer.Typer()
app.add_typer(sla_app, name="sla")
runner = CliRunner()
NOW = (T0 + timedelta(hours=7)).isoformat()


def sla(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["sla", *args])
    return result.exit_code, result.stdout, result.stderr


def test_report_table_and_json(tmp_path: Path) -> None:
    folder = make_case(tmp_path, {"INC-1": T0, "INC-2": T0 + timedelta(hours=2)})
    clock_mark(folder, "INC-1", "alerted", T0 + timedelta(minutes=2))
    executed(folder, "INC-1", "aliyun.isolate_instance", T0 + timedelta(hours=1))
    code, out, _ = sla("report", "--case", str(folder), "--now", NOW)
    assert code == 0, out
    assert "INC-1 [high]: incident INC-1" in out
    assert "met (67%)" in out  # alert: 2 minutes of 3
    assert "near-breach (83%)" in out  # INC-2 contain: 5 hours of 6
    assert "contained from executed aliyun.isolate_instance" in out
    assert "MTTC" in out and "1 of 2" in out

    code, out, _ = sla("report", "--case", str(folder), "--now", NOW, "--json")
    assert code == 0
    data = json.loads(out)
    assert data["now"] == "2026-10-15T16:00:00Z"
    assert data["targets"] == {"alert": 180.0, "contain": 21600.0, "recover": 43200.0,
                               "near_breach": 0.8}
    one, two = data["incidents"]
    assert one["times"]["contained"] == "2026-10-15T10:00:00Z"
    assert one["clocks"]["contain"]["status"] == "met"
    assert two["clocks"]["contain"]["status"] == "near-breach"
    assert two["clocks"]["alert"]["status"] == "unknown"
    assert data["means"]["MTTD"] == {"definition": "mean time from first evidence to alert",
                                     "mean_seconds": 120.0, "count": 1, "incidents": 2}
    assert data["breached"] == 0 and data["near_breach"] == 1
    assert data["notifications"] == []


def test_fail_on_breach_and_target_options(tmp_path: Path) -> None:
    folder = make_case(tmp_path, {"INC-1": T0})
    base = ("report", "--case", str(folder), "--now", NOW, "--json")
    assert sla(*base)[0] == 0  # breached, but not asked to fail
    assert sla(*base, "--fail-on-breach")[0] == 7
    code, out, _ = sla(*base, "--fail-on-breach", "--contain-target", "8h",
                       "--recover-target", "1d", "--near-breach", "0.95")
    assert code == 0
    clocks = json.loads(out)["incidents"][0]["clocks"]
    assert clocks["contain"]["status"] == "running" and clocks["contain"]["target_seconds"] == 28800
    assert sla(*base, "--contain-target", "soon")[0] == 2
    assert sla(*base, "--near-breach", "3")[0] == 2
    assert sla("report", "--case", str(folder), "--now", "tomorrow")[0] == 2


def test_case_errors_exit_3(tmp_path: Path) -> None:
    code, _, err = sla("report", "--case", str(tmp_path / "missing"))
    assert code == 3 and "not a TrailGuard case" in err
    Case.open(tmp_path / "bare", create=True).close()
    code, _, err = sla("report", "--case", str(tmp_path / "bare"))
    assert code == 3 and "trailguard trace" in err
    assert sla("mark", "INC-1", "contained", "--case", str(tmp_path / "bare"))[0] == 3


def test_mark_then_report(tmp_path: Path) -> None:
    folder = make_case(tmp_path, {"INC-1": T0})
    code, out, _ = sla("mark", "INC-1", "alerted", "--time", "2026-10-15T09:01:30Z",
                       "--case", str(folder))
    assert code == 0 and "marked INC-1 alerted at 2026-10-15T09:01:30Z" in out
    assert sla("mark", "INC-1", "recovered", "--case", str(folder), "--note", "rebuilt")[0] == 0
    records = audit.read(folder, "INC-1")
    assert [r["detail"]["clock"] for r in records] == ["alerted", "recovered"]
    assert records[1]["detail"]["note"] == "rebuilt"
    _, out, _ = sla("report", "--case", str(folder), "--now", NOW, "--json")
    incident = json.loads(out)["incidents"][0]
    assert incident["clocks"]["alert"]["status"] == "met"
    assert incident["times"]["recovered"] == records[1]["detail"]["time"]

    assert sla("mark", "INC-1", "lunch", "--case", str(folder))[0] == 2
    assert sla("mark", "INC-9", "contained", "--case", str(folder))[0] == 2
    assert sla("mark", "INC-1", "contained", "--time", "noon", "--case", str(folder))[0] == 2
    assert len(audit.read(folder)) == 2


def test_evidence_text_is_escaped(tmp_path: Path) -> None:
    title = "[bold red]pwned[/bold red] \x1b]8;;https://evil.example\x07link"
    folder = make_case(tmp_path, {"INC-1": T0}, titles={"INC-1": title})
    code, out, _ = sla("report", "--case", str(folder), "--now", NOW)
    assert code == 0
    assert "[bold red]pwned[/bold red]" in out
    assert "\x1b" not in out and "\\x1b]8;;" in out


@responses.activate
def test_notify_once(tmp_path: Path) -> None:
    responses.post(URL, json={"ok": True})
    folder = make_case(tmp_path, {"INC-1": T0})
    config = tmp_path / "notify.yml"
    config.write_text(f"notify:\n  - action: notify.webhook\n    params: {{url: '{URL}'}}\n")
    args = ("report", "--case", str(folder), "--now", NOW, "--notify", str(config))
    code, out, _ = sla(*args, "--json")
    assert code == 0
    assert [(n["clock"], n["outcome"]) for n in json.loads(out)["notifications"]] == [
        ("contain", "sent")]
    code, out, _ = sla(*args)
    assert code == 0 and "notify notify.webhook INC-1 contain running-breached: already-sent" in out
    assert len(responses.calls) == 1
    assert (folder / "respond" / "notify-keys.jsonl").exists()

    responses.replace(responses.POST, URL, status=503)
    later = (T0 + timedelta(hours=11)).isoformat()  # the recover clock nears its target
    code, _, err = sla("report", "--case", str(folder), "--now", later, "--notify", str(config))
    assert code == 8 and "notification failed" in err

    config.write_text("notify: [{action: notify.webhook, params: {url: 'http://plain'}}]\n")
    assert sla(*args)[0] == 2
    config.write_text("just text\n")
    assert sla(*args)[0] == 2
