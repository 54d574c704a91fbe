"""The Alibaba client through the real Tea SDK and ``requests``: wire format, signing,
throttling with backoff, timeouts, errors, and no secret anywhere in what comes back."""

from __future__ import annotations

import json
import logging

import pytest

from tests.respond.conftest import SECRETS, Sleeps
from tests.respond.fake_aliyun import FakeAliyun
from tests.respond.helpers import assert_no_secrets
from trailguard.respond.actions.aliyun.isolate_instance import IsolateInstance
from trailguard.respond.clients.aliyun import AliyunClient
from trailguard.respond.errors import CallTimeoutError, CloudCallError, ThrottledError
from trailguard.respond.model import ApiCall

DESCRIBE = ApiCall("ecs", "DescribeInstances",
                   {"RegionId": "cn-hangzhou", "InstanceIds": '["i-1"]'})


def test_the_sdk_signs_and_posts_rpc_calls(fake: FakeAliyun, aliyun: AliyunClient):
    response = aliyun.call(DESCRIBE)
    assert response.body["Instances"] == {"Instance": []}
    assert response.attempts == 1 and response.request_id
    assert fake.calls == [("ecs", "DescribeInstances", dict(DESCRIBE.parameters))]
    headers = fake.headers[0]
    assert headers["x-acs-action"] == "DescribeInstances"
    assert headers["x-acs-version"] == "2014-05-26"
    assert headers["host"] == "ecs.cn-hangzhou.aliyuncs.com"
    assert headers["Authorization"].startswith("ACS3-HMAC-SHA256 Credential=LTAI5tFAKEKEYID0000,")
    assert "x-acs-credentials-provider" in headers  # resolved through the default chain


def test_ram_goes_to_the_global_endpoint(fake: FakeAliyun, aliyun: AliyunClient):
    fake.add_key("u", "LTAI5tK")
    aliyun.call(ApiCall("ram", "ListAccessKeys", {"UserName": "u"}))
    assert fake.headers[0]["host"] == "ram.aliyuncs.com"
    assert fake.headers[0]["x-acs-version"] == "2015-05-01"


def test_throttling_is_retried_with_backoff(fake: FakeAliyun, aliyun: AliyunClient,
                                            sleeps: Sleeps):
    fake.fail("DescribeInstances", "Throttling.User", times=2)
    response = aliyun.call(DESCRIBE)
    assert response.attempts == 3
    assert [c[1] for c in fake.calls] == ["DescribeInstances"] * 3
    assert sleeps.calls == [0.25, 0.5]  # 0.5 s doubling, factor 0.5 with zero jitter


def test_throttling_gives_up_after_max_attempts(fake: FakeAliyun, aliyun: AliyunClient,
                                                sleeps: Sleeps):
    fake.fail("DescribeInstances", "Throttling", status=503, times=10)
    with pytest.raises(ThrottledError) as caught:
        aliyun.call(DESCRIBE)
    assert caught.value.attempts == 4 and caught.value.code == "Throttling"
    assert sleeps.calls == [0.25, 0.5, 1.0]
    assert len(fake.calls) == 4


def test_other_errors_are_not_retried(fake: FakeAliyun, aliyun: AliyunClient, sleeps: Sleeps):
    fake.fail("DescribeInstances", "Forbidden.RAM", status=403)
    with pytest.raises(CloudCallError) as caught:
        aliyun.call(DESCRIBE)
    assert not isinstance(caught.value, ThrottledError)
    assert caught.value.code == "Forbidden.RAM" and caught.value.status == 403
    assert caught.value.request_id
    assert sleeps.calls == []


def test_a_timeout_carries_the_action_and_the_call(fake: FakeAliyun, aliyun: AliyunClient):
    fake.add_group("sg-web", "vpc-a")
    fake.add_instance("i-web1", "vpc-a", ["sg-web"])
    fake.time_out("ModifyInstanceAttribute")
    action = IsolateInstance()
    plan = action.plan(aliyun, action.parse_params({"instance_id": "i-web1",
                                                    "forensic_cidr": "203.0.113.7/32"}))
    with pytest.raises(CallTimeoutError) as caught:
        action.execute(aliyun, plan)
    error = caught.value
    assert error.action == "aliyun.isolate_instance"
    assert error.call.permission == "ecs:ModifyInstanceAttribute"
    assert error.call.parameters == {"InstanceId": "i-web1", "SecurityGroupIds.1": "sg-fake1"}
    assert "aliyun.isolate_instance: ecs:ModifyInstanceAttribute failed [Timeout]" in str(error)
    assert error.partial is not None
    assert [r.call.action for r in error.partial.records] == [
        "CreateSecurityGroup", "AuthorizeSecurityGroup", "AuthorizeSecurityGroupEgress"]
    # a resumed run re-plans and only the remaining call is left (the group is reused)
    resumed = action.plan(aliyun, action.parse_params({"instance_id": "i-web1",
                                                       "forensic_cidr": "203.0.113.7/32"}))
    assert [c.action for c in resumed.calls] == ["ModifyInstanceAttribute"]


def test_no_secret_in_plans_results_errors_or_logs(fake: FakeAliyun, aliyun: AliyunClient,
                                                   caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    fake.add_group("sg-web", "vpc-a")
    fake.add_instance("i-web1", "vpc-a", ["sg-web"], secondary={"eni-2": ["sg-web"]})
    action = IsolateInstance()
    plan = action.plan(aliyun, action.parse_params({"instance_id": "i-web1",
                                                    "forensic_cidr": "203.0.113.7/32"}))
    result = action.execute(aliyun, plan)
    undo = action.execute(aliyun, action.rollback_plan(result.state))
    fake.fail("DescribeInstances", "InvalidAccessKeySecret", status=400)
    with pytest.raises(CloudCallError) as caught:
        action.plan(aliyun, action.parse_params({"instance_id": "i-web1",
                                                 "forensic_cidr": "203.0.113.7/32"}))
    assert_no_secrets(plan, result, undo, text=str(caught.value) + repr(vars(caught.value))
                      + caplog.text)
    # the secret did reach the wire-level signer (so the check above is meaningful)
    assert SECRETS["ALIBABA_CLOUD_ACCESS_KEY_ID"] in fake.headers[0]["Authorization"]
    blob = json.dumps([plan.to_dict(), result.to_dict()])
    assert "Authorization" not in blob and "Signature" not in blob
