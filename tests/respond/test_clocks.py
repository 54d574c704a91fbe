"""The 3-6-12 clocks: times from the incidents table and the audit log, statuses at an
injected "now", mean times, targets from clocks.yml, breach notifications through the webhook
action (faked with `responses`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import responses

from trailguard.errors import CaseError
from trailguard.respond import audit
from trailguard.respond.clocks import (
    NOTIFY_KEYS_FILE,
    ClockConfigError,
    Targets,
    format_duration,
    load_targets,
    notify_breaches,
    parse_duration,
    parse_time,
    sla_report,
)
from trailguard.respond.idempotency import FileIdempotencyStore
from trailguard.store.case import Case
from trailguard.trace.tracer import INCIDENTS_DDL

T0 = datetime(2026, 10, 15, 9, 0, tzinfo=UTC)
URL = "https://hooks.example.org/sla"


def make_case(tmp_path: Path, incidents: dict[str, datetime | None],
              titles: dict[str, str] | None = None) -> Path:
    """A case whose `incidents` table holds these ids with their first-evidence times."""
    folder = tmp_path / "case"
    with Case.open(folder, create=True) as case:
        case.connection.execute(INCIDENTS_DDL)
        for rank, (incident, first) in enumerate(incidents.items(), 1):
            naive = first.astimezone(UTC).replace(tzinfo=None) if first else None
            document = {"id": incident, "alert_ids": [f"a-{incident}"], "chain": []}
            case.connection.execute(
                "INSERT INTO incidents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [incident, rank, 7.5, "high", naive, naive, 1,
                 (titles or {}).get(incident, f"incident {incident}"), json.dumps(document)])
    return folder.resolve()


def clock_mark(folder: Path, incident: str, clock: str, at: datetime) -> None:
    audit.append(folder, "clock-mark", incident=incident,
                 detail={"clock": clock, "time": at.isoformat()})


def executed(folder: Path, incident: str, action: str, at: datetime,
             event: str = "executed") -> None:
    audit.append(folder, event, incident=incident, action=action, run="run-1",
                 result={"action": action, "rollback": False, "changed": True, "records": []},
                 time=at.isoformat().replace("+00:00", "Z"))


def status(folder: Path, clock: str, now: datetime, incident: str = "INC-1",
           targets: Targets | None = None) -> str:
    report = sla_report(folder, targets=targets, now=now)
    item = next(i for i in report.incidents if i.times.incident == incident)
    return item.clock(clock).status


# -- statuses -----------------------------------------------------------------------------

@pytest.mark.parametrize(("clock", "milestone", "done_after", "now_after", "expected"), [
    ("alert", "alerted", timedelta(minutes=2), timedelta(hours=1), "met"),
    ("alert", "alerted", timedelta(minutes=3), timedelta(hours=1), "met"),
    ("alert", "alerted", timedelta(minutes=4), timedelta(hours=1), "breached"),
    ("alert", "alerted", None, timedelta(hours=1), "unknown"),
    ("contain", "contained", timedelta(hours=5), timedelta(hours=20), "met"),
    ("contain", "contained", timedelta(hours=7), timedelta(hours=20), "breached"),
    ("contain", "contained", None, timedelta(hours=1), "running"),
    ("contain", "contained", None, timedelta(hours=5), "near-breach"),
    ("contain", "contained", None, timedelta(hours=7), "running-breached"),
    ("recover", "recovered", timedelta(hours=11), timedelta(days=2), "met"),
    ("recover", "recovered", timedelta(hours=13), timedelta(days=2), "breached"),
    ("recover", "recovered", None, timedelta(hours=2), "running"),
    ("recover", "recovered", None, timedelta(hours=10), "near-breach"),
    ("recover", "recovered", None, timedelta(hours=12, seconds=1), "running-breached"),
])
def test_each_clock_status(tmp_path: Path, clock: str, milestone: str,
                           done_after: timedelta | None, now_after: timedelta,
                           expected: str) -> None:
    folder = make_case(tmp_path, {"INC-1": T0})
    if done_after is not None:
        clock_mark(folder, "INC-1", milestone, T0 + done_after)
    assert status(folder, clock, T0 + now_after) == expected


def test_elapsed_used_and_the_alert_clock_without_a_recorded_time(tmp_path: Path) -> None:
    folder = make_case(tmp_path, {"INC-1": T0, "INC-2": None})
    report = sla_report(folder, now=T0 + timedelta(hours=3))
    first = report.incidents[0]
    contain = first.clock("contain")
    assert contain.elapsed == timedelta(hours=3) and contain.used == pytest.approx(0.5)
    assert contain.target == timedelta(hours=6)
    alert = first.clock("alert")
    assert alert.status == "unknown" and "sla mark INCIDENT alerted" in alert.note
    no_first = report.incidents[1]
    assert {c.status for c in no_first.clocks} == {"unknown"}
    assert not report.breached


def test_near_breach_share_is_configurable(tmp_path: Path) -> None:
    folder = make_case(tmp_path, {"INC-1": T0})
    now = T0 + timedelta(hours=3, minutes=30)
    assert status(folder, "contain", now) == "running"
    assert status(folder, "contain", now, targets=Targets(near_breach=0.5)) == "near-breach"


# -- where the times come from ------------------------------------------------------------

def test_containment_from_the_first_executed_containment_action(tmp_path: Path) -> None:
    folder = make_case(tmp_path, {"INC-1": T0, "INC-2": T0})
    executed(folder, "INC-1", "aliyun.snapshot_disks", T0 + timedelta(hours=1))
    executed(folder, "INC-1", "aliyun.isolate_instance", T0 + timedelta(hours=2), "failed")
    executed(folder, "INC-1", "aliyun.isolate_instance", T0 + timedelta(hours=4))
    executed(folder, "INC-1", "aws.disable_access_key", T0 + timedelta(hours=3))
    executed(folder, "INC-1", "aliyun.isolate_instance", T0 + timedelta(hours=5), "rolled-back")
    executed(folder, "INC-2", "notify.webhook", T0 + timedelta(minutes=5))
    report = sla_report(folder, now=T0 + timedelta(hours=8))
    one, two = report.incidents
    assert one.times.contained == T0 + timedelta(hours=3)
    assert one.times.sources["contained"].startswith("executed aws.disable_access_key")
    assert one.clock("contain").status == "met"
    assert two.times.contained is None
    assert two.clock("contain").status == "running-breached"
    assert report.breached


def test_manual_marks_last_one_wins_and_beats_executed_actions(tmp_path: Path) -> None:
    folder = make_case(tmp_path, {"INC-1": T0})
    executed(folder, "INC-1", "aws.isolate_instance", T0 + timedelta(hours=2))
    clock_mark(folder, "INC-1", "contained", T0 + timedelta(hours=9))
    clock_mark(folder, "INC-1", "contained", T0 + timedelta(hours=1))  # a correction
    clock_mark(folder, "INC-1", "alerted", T0 + timedelta(minutes=1))
    clock_mark(folder, "INC-1", "acknowledged", T0 + timedelta(minutes=11))
    clock_mark(folder, "INC-2", "recovered", T0)  # another (unknown) incident
    times = sla_report(folder, now=T0 + timedelta(hours=12)).incidents[0].times
    assert times.contained == T0 + timedelta(hours=1)
    assert times.sources["contained"].startswith("clock-mark by ")
    assert times.alerted == T0 + timedelta(minutes=1)
    assert times.acknowledged == T0 + timedelta(minutes=11)
    assert times.recovered is None


def test_mark_writes_a_clock_mark(tmp_path: Path) -> None:
    from trailguard.respond.clocks import mark

    folder = make_case(tmp_path, {"INC-1": T0})
    record = mark(folder, "INC-1", "recovered", T0 + timedelta(hours=4), note="rebuilt")
    assert record["event"] == "clock-mark" and record["incident"] == "INC-1"
    assert record["detail"] == {"clock": "recovered", "time": "2026-10-15T13:00:00Z",
                                "note": "rebuilt"}
    assert status(folder, "recover", T0 + timedelta(days=1)) == "met"
    with pytest.raises(ClockConfigError, match="unknown clock"):
        mark(folder, "INC-1", "breakfast")


def test_a_case_without_incidents_is_a_case_error(tmp_path: Path) -> None:
    folder = tmp_path / "case"
    Case.open(folder, create=True).close()
    with pytest.raises(CaseError, match="trailguard trace"):
        sla_report(folder)
    with pytest.raises(CaseError, match="not a TrailGuard case"):
        sla_report(tmp_path / "nowhere")


# -- mean times ---------------------------------------------------------------------------

def test_mean_times_with_data(tmp_path: Path) -> None:
    folder = make_case(tmp_path, {"INC-1": T0, "INC-2": T0, "INC-3": T0})
    clock_mark(folder, "INC-1", "alerted", T0 + timedelta(minutes=2))
    clock_mark(folder, "INC-2", "alerted", T0 + timedelta(minutes=4))
    clock_mark(folder, "INC-1", "acknowledged", T0 + timedelta(minutes=12))
    executed(folder, "INC-1", "aliyun.stop_instance", T0 + timedelta(hours=2))
    executed(folder, "INC-3", "aws.block_address", T0 + timedelta(hours=4))
    clock_mark(folder, "INC-3", "recovered", T0 + timedelta(hours=10))
    means = sla_report(folder, now=T0 + timedelta(days=1)).means
    assert means["MTTD"].mean == timedelta(minutes=3) and means["MTTD"].count == 2
    assert means["MTTA"].mean == timedelta(minutes=10) and means["MTTA"].count == 1
    assert means["MTTC"].mean == timedelta(hours=3) and means["MTTC"].count == 2
    assert means["MTTR"].mean == timedelta(hours=10) and means["MTTR"].count == 1
    assert all(m.incidents == 3 for m in means.values())


def test_mean_times_without_data(tmp_path: Path) -> None:
    folder = make_case(tmp_path, {"INC-1": T0})
    report = sla_report(folder, now=T0)
    assert {n: (m.mean, m.count) for n, m in report.means.items()} == dict.fromkeys(
        ("MTTD", "MTTA", "MTTC", "MTTR"), (None, 0))
    assert report.to_dict()["means"]["MTTA"] == {
        "definition": "mean time from alert to acknowledgement", "mean_seconds": None,
        "count": 0, "incidents": 1}
    empty = make_case(tmp_path / "empty", {})
    assert sla_report(empty, now=T0).means["MTTC"].incidents == 0


# -- targets ------------------------------------------------------------------------------

def test_targets_from_clocks_yml_and_overrides(tmp_path: Path) -> None:
    folder = make_case(tmp_path, {"INC-1": T0})
    assert load_targets(folder) == Targets()
    config = folder / "respond" / "clocks.yml"
    config.parent.mkdir(exist_ok=True)
    config.write_text("targets:\n  alert: 90s\n  contain: 1h\nnear_breach: 0.5\n")
    targets = load_targets(folder)
    assert targets == Targets(alert=timedelta(seconds=90), contain=timedelta(hours=1),
                              near_breach=0.5)
    assert status(folder, "contain", T0 + timedelta(minutes=40)) == "near-breach"
    assert status(folder, "contain", T0 + timedelta(hours=2)) == "running-breached"
    overridden = Targets.from_mapping({"contain": "3h", "recover": 3600}, base=targets)
    assert overridden.contain == timedelta(hours=3) and overridden.recover == timedelta(hours=1)
    assert overridden.alert == timedelta(seconds=90)
    assert status(folder, "contain", T0 + timedelta(hours=1), targets=overridden) == "running"
    assert status(folder, "contain", T0 + timedelta(hours=2), targets=overridden) == "near-breach"
    config.write_text("targets:\n  contian: 1h\n")
    with pytest.raises(ClockConfigError, match="contian") as caught:
        load_targets(folder)
    assert "clocks.yml" in str(caught.value)
    with pytest.raises(ClockConfigError, match="near_breach"):
        Targets.from_mapping({"near_breach": 1.5})


def test_durations_and_times() -> None:
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("2d") == timedelta(days=2)
    assert parse_duration(180) == timedelta(minutes=3)
    for bad in ("soon", "3 weeks", "0s", -5, True, None):
        with pytest.raises(ClockConfigError):
            parse_duration(bad)
    assert format_duration(timedelta(hours=5, minutes=12, seconds=3)) == "5h 12m"
    assert format_duration(timedelta(seconds=0)) == "0s"
    assert format_duration(-timedelta(minutes=2)) == "-2m"
    assert parse_time("2026-10-15T09:00:00Z") == T0
    assert parse_time("2026-10-15T17:00:00+08:00") == T0
    assert parse_time("2026-10-15T09:00:00") == T0
    with pytest.raises(ClockConfigError):
        parse_time("yesterday")


# -- notifications ------------------------------------------------------------------------

WEBHOOK = [{"action": "notify.webhook", "params": {"url": URL}}]


def _bodies() -> list[dict[str, object]]:
    found = []
    for call in responses.calls:
        body = call.request.body
        found.append(json.loads(body if isinstance(body, bytes) else str(body)))
    return found


@responses.activate
def test_a_breach_notifies_once(tmp_path: Path) -> None:
    responses.post(URL, json={"ok": True})
    folder = make_case(tmp_path, {"INC-1": T0, "INC-2": T0 + timedelta(hours=2)})
    clock_mark(folder, "INC-1", "alerted", T0 + timedelta(minutes=1))
    keys = folder / "respond" / NOTIFY_KEYS_FILE
    now = T0 + timedelta(hours=7)  # INC-1 contain breached, INC-2 contain near breach
    sent = notify_breaches(sla_report(folder, now=now), WEBHOOK, FileIdempotencyStore(keys))
    assert [(n.incident, n.clock, n.status, n.outcome) for n in sent] == [
        ("INC-1", "contain", "running-breached", "sent"),
        ("INC-2", "contain", "near-breach", "sent")]
    bodies = _bodies()
    assert [b["incident_id"] for b in bodies] == ["INC-1", "INC-2"]
    assert [b["severity"] for b in bodies] == ["high", "medium"]
    assert "contain clock is breached" in str(bodies[0]["text"])
    notified = [r for r in audit.read(folder) if r["event"] == "executed"]
    assert [(r["incident"], r["action"], r["detail"]["sla"]["status"]) for r in notified] == [
        ("INC-1", "notify.webhook", "running-breached"),
        ("INC-2", "notify.webhook", "near-breach")]
    assert notified[0]["result"]["changed"] is True

    # a second run (a new process: the store is read back from the case) sends nothing,
    # and the breach completed late later is the same breach
    clock_mark(folder, "INC-1", "contained", T0 + timedelta(hours=7, minutes=15))
    later = sla_report(folder, now=T0 + timedelta(hours=7, minutes=30))
    again = notify_breaches(later, WEBHOOK, FileIdempotencyStore(keys))
    assert [(n.incident, n.status, n.outcome) for n in again] == [
        ("INC-1", "breached", "already-sent"), ("INC-2", "near-breach", "already-sent")]
    assert len(responses.calls) == 2
    assert len([r for r in audit.read(folder) if r["event"] == "executed"]) == 2
    # the notifications did not count as containment
    assert later.incidents[1].times.contained is None


@responses.activate
def test_near_breach_then_breach_are_two_messages_and_failures_are_audited(
        tmp_path: Path) -> None:
    responses.post(URL, json={"ok": True})
    folder = make_case(tmp_path, {"INC-1": T0})
    store = FileIdempotencyStore(folder / "respond" / NOTIFY_KEYS_FILE)
    notify_breaches(sla_report(folder, now=T0 + timedelta(hours=5)), WEBHOOK, store)
    notify_breaches(sla_report(folder, now=T0 + timedelta(hours=7)), WEBHOOK, store)
    assert len(responses.calls) == 2

    responses.replace(responses.POST, URL, status=500)
    later = sla_report(folder, now=T0 + timedelta(hours=11))  # recover near breach
    failed = notify_breaches(later, WEBHOOK, store)
    assert [(n.clock, n.outcome) for n in failed] == [("contain", "already-sent"),
                                                      ("recover", "failed")]
    assert "HTTP 500" in failed[1].error
    record = audit.read(folder)[-1]
    assert record["event"] == "failed" and record["action"] == "notify.webhook"
    assert record["error"]["code"] == "HTTP500"


def test_notify_targets_are_checked_before_anything_is_sent(tmp_path: Path) -> None:
    folder = make_case(tmp_path, {"INC-1": T0})
    report = sla_report(folder, now=T0 + timedelta(hours=7))
    store = FileIdempotencyStore(folder / "respond" / NOTIFY_KEYS_FILE)
    with pytest.raises(ClockConfigError, match="not a notify action"):
        notify_breaches(report, [{"action": "aws.stop_instance", "params": {}}], store)
    with pytest.raises(ClockConfigError, match="without incident_id"):
        notify_breaches(report, [{"action": "webhook",
                                  "params": {"url": URL, "text": "x"}}], store)
    from trailguard.respond.errors import ParamsError

    with pytest.raises(ParamsError, match="https"):
        notify_breaches(report, [{"action": "webhook", "params": {"url": "http://x"}}], store)
    assert audit.read(folder) == []
