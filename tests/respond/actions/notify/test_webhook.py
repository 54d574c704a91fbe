"""notify.webhook: JSON body, HMAC signature header, idempotency across restarts."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest
import responses

from trailguard.respond.actions.notify.webhook import Webhook
from trailguard.respond.clients.notify import NotifyClient
from trailguard.respond.errors import CallTimeoutError, ParamsError
from trailguard.respond.idempotency import FileIdempotencyStore
from trailguard.respond.retry import RetryPolicy

URL = "https://hooks.example.org/trailguard"


@responses.activate
def test_signed_post_survives_a_restart_without_sending_twice(tmp_path: Path):
    responses.post(URL, json={"ok": True})
    env = {"HOOK_SECRET": "shared-secret-DO-NOT-LEAK"}
    store = tmp_path / "case" / "notify-keys.jsonl"
    action = Webhook()
    params = action.parse_params({"incident_id": "INC-9", "text": "key disabled", "url": URL,
                                  "secret_env": "HOOK_SECRET", "severity": "high"})
    first = NotifyClient(FileIdempotencyStore(store), environ=env, clock=lambda: 1_700_000_000)
    result = action.execute(first, action.plan(first, params))
    sent = responses.calls[0].request
    body = sent.body if isinstance(sent.body, bytes) else str(sent.body).encode()
    assert json.loads(body) == {"source": "trailguard", "incident_id": "INC-9",
                                "title": "TrailGuard", "text": "key disabled", "severity": "high"}
    assert sent.headers["X-TrailGuard-Timestamp"] == "1700000000"
    assert sent.headers["X-TrailGuard-Signature"] == "sha256=" + hmac.new(
        b"shared-secret-DO-NOT-LEAK", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert "shared-secret" not in json.dumps(result.to_dict())

    restarted = NotifyClient(FileIdempotencyStore(store), environ=env)
    assert action.plan(restarted, params).empty
    other = action.parse_params({"incident_id": "INC-9", "text": "instance stopped", "url": URL})
    assert not action.plan(restarted, other).empty
    assert len(responses.calls) == 1


@responses.activate
def test_timeouts_are_typed():
    import requests

    responses.post(URL, body=requests.exceptions.ReadTimeout("slow"))
    action = Webhook()
    notify = NotifyClient(retry=RetryPolicy(sleep=lambda s: None))
    plan = action.plan(notify, action.parse_params({"incident_id": "I", "text": "t", "url": URL}))
    with pytest.raises(CallTimeoutError) as caught:
        action.execute(notify, plan)
    assert caught.value.action == "notify.webhook" and caught.value.call.action == "send"


def test_params_are_checked():
    with pytest.raises(ParamsError, match="either url or url_env"):
        Webhook().parse_params({"incident_id": "I", "text": "t"})
    with pytest.raises(ParamsError, match="https"):
        Webhook().parse_params({"incident_id": "I", "text": "t", "url": "http://x"})
