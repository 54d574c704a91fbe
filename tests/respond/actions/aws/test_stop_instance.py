"""aws.stop_instance on moto."""

from __future__ import annotations

import pytest

from tests.respond.aws_env import build
from tests.respond.helpers import calls
from trailguard.respond.actions.aws.stop_instance import StopInstance
from trailguard.respond.clients.aws import AwsClient
from trailguard.respond.errors import NotReversibleError


def test_stop_once(aws: AwsClient):
    estate = build(aws)
    action = StopInstance()
    params = action.parse_params({"instance_id": estate.instance})
    plan = action.plan(aws, params)
    assert calls(plan) == [("ec2", "StopInstances", {"InstanceIds": [estate.instance],
                                                     "Force": False})]
    result = action.execute(aws, plan)
    state = aws.sdk_client("ec2").describe_instances(InstanceIds=[estate.instance])[
        "Reservations"][0]["Instances"][0]["State"]["Name"]
    assert state in ("stopping", "stopped")
    assert action.plan(aws, params).empty
    with pytest.raises(NotReversibleError):
        action.rollback_plan(result.state)
