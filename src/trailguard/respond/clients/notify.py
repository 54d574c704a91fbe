"""Webhook client for notifications: generic JSON webhooks, DingTalk robots, Slack.

Calls are ``ApiCall(service, "send", {...})`` with these parameters:

* ``idempotency_key``: a message whose key the store has seen is not sent again;
* ``url`` (generic webhooks only) or ``url_env``: the name of the environment variable that
  holds the webhook URL (DingTalk and Slack URLs embed their token, so they are never put in
  a plan);
* ``secret_env`` (optional): the variable holding the signing secret: DingTalk's ``SEC…``
  robot secret, or a shared secret for the generic webhook's HMAC header;
* ``body``: the JSON document to POST.

Signing schemes:

* DingTalk robot: ``sign = urlencode(base64(HMAC-SHA256(key=secret,
  msg=f"{timestamp}\\n{secret}")))`` with ``timestamp`` in milliseconds, both appended to
  the webhook URL as query parameters (DingTalk rejects timestamps older than one hour).
* Generic webhook: ``X-TrailGuard-Timestamp`` (seconds) and ``X-TrailGuard-Signature:
  sha256=<hex HMAC-SHA256(secret, f"{timestamp}.{body}")>``, plus ``Idempotency-Key``.
* Slack incoming webhooks are authorised by their secret URL alone. Slack's *request
  signing* (``X-Slack-Signature: v0=HMAC-SHA256(signing secret, "v0:{ts}:{body}")``) signs
  requests Slack sends *to* an app; it matters only when approvals arrive from Slack.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import requests

from trailguard.respond.clients.base import CallResponse, ProviderClient
from trailguard.respond.errors import CallTimeoutError, CloudCallError, ThrottledError
from trailguard.respond.idempotency import IdempotencyStore, MemoryIdempotencyStore
from trailguard.respond.model import ApiCall
from trailguard.respond.retry import RetryPolicy

log = logging.getLogger(__name__)

DINGTALK_THROTTLED = {130101}
"""DingTalk ``errcode`` for "sending too fast" (20 messages a minute per robot)."""


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """The URL-encoded ``sign`` query parameter of a DingTalk robot call."""
    string_to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), string_to_sign, hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest))


def webhook_signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-TrailGuard-Signature`` header value of a generic webhook call."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class NotifyClient(ProviderClient):
    """POSTs notifications; ``store`` holds the idempotency keys already sent; ``environ``
    (default ``os.environ``) is where ``url_env``/``secret_env`` are looked up."""

    provider: ClassVar[str] = "notify"

    def __init__(self, store: IdempotencyStore | None = None, *,
                 session: requests.Session | None = None, retry: RetryPolicy | None = None,
                 timeout: float = 10.0, environ: Mapping[str, str] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(retry)
        self.store: IdempotencyStore = store if store is not None else MemoryIdempotencyStore()
        self._session = session or requests.Session()
        self._timeout = timeout
        self._environ = environ if environ is not None else os.environ
        self._clock = clock

    def already_sent(self, key: str) -> bool:
        return self.store.seen(key)

    def _env(self, call: ApiCall, name: str) -> str:
        value = self._environ.get(name, "")
        if not value:
            raise CloudCallError(f"environment variable {name} is not set", call=call,
                                 code="MissingSetting")
        return value

    def _send(self, call: ApiCall, attempt: int) -> CallResponse:
        p = call.parameters
        key = str(p.get("idempotency_key", ""))
        if key and self.store.seen(key):
            return CallResponse({"skipped": "already sent", "idempotency_key": key}, 0)
        url = str(p["url"]) if p.get("url") else self._env(call, str(p.get("url_env", "")))
        secret = self._env(call, str(p["secret_env"])) if p.get("secret_env") else ""
        body = json.dumps(p.get("body", {}), ensure_ascii=False, sort_keys=True).encode()
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if key:
            headers["Idempotency-Key"] = key
        if call.service == "dingtalk" and secret:
            ts = int(self._clock() * 1000)
            sep = "&" if urllib.parse.urlsplit(url).query else "?"
            url = f"{url}{sep}timestamp={ts}&sign={dingtalk_sign(secret, ts)}"
        elif secret:
            ts = int(self._clock())
            headers["X-TrailGuard-Timestamp"] = str(ts)
            headers["X-TrailGuard-Signature"] = webhook_signature(secret, ts, body)
        host = urllib.parse.urlsplit(url).hostname or "?"
        try:
            resp = self._session.post(url, data=body, headers=headers, timeout=self._timeout)
        except requests.Timeout:
            raise CallTimeoutError(f"no answer from {host} in time", call=call, code="Timeout",
                                   attempts=attempt) from None
        except requests.RequestException as exc:
            raise CloudCallError(f"{type(exc).__name__} talking to {host}", call=call,
                                 code="NetworkError", attempts=attempt) from None
        answer = _answer(resp)
        if resp.status_code == 429:
            raise ThrottledError(f"{host} rate-limited the message", call=call,
                                 code="TooManyRequests", status=429, attempts=attempt)
        if resp.status_code >= 400:
            raise CloudCallError(f"{host} answered HTTP {resp.status_code}", call=call,
                                 code=f"HTTP{resp.status_code}", status=resp.status_code,
                                 attempts=attempt)
        errcode = answer.get("errcode")
        if call.service == "dingtalk" and errcode not in (None, 0):
            kind = ThrottledError if errcode in DINGTALK_THROTTLED else CloudCallError
            raise kind(f"DingTalk refused the message: {answer.get('errmsg', '')}", call=call,
                       code=str(errcode), status=resp.status_code, attempts=attempt)
        if key:
            self.store.remember(key)
        log.info("notification sent through %s (%s)", call.service, host)
        return CallResponse(answer, attempt)


def _answer(resp: requests.Response) -> dict[str, Any]:
    try:
        data = resp.json()
    except ValueError:
        return {"status": resp.status_code, "text": resp.text[:200]}
    return data if isinstance(data, dict) else {"status": resp.status_code, "data": data}
