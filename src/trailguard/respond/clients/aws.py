"""AWS client: boto3 with the standard credential chain.

The chain is boto3's own: environment (``AWS_ACCESS_KEY_ID`` …), shared config and
credentials files / profiles / SSO, web identity, container and instance roles. Botocore's
own retries are switched off (``total_max_attempts=1``) so throttling is retried once, here,
with TrailGuard's injectable backoff.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any, ClassVar

import boto3
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    NoCredentialsError,
    ReadTimeoutError,
)

from trailguard.respond.clients.base import CallResponse, ProviderClient
from trailguard.respond.errors import CallTimeoutError, CloudCallError, ThrottledError
from trailguard.respond.model import ApiCall
from trailguard.respond.redact import install_log_filter, redact_text
from trailguard.respond.retry import RetryPolicy

log = logging.getLogger(__name__)

THROTTLING_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottled",
    "RequestThrottledException", "RequestLimitExceeded", "TooManyRequestsException",
    "SlowDown", "EC2ThrottledException",
})


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return value


class AwsClient(ProviderClient):
    """Calls EC2 and IAM. ``session`` (a ``boto3.Session``) overrides the default session
    built from ``profile_name`` and ``region_name``."""

    provider: ClassVar[str] = "aws"

    def __init__(self, region_name: str | None = None, *, profile_name: str | None = None,
                 session: Any = None, retry: RetryPolicy | None = None,
                 connect_timeout: float = 5.0, read_timeout: float = 15.0) -> None:
        super().__init__(retry)
        install_log_filter()  # botocore's DEBUG logs would show the session token
        self._session = session or boto3.session.Session(profile_name=profile_name,
                                                          region_name=region_name)
        self.region_name: str | None = region_name or self._session.region_name
        self._config = Config(retries={"total_max_attempts": 1, "mode": "standard"},
                              connect_timeout=connect_timeout, read_timeout=read_timeout,
                              user_agent_extra="trailguard-respond")
        self._clients: dict[str, Any] = {}

    def sdk_client(self, service: str) -> Any:
        """The boto3 client for ``service`` (created once)."""
        if service not in self._clients:
            self._clients[service] = self._session.client(
                service, region_name=self.region_name, config=self._config)
        return self._clients[service]

    def _send(self, call: ApiCall, attempt: int) -> CallResponse:
        client = self.sdk_client(call.service)
        method = getattr(client, xform_name(call.action), None)
        if method is None:
            raise CloudCallError(f"{call.service} has no operation {call.action}", call=call,
                                 code="UnknownOperation")
        log.debug("aws %s:%s attempt %d", call.service, call.action, attempt)
        try:
            raw = method(**call.parameters)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            meta = exc.response.get("ResponseMetadata", {})
            code = str(error.get("Code", ""))
            kind = ThrottledError if code in THROTTLING_CODES else CloudCallError
            raise kind(redact_text(str(error.get("Message", code))), call=call, code=code,
                       request_id=meta.get("RequestId"), status=meta.get("HTTPStatusCode"),
                       attempts=attempt) from None
        except (ReadTimeoutError, ConnectTimeoutError) as exc:
            raise CallTimeoutError(f"{type(exc).__name__}: no answer in time", call=call,
                                   code="Timeout", attempts=attempt) from None
        except NoCredentialsError:
            raise CloudCallError("no usable AWS credentials", call=call,
                                 code="NoCredentials") from None
        except BotoCoreError as exc:
            raise CloudCallError(f"{type(exc).__name__}", call=call, code="ClientError",
                                 attempts=attempt) from None
        body = _jsonable(raw)
        meta = body.pop("ResponseMetadata", {}) if isinstance(body, dict) else {}
        return CallResponse(body if isinstance(body, dict) else {}, attempt,
                            meta.get("RequestId"))
