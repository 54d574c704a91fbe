"""Running a response for an incident: approvals, the audit log, a failure half-way, the
resumed run doing nothing twice, rollback on failure, and no secret in the audit log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.respond.conftest import SECRET_VALUES
from tests.respond.fake_aliyun import FakeAliyun
from trailguard.respond import audit
from trailguard.respond.clients.aliyun import AliyunClient
from trailguard.respond.run import Step, plan_steps, run_steps

INCIDENT = "INC-0123456789ab"
PLAYBOOK = "contain-stolen-key"


def _estate(fake: FakeAliyun) -> None:
    fake.add_group("sg-web", "vpc-a")
    fake.add_instance("i-web1", "vpc-a", ["sg-web"], disks=("d-web1-sys",))
    fake.add_key("deploy-bot", "LTAI5tLEAKED0001")


def _steps(on_failure: str = "stop") -> list[Step]:
    return [
        Step("snapshot:i-web1", "snapshot", "aliyun.snapshot_disks",
             {"instance_id": "i-web1", "incident_id": INCIDENT}),
        Step("disable:LTAI5tLEAKED0001", "disable", "aliyun.disable_access_key",
             {"user_name": "deploy-bot", "access_key_id": "LTAI5tLEAKED0001"},
             on_failure=on_failure),
        Step("stop:i-web1", "stop", "aliyun.stop_instance", {"instance_id": "i-web1"},
             approval="required"),
    ]


def _client(aliyun: AliyunClient) -> Any:
    return lambda action: aliyun


def _events(case: Path) -> list[tuple[str, str | None]]:
    return [(r["event"], r["step"]) for r in audit.read(case)]


def test_dry_run_changes_nothing_and_is_audited(tmp_path: Path, fake: FakeAliyun,
                                                aliyun: AliyunClient) -> None:
    _estate(fake)
    report = plan_steps(tmp_path, INCIDENT, PLAYBOOK, _steps(), _client(aliyun))
    assert [o.status for o in report.outcomes] == ["planned"] * 3
    assert fake.writes() == []
    assert [e for e, _ in _events(tmp_path)] == ["planned"] * 3
    planned = audit.read(tmp_path)[1]
    assert planned["plan"]["calls"][0]["action"] == "UpdateAccessKey"
    assert planned["who"] and planned["time"].endswith("Z")


def test_approval_is_needed_for_the_steps_that_ask_for_it(
        tmp_path: Path, fake: FakeAliyun, aliyun: AliyunClient) -> None:
    _estate(fake)
    report = run_steps(tmp_path, INCIDENT, PLAYBOOK, _steps(), _client(aliyun))
    assert [o.status for o in report.outcomes] == ["executed", "executed", "skipped"]
    assert fake.instances["i-web1"]["status"] == "Running"
    assert report.finished
    approved = run_steps(tmp_path, INCIDENT, PLAYBOOK, _steps(), _client(aliyun),
                         approve=True)
    # a new run: snapshot and key already done (empty plans), the stop now runs
    assert [o.status for o in approved.outcomes] == ["skipped", "skipped", "executed"]
    assert fake.instances["i-web1"]["status"] == "Stopped"
    assert sum(1 for c in fake.writes() if c[1] == "UpdateAccessKey") == 1


def test_a_failed_run_resumes_where_it_stopped(tmp_path: Path, fake: FakeAliyun,
                                               aliyun: AliyunClient) -> None:
    _estate(fake)
    fake.fail("UpdateAccessKey", "InternalError", status=500, times=1)
    first = run_steps(tmp_path, INCIDENT, PLAYBOOK, _steps(), _client(aliyun), approve=True)
    assert [o.status for o in first.outcomes] == ["executed", "failed"]
    assert not first.finished
    failed = next(r for r in audit.read(tmp_path) if r["event"] == "failed")
    assert failed["error"]["code"] == "InternalError"
    snapshots = sum(1 for c in fake.writes() if c[1] == "CreateSnapshot")

    resumed = run_steps(tmp_path, INCIDENT, PLAYBOOK, _steps(), _client(aliyun), approve=True)
    assert resumed.resumed and resumed.run == first.run and resumed.finished
    assert [o.status for o in resumed.outcomes] == ["executed", "executed", "executed"]
    assert resumed.outcomes[0].reason == "done in an earlier attempt of this run"
    # nothing done twice
    assert sum(1 for c in fake.writes() if c[1] == "CreateSnapshot") == snapshots == 1
    assert sum(1 for c in fake.writes() if c[1] == "UpdateAccessKey") == 2  # failed + done
    assert fake.keys["deploy-bot"][0]["Status"] == "Inactive"
    events = [e for e, _ in _events(tmp_path)]
    assert events.count("run-started") == 2 and events.count("run-finished") == 1


def test_throttling_is_retried_within_the_step(tmp_path: Path, fake: FakeAliyun,
                                              aliyun: AliyunClient) -> None:
    _estate(fake)
    fake.fail("UpdateAccessKey", "Throttling.User", times=2)
    report = run_steps(tmp_path, INCIDENT, PLAYBOOK, _steps(), _client(aliyun))
    assert report.outcomes[1].status == "executed"
    executed = [r for r in audit.read(tmp_path) if r["event"] == "executed"]
    assert executed[1]["result"]["records"][0]["attempts"] == 3


def test_rollback_on_failure_undoes_what_the_run_did(tmp_path: Path, fake: FakeAliyun,
                                                     aliyun: AliyunClient) -> None:
    _estate(fake)
    fake.add_key("deploy-bot", "LTAI5tSECOND0002")
    steps = [
        Step("disable:1", "disable", "aliyun.disable_access_key",
             {"user_name": "deploy-bot", "access_key_id": "LTAI5tLEAKED0001"}),
        Step("disable:2", "disable", "aliyun.disable_access_key",
             {"user_name": "deploy-bot", "access_key_id": "LTAI5tSECOND0002"},
             on_failure="rollback"),
    ]

    def client_for(action: Any) -> Any:
        """Once the first key is disabled, the next UpdateAccessKey is refused."""
        if sum(1 for c in fake.writes() if c[1] == "UpdateAccessKey") == 1 and not fake.faults:
            fake.fail("UpdateAccessKey", "Forbidden.RAM", status=403, times=1)
        return aliyun

    report = run_steps(tmp_path, INCIDENT, "rollback-test", steps, client_for)
    assert [o.status for o in report.outcomes] == ["executed", "failed", "rolled-back"]
    assert fake.keys["deploy-bot"][0]["Status"] == "Active"  # undone
    assert report.finished


def test_no_secret_reaches_the_audit_log(tmp_path: Path, fake: FakeAliyun,
                                         aliyun: AliyunClient) -> None:
    _estate(fake)
    run_steps(tmp_path, INCIDENT, PLAYBOOK, _steps(), _client(aliyun), approve=True)
    text = audit.audit_path(tmp_path).read_text(encoding="utf-8")
    assert all(secret not in text for secret in SECRET_VALUES)
    for line in text.splitlines():
        json.loads(line)


def test_a_timeout_fails_the_step_and_the_run_resumes(tmp_path: Path, fake: FakeAliyun,
                                                     aliyun: AliyunClient) -> None:
    _estate(fake)
    fake.time_out("UpdateAccessKey", times=1)  # a timeout is not retried blindly
    first = run_steps(tmp_path, INCIDENT, PLAYBOOK, _steps(), _client(aliyun), approve=True)
    assert [o.status for o in first.outcomes] == ["executed", "failed"]
    failed = next(r for r in audit.read(tmp_path) if r["event"] == "failed")
    assert failed["error"]["type"] == "CallTimeoutError"
    assert "UpdateAccessKey" in failed["error"]["message"]
    again = run_steps(tmp_path, INCIDENT, PLAYBOOK, _steps(), _client(aliyun), approve=True)
    assert again.run == first.run and again.finished
    assert sum(1 for c in fake.writes() if c[1] == "CreateSnapshot") == 1
