"""Notify a Slack channel through an incoming webhook.

An incoming-webhook URL is itself the credential (``hooks.slack.com/services/T…/B…/<secret>``)
so it comes from an environment variable. Slack's signing-secret scheme authenticates requests
Slack sends *to* an app, not webhook posts, so there is nothing to sign here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from trailguard.respond.actions.base import Params, register_action
from trailguard.respond.actions.notify._base import NotifyAction


@dataclass(frozen=True)
class SlackParams(Params):
    incident_id: str
    text: str
    title: str = "TrailGuard"
    url_env: str = "TRAILGUARD_SLACK_WEBHOOK_URL"
    message_id: str = ""


@register_action
class Slack(NotifyAction[SlackParams]):
    """Post a message to Slack through an incoming webhook."""

    name: ClassVar[str] = "slack"
    Params = SlackParams

    def body(self, params: SlackParams) -> dict[str, Any]:
        summary = f"*{params.title}* (incident {params.incident_id})\n{params.text}"
        return {"text": summary,
                "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": summary}}]}

    def target(self, params: SlackParams) -> dict[str, str]:
        return {"url_env": params.url_env}
