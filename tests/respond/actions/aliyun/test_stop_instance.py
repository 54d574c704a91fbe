"""aliyun.stop_instance: StopInstance once, not reversible."""

from __future__ import annotations

import pytest

from tests.respond.fake_aliyun import FakeAliyun
from tests.respond.helpers import calls
from trailguard.respond.actions.aliyun.stop_instance import StopInstance
from trailguard.respond.clients.aliyun import AliyunClient
from trailguard.respond.errors import NotReversibleError


def test_stop_once(fake: FakeAliyun, aliyun: AliyunClient):
    fake.add_instance("i-web1", "vpc-a", ["sg-web"])
    action = StopInstance()
    params = action.parse_params({"instance_id": "i-web1", "force": True})
    plan = action.plan(aliyun, params)
    assert calls(plan) == [("ecs", "StopInstance", {
        "InstanceId": "i-web1", "ForceStop": "true", "StoppedMode": "KeepCharging"})]
    result = action.execute(aliyun, plan)
    assert fake.instances["i-web1"]["status"] == "Stopped"
    assert action.plan(aliyun, params).empty
    with pytest.raises(NotReversibleError, match="StartInstance"):
        action.rollback_plan(result.state)
