"""notify.dingtalk: the robot signing scheme, errcode handling, no double send."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from tests.respond.conftest import Sleeps
from trailguard.respond.actions.notify.dingtalk import DingTalk
from trailguard.respond.clients.notify import NotifyClient, dingtalk_sign
from trailguard.respond.errors import CloudCallError
from trailguard.respond.retry import RetryPolicy

TOKEN = "robot-access-token-DO-NOT-LEAK"
SECRET = "SECdingtalk-secret-DO-NOT-LEAK"
ENV = {"TRAILGUARD_DINGTALK_WEBHOOK": f"https://oapi.dingtalk.com/robot/send?access_token={TOKEN}",
       "TRAILGUARD_DINGTALK_SECRET": SECRET}


def client(sleeps: Sleeps) -> NotifyClient:
    return NotifyClient(environ=ENV, clock=lambda: 1_700_000_000.123,
                        retry=RetryPolicy(sleep=sleeps, jitter=lambda: 0.0))


def test_sign_matches_the_documented_scheme():
    ts = 1_700_000_000_123
    expected = base64.b64encode(hmac.new(SECRET.encode(), f"{ts}\n{SECRET}".encode(),
                                         hashlib.sha256).digest()).decode()
    assert parse_qs(f"sign={dingtalk_sign(SECRET, ts)}")["sign"] == [expected]


@responses.activate
def test_signed_markdown_message_sent_once(sleeps: Sleeps):
    rsp = responses.post(re.compile(r"https://oapi\.dingtalk\.com/robot/send.*"),
                         json={"errcode": 0, "errmsg": "ok"})
    notify = client(sleeps)
    action = DingTalk()
    params = action.parse_params({"incident_id": "INC-42", "text": "i-web1 isolated",
                                  "at_mobiles": ["13800000000"]})
    plan = action.plan(notify, params)
    assert [c.permission for c in plan.calls] == ["dingtalk:send"]
    assert plan.calls[0].parameters["url_env"] == "TRAILGUARD_DINGTALK_WEBHOOK"
    result = action.execute(notify, plan)

    sent = responses.calls[0].request
    query = parse_qs(urlsplit(str(sent.url)).query)
    assert query["access_token"] == [TOKEN]
    assert query["timestamp"] == ["1700000000123"]
    assert query["sign"] == [base64.b64encode(hmac.new(
        SECRET.encode(), f"1700000000123\n{SECRET}".encode(), hashlib.sha256).digest()).decode()]
    body = json.loads(sent.body or b"{}")
    assert body["msgtype"] == "markdown" and "i-web1 isolated" in body["markdown"]["text"]
    assert body["at"] == {"atMobiles": ["13800000000"], "isAtAll": False}
    assert sent.headers["Idempotency-Key"] == plan.state["idempotency_key"]

    blob = json.dumps([plan.to_dict(), result.to_dict()])
    assert TOKEN not in blob and SECRET not in blob
    # a resumed run: the plan is empty and the client would not send again either
    assert action.plan(notify, params).empty
    assert action.execute(notify, plan).records[0].attempts == 0
    assert rsp.call_count == 1


@responses.activate
def test_errcodes_fail_and_rate_limits_retry(sleeps: Sleeps):
    responses.post(re.compile(r"https://oapi\.dingtalk\.com/.*"),
                   json={"errcode": 130101, "errmsg": "send too fast"})
    responses.post(re.compile(r"https://oapi\.dingtalk\.com/.*"),
                   json={"errcode": 310000, "errmsg": "sign not match"})
    notify = client(sleeps)
    action = DingTalk()
    plan = action.plan(notify, action.parse_params({"incident_id": "INC-1", "text": "x"}))
    with pytest.raises(CloudCallError) as caught:
        action.execute(notify, plan)
    assert caught.value.code == "310000" and len(sleeps.calls) == 1
    assert TOKEN not in str(caught.value)
    assert not action.plan(notify, action.parse_params({"incident_id": "INC-1",
                                                        "text": "x"})).empty


def test_missing_settings_and_network_errors_do_not_leak(sleeps: Sleeps):
    action = DingTalk()
    notify = NotifyClient(environ={}, retry=RetryPolicy(sleep=sleeps))
    plan = action.plan(notify, action.parse_params({"incident_id": "I", "text": "x"}))
    with pytest.raises(CloudCallError, match="TRAILGUARD_DINGTALK_WEBHOOK is not set"):
        action.execute(notify, plan)
    with responses.RequestsMock() as rsps:
        rsps.post(re.compile(r"https://oapi.*"), body=requests.ConnectionError(
            f"failed https://oapi.dingtalk.com/robot/send?access_token={TOKEN}"))
        with pytest.raises(CloudCallError) as caught:
            action.execute(client(sleeps), plan)
    assert TOKEN not in str(caught.value) and "oapi.dingtalk.com" in str(caught.value)
