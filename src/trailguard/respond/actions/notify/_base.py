"""Shared planning for notification actions.

Sending a message cannot be read back from the channel, so notifications are made
idempotent with a key per (incident, message, channel): the plan is empty when the client's
store has seen the key, and the client re-checks and records it around the send.
"""

from __future__ import annotations

import hashlib
from abc import abstractmethod
from typing import Any, ClassVar, TypeVar

from trailguard.respond.actions.base import Action, Params, Provider
from trailguard.respond.clients.notify import NotifyClient
from trailguard.respond.idempotency import idempotency_key
from trailguard.respond.model import Plan

N = TypeVar("N", bound=Params)


class NotifyAction(Action[N, NotifyClient]):
    """Base for notify actions: subclasses build the channel's JSON ``body`` and say where
    the URL (and secret) come from."""

    provider: ClassVar[Provider] = "notify"
    IDEMPOTENT = False
    NOT_REVERSIBLE_BECAUSE = "a sent message cannot be unsent; send a correction instead"

    @abstractmethod
    def body(self, params: N) -> dict[str, Any]:
        """The JSON document to POST."""

    @abstractmethod
    def target(self, params: N) -> dict[str, str]:
        """``url``/``url_env`` and optional ``secret_env`` call parameters."""

    def key(self, params: N) -> str:
        fields = params.to_dict()
        message = str(fields.get("message_id") or hashlib.sha256(
            str(fields.get("text", "")).encode()).hexdigest())
        channel = ",".join(f"{k}={v}" for k, v in sorted(self.target(params).items()))
        return idempotency_key(str(fields.get("incident_id", "")), message, self.name, channel)

    def plan(self, client: NotifyClient, params: N) -> Plan:
        b = self.builder(params)
        key = self.key(params)
        b.state["idempotency_key"] = key
        if client.already_sent(key):
            b.note(f"already sent (idempotency key {key})")
            return b.build()
        b.call(self.name, "send", {"idempotency_key": key, **self.target(params),
                                   "body": self.body(params)})
        text = str(params.to_dict().get("text", ""))
        b.change(f"{self.name} channel", "message", None,
                 text if len(text) <= 80 else text[:77] + "...")
        return b.build()
