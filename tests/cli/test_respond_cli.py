"""`trailguard respond`: plan (dry run) and run the matching playbooks for an incident of the
case, against a fake Alibaba Cloud at the HTTP layer; `respond permissions`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import responses
from typer.testing import CliRunner

from tests.respond.conftest import SECRET_VALUES
from tests.respond.conftest import fake_credentials as fake_credentials
from tests.respond.fake_aliyun import FakeAliyun
from tests.trace.conftest import TinyCase
from trailguard.cli.main import app
from trailguard.respond import audit

KEY = "LTAI5tLEAKED0001"


@pytest.fixture
def fake() -> Iterator[FakeAliyun]:
    fake = FakeAliyun()
    fake.add_key("deploy-bot", KEY)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.install(rsps)
        yield fake


@pytest.fixture
def incident_case(tmp_path: Path) -> tuple[Path, str]:
    """A case holding one incident: a stolen Alibaba AccessKey used from outside."""
    tiny = TinyCase(tmp_path / "case")
    for minute, title in ((0, "GetCallerIdentity by a long-term key"),
                          (2, "Burst of Describe calls"), (5, "RAM user created")):
        tiny.alert(minute, title, level="high", tactics=("discovery",),
                   actor_access_key=KEY, actor_user="deploy-bot", cloud_account="1",
                   src_ip="198.51.100.77")
    result = tiny.trace()
    return tiny.folder, result.incidents[0].id


def test_plan_is_a_dry_run_naming_the_calls(fake: FakeAliyun,
                                            incident_case: tuple[Path, str]) -> None:
    case, incident = incident_case
    result = CliRunner().invoke(app, ["respond", "plan", incident, "--case", str(case),
                                      "--region", "cn-hangzhou", "--only",
                                      "contain-stolen-key-aliyun", "--json"])
    assert result.exit_code in (0, 8), result.output
    document = json.loads(result.stdout)
    steps = document["playbooks"][0]["steps"]
    disable = next(step for step in steps if step["action"] == "aliyun.disable_access_key")
    assert disable["status"] == "planned"
    assert disable["plan"]["calls"][0]["parameters"] == {
        "UserName": "deploy-bot", "UserAccessKeyId": KEY, "Status": "Inactive"}
    assert fake.writes() == []
    assert any(r["event"] == "planned" for r in audit.read(case))


def test_run_needs_approval_then_disables_the_key(fake: FakeAliyun,
                                                  incident_case: tuple[Path, str]) -> None:
    case, incident = incident_case
    runner = CliRunner()
    arguments = ["respond", "run", incident, "--case", str(case), "--region", "cn-hangzhou",
                 "--only", "contain-stolen-key-aliyun", "--json"]
    first = runner.invoke(app, arguments)
    assert fake.writes() == []
    assert "needs approval" in first.stdout
    second = runner.invoke(app, [*arguments, "--approve"])
    assert fake.keys["deploy-bot"][0]["Status"] == "Inactive"
    assert [c for c in fake.writes() if c[1] == "UpdateAccessKey"]
    text = audit.audit_path(case).read_text(encoding="utf-8")
    assert all(secret not in text for secret in SECRET_VALUES)
    assert second.exit_code in (0, 8)  # the DingTalk step fails without a webhook


def test_permissions_prints_a_ram_policy() -> None:
    result = CliRunner().invoke(app, ["respond", "permissions", "--provider", "aliyun",
                                      "--action", "disable_access_key"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["Version"] == "1"
    assert set(document["Statement"][0]["Action"]) == {"ram:ListAccessKeys",
                                                       "ram:UpdateAccessKey"}
