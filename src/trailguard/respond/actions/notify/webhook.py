"""Notify through a generic JSON webhook, optionally HMAC-signed.

The body is ``{"source": "trailguard", "incident_id", "title", "text", "severity"}``. With
``secret_env`` set the request carries ``X-TrailGuard-Timestamp`` and
``X-TrailGuard-Signature: sha256=HMAC-SHA256(secret, "<timestamp>.<body>")``; every request
carries ``Idempotency-Key`` so receivers can drop duplicates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from trailguard.respond.actions.base import Params, register_action
from trailguard.respond.actions.notify._base import NotifyAction
from trailguard.respond.errors import ParamsError


@dataclass(frozen=True)
class WebhookParams(Params):
    incident_id: str
    text: str
    url: str = ""
    url_env: str = ""
    secret_env: str = ""
    title: str = "TrailGuard"
    severity: str = "info"
    message_id: str = ""

    def __post_init__(self) -> None:
        if bool(self.url) == bool(self.url_env):
            raise ParamsError("give either url or url_env")
        if self.url and not self.url.startswith("https://"):
            raise ParamsError("webhook url must use https://")


@register_action
class Webhook(NotifyAction[WebhookParams]):
    """POST the notification as JSON to a webhook."""

    name: ClassVar[str] = "webhook"
    Params = WebhookParams

    def body(self, params: WebhookParams) -> dict[str, Any]:
        return {"source": "trailguard", "incident_id": params.incident_id,
                "title": params.title, "text": params.text, "severity": params.severity}

    def target(self, params: WebhookParams) -> dict[str, str]:
        out = {"url": params.url} if params.url else {"url_env": params.url_env}
        if params.secret_env:
            out["secret_env"] = params.secret_env
        return out
