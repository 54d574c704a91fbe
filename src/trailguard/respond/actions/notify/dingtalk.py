"""Notify a DingTalk group through a custom robot (markdown message).

The robot's webhook URL embeds its ``access_token`` and the "sign" security setting adds a
``SEC…`` secret, so both come from environment variables (``url_env``, ``secret_env``),
never from the playbook. With a secret, the client appends ``timestamp`` (ms) and
``sign = urlencode(base64(HMAC-SHA256(secret, "<timestamp>\\n<secret>")))`` to the URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from trailguard.respond.actions.base import Params, register_action
from trailguard.respond.actions.notify._base import NotifyAction


@dataclass(frozen=True)
class DingTalkParams(Params):
    incident_id: str
    text: str
    title: str = "TrailGuard"
    url_env: str = "TRAILGUARD_DINGTALK_WEBHOOK"
    secret_env: str = "TRAILGUARD_DINGTALK_SECRET"  # noqa: S105 - a variable name
    at_mobiles: tuple[str, ...] = ()
    message_id: str = ""


@register_action
class DingTalk(NotifyAction[DingTalkParams]):
    """Send a markdown message through a DingTalk custom robot."""

    name: ClassVar[str] = "dingtalk"
    Params = DingTalkParams

    def body(self, params: DingTalkParams) -> dict[str, Any]:
        mentions = "".join(f" @{m}" for m in params.at_mobiles)
        return {"msgtype": "markdown",
                "markdown": {"title": params.title,
                             "text": f"### {params.title}\n\n**Incident** {params.incident_id}"
                                     f"\n\n{params.text}{mentions}"},
                "at": {"atMobiles": list(params.at_mobiles), "isAtAll": False}}

    def target(self, params: DingTalkParams) -> dict[str, str]:
        out = {"url_env": params.url_env}
        if params.secret_env:
            out["secret_env"] = params.secret_env
        return out
