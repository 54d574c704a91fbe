"""aliyun.disable_access_key: RAM UpdateAccessKey Status=Inactive, idempotent, reversible."""

from __future__ import annotations

import pytest

from tests.respond.fake_aliyun import FakeAliyun
from tests.respond.helpers import assert_permitted, calls
from trailguard.respond.actions.aliyun.disable_access_key import DisableAccessKey
from trailguard.respond.clients.aliyun import AliyunClient
from trailguard.respond.errors import PlanError

PARAMS = {"user_name": "deploy-bot", "access_key_id": "LTAI5tLEAKED0001"}


def test_disable_then_idempotent_then_rollback(fake: FakeAliyun, aliyun: AliyunClient):
    fake.add_key("deploy-bot", "LTAI5tOTHER00002")
    fake.add_key("deploy-bot", "LTAI5tLEAKED0001")
    action = DisableAccessKey()
    params = action.parse_params(PARAMS)
    plan = action.plan(aliyun, params)

    assert fake.calls == [("ram", "ListAccessKeys", {"UserName": "deploy-bot"})]
    assert calls(plan) == [("ram", "UpdateAccessKey", {
        "UserName": "deploy-bot", "UserAccessKeyId": "LTAI5tLEAKED0001", "Status": "Inactive"})]
    assert "~ RAM AccessKey LTAI5tLEAKED0001 of deploy-bot: status: Active -> Inactive" in (
        plan.diff())

    result = action.execute(aliyun, plan)
    assert fake.writes() == [("ram", "UpdateAccessKey", {
        "UserName": "deploy-bot", "UserAccessKeyId": "LTAI5tLEAKED0001", "Status": "Inactive"})]
    assert fake.keys["deploy-bot"][1]["Status"] == "Inactive"
    assert fake.keys["deploy-bot"][0]["Status"] == "Active"
    assert action.plan(aliyun, params).empty

    action.execute(aliyun, action.rollback_plan(result.state))
    assert fake.writes()[-1][2]["Status"] == "Active"
    assert fake.keys["deploy-bot"][1]["Status"] == "Active"
    assert_permitted(action, fake.calls)


def test_unknown_key_is_a_plan_error(fake: FakeAliyun, aliyun: AliyunClient):
    fake.add_key("deploy-bot", "LTAI5tOTHER00002")
    action = DisableAccessKey()
    with pytest.raises(PlanError, match="no RAM AccessKey LTAI5tLEAKED0001"):
        action.plan(aliyun, action.parse_params(PARAMS))
