"""The AWS client on moto: JSON-able bodies, throttling retried with backoff, timeouts
typed, no secrets in results or logs."""

from __future__ import annotations

import logging

import pytest

from tests.respond.aws_env import build, fail_next, time_out
from tests.respond.conftest import Sleeps
from tests.respond.helpers import assert_no_secrets
from trailguard.respond.actions.aws.isolate_instance import IsolateInstance
from trailguard.respond.clients.aws import AwsClient
from trailguard.respond.errors import CallTimeoutError, CloudCallError, ThrottledError
from trailguard.respond.model import ApiCall


def test_bodies_are_plain_json(aws: AwsClient):
    estate = build(aws)
    response = aws.call(ApiCall("ec2", "DescribeInstances", {"InstanceIds": [estate.instance]}))
    instance = response.body["Reservations"][0]["Instances"][0]
    assert isinstance(instance["LaunchTime"], str)  # datetimes became ISO strings
    assert "ResponseMetadata" not in response.body and response.request_id


@pytest.mark.parametrize("code", ["RequestLimitExceeded", "Throttling"])
def test_throttling_is_retried_with_backoff(aws: AwsClient, sleeps: Sleeps, code: str):
    estate = build(aws)
    injected = fail_next(aws, "ec2", "DescribeInstances", code, times=2)
    response = aws.call(ApiCall("ec2", "DescribeInstances", {"InstanceIds": [estate.instance]}))
    assert response.attempts == 3 and len(injected) == 2
    assert sleeps.calls == [0.25, 0.5]


def test_throttling_gives_up(aws: AwsClient, sleeps: Sleeps):
    fail_next(aws, "ec2", "DescribeInstances", "RequestLimitExceeded", times=99)
    with pytest.raises(ThrottledError) as caught:
        aws.call(ApiCall("ec2", "DescribeInstances", {}))
    assert caught.value.attempts == 4 and caught.value.status == 503
    assert len(sleeps.calls) == 3


def test_errors_are_typed_and_not_retried(aws: AwsClient, sleeps: Sleeps):
    with pytest.raises(CloudCallError) as caught:
        aws.call(ApiCall("ec2", "DescribeInstances", {"InstanceIds": ["i-0000000000000dead"]}))
    assert caught.value.code == "InvalidInstanceID.NotFound"
    assert sleeps.calls == []
    with pytest.raises(CloudCallError, match="no operation"):
        aws.call(ApiCall("ec2", "NoSuchThing", {}))


def test_a_timeout_carries_the_action_and_the_call(aws: AwsClient):
    estate = build(aws)
    time_out(aws, "ec2", "ModifyInstanceAttribute")
    action = IsolateInstance()
    plan = action.plan(aws, action.parse_params({"instance_id": estate.instance,
                                                 "forensic_cidr": "203.0.113.7"}))
    with pytest.raises(CallTimeoutError) as caught:
        action.execute(aws, plan)
    assert caught.value.action == "aws.isolate_instance"
    assert caught.value.call.action == "ModifyInstanceAttribute"
    assert caught.value.call.parameters["InstanceId"] == estate.instance
    assert caught.value.partial is not None and len(caught.value.partial.records) == 4


def test_no_secret_in_results_or_logs(aws: AwsClient, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)  # every logger, botocore's signed-request dumps included
    estate = build(aws)
    action = IsolateInstance()
    plan = action.plan(aws, action.parse_params({"instance_id": estate.instance,
                                                 "forensic_cidr": "203.0.113.7"}))
    result = action.execute(aws, plan)
    undo = action.execute(aws, action.rollback_plan(result.state))
    assert_no_secrets(plan, result, undo, text=caplog.text)
    assert "X-Amz-Security-Token" in caplog.text  # botocore did log the header, masked
