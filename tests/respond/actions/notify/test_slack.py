"""notify.slack: incoming webhook (the URL is the secret), 429 retried."""

from __future__ import annotations

import json
import re

import responses

from trailguard.respond.actions.notify.slack import Slack
from trailguard.respond.clients.notify import NotifyClient
from trailguard.respond.retry import RetryPolicy

HOOK = "https://hooks.slack.com/services/T000/B000/slack-secret-DO-NOT-LEAK"


@responses.activate
def test_post_retries_rate_limits_and_never_shows_the_url():
    responses.post(re.compile(r"https://hooks\.slack\.com/.*"), status=429, body="rate_limited")
    responses.post(re.compile(r"https://hooks\.slack\.com/.*"), body="ok")
    sleeps: list[float] = []
    notify = NotifyClient(environ={"TRAILGUARD_SLACK_WEBHOOK_URL": HOOK},
                          retry=RetryPolicy(sleep=sleeps.append, jitter=lambda: 0.0))
    action = Slack()
    params = action.parse_params({"incident_id": "INC-3", "text": "blocked 198.51.100.23"})
    result = action.execute(notify, action.plan(notify, params))
    assert len(responses.calls) == 2 and sleeps == [0.25]
    assert result.records[0].attempts == 2
    body = json.loads(responses.calls[1].request.body or b"{}")
    assert body["text"].startswith("*TrailGuard* (incident INC-3)")
    assert "slack-secret" not in json.dumps(result.to_dict())
    assert action.plan(notify, params).empty
