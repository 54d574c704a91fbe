"""Alibaba Cloud client: RPC calls through the Tea OpenAPI SDK (darabonba, ``requests``).

Credentials come from ``alibabacloud_credentials``' default chain: the environment
(``ALIBABA_CLOUD_ACCESS_KEY_ID``/``_SECRET``/``ALIBABA_CLOUD_SECURITY_TOKEN``), OIDC role
(ACK RRSA), the CLI profile (``~/.aliyun/config.json``) or ``~/.alibabacloud/credentials``,
then the ECS instance RAM role (metadata service). Nothing here reads them.

The classic ``aliyun-python-sdk-core`` was not used: it sends through a *vendored* copy of
``requests`` 2.18 and has no profile or RAM-role chain of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

import requests
from alibabacloud_credentials.client import Client as CredentialClient
from alibabacloud_credentials.exceptions import CredentialException
from alibabacloud_tea_openapi import models as openapi_models
from alibabacloud_tea_openapi.client import Client as OpenApiClient
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException, ThrottlingException
from alibabacloud_tea_util import models as util_models
from Tea.exceptions import UnretryableException

from trailguard.respond.clients.base import CallResponse, ProviderClient
from trailguard.respond.errors import CallTimeoutError, CloudCallError, ThrottledError
from trailguard.respond.model import ApiCall
from trailguard.respond.redact import redact_text
from trailguard.respond.retry import RetryPolicy

log = logging.getLogger(__name__)
# The credentials library logs a traceback for every provider of its chain that fails (no
# metadata service off ECS …); the failure reaches the user once, as CredentialsUnavailable.
logging.getLogger("credentials").setLevel(logging.CRITICAL)  # the library's logger name

API_VERSIONS: dict[str, str] = {"ecs": "2014-05-26", "ram": "2015-05-01", "vpc": "2016-04-28"}
"""The RPC API version of each service TrailGuard calls."""


def is_throttling(code: str) -> bool:
    """Alibaba throttling codes: ``Throttling``, ``Throttling.User``, ``Throttling.Api`` …"""
    return code.startswith("Throttling")


def _wire(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class AliyunClient(ProviderClient):
    """Calls ECS, RAM and VPC in one region.

    ``endpoints`` overrides the default endpoint per service (``ecs.<region>.aliyuncs.com``,
    ``vpc.<region>.aliyuncs.com``, ``ram.aliyuncs.com``); ``credential`` replaces the default
    chain (an ``alibabacloud_credentials`` client, e.g. for an assumed role).
    """

    provider: ClassVar[str] = "aliyun"

    def __init__(self, region_id: str, *, endpoints: Mapping[str, str] | None = None,
                 credential: Any = None, retry: RetryPolicy | None = None,
                 connect_timeout_ms: int = 5_000, read_timeout_ms: int = 15_000) -> None:
        super().__init__(retry)
        self.region_id = region_id
        self._endpoints = dict(endpoints or {})
        self._credential = credential
        self._timeouts = (connect_timeout_ms, read_timeout_ms)
        self._sdk: dict[str, Any] = {}

    def endpoint(self, service: str) -> str:
        if service in self._endpoints:
            return self._endpoints[service]
        if service == "ram":
            return "ram.aliyuncs.com"
        return f"{service}.{self.region_id}.aliyuncs.com"

    def _client(self, service: str) -> Any:
        if service not in self._sdk:
            if self._credential is None:
                self._credential = CredentialClient()  # the default chain, resolved lazily
            config = openapi_models.Config(
                credential=self._credential, region_id=self.region_id,
                endpoint=self.endpoint(service), protocol="HTTPS",
                connect_timeout=self._timeouts[0], read_timeout=self._timeouts[1])
            self._sdk[service] = OpenApiClient(config)
        return self._sdk[service]

    def _send(self, call: ApiCall, attempt: int) -> CallResponse:
        version = API_VERSIONS.get(call.service)
        if version is None:
            raise CloudCallError(f"unknown Alibaba service {call.service!r}", call=call,
                                 code="UnknownService")
        params = openapi_models.Params(
            action=call.action, version=version, protocol="HTTPS", pathname="/", method="POST",
            auth_type="AK", style="RPC", req_body_type="formData", body_type="json")
        query = {k: _wire(v) for k, v in call.parameters.items() if v is not None}
        request = openapi_models.OpenApiRequest(query=query)
        log.debug("aliyun %s:%s attempt %d", call.service, call.action, attempt)
        try:
            raw = self._client(call.service).call_api(params, request,
                                                      util_models.RuntimeOptions())
        except AlibabaCloudException as exc:
            code = str(exc.code or "")
            kind = (ThrottledError if is_throttling(code) or isinstance(exc, ThrottlingException)
                    else CloudCallError)
            raise kind(redact_text(str(exc.message or code)), call=call, code=code,
                       request_id=exc.request_id, status=exc.status_code,
                       attempts=attempt) from None
        except UnretryableException as exc:
            raise _transport_error(call, exc.inner_exception, attempt) from None
        except requests.RequestException as exc:
            raise _transport_error(call, exc, attempt) from None
        except CredentialException as exc:
            raise CloudCallError(f"no usable Alibaba Cloud credentials ({exc.message})",
                                 call=call, code="CredentialsUnavailable") from None
        body = raw.get("body") if isinstance(raw, Mapping) else None
        if not isinstance(body, Mapping):
            body = {}
        request_id = body.get("RequestId")
        return CallResponse(dict(body), attempt, str(request_id) if request_id else None)


def _root_cause(exc: BaseException | None) -> BaseException | None:
    """darabonba re-raises transport errors as ``RetryError(str(e))``; the original
    (``requests.ReadTimeout`` …) survives only as the implicit ``__context__``."""
    seen = 0
    while exc is not None and seen < 5 and not isinstance(
            exc, requests.RequestException | CredentialException):
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return exc


def _transport_error(call: ApiCall, raised: BaseException | None,
                     attempt: int) -> CloudCallError:
    """A network failure, described by its type only (no URL, no payload)."""
    exc = _root_cause(raised) or raised
    name = type(exc).__name__ if exc is not None else "UnknownError"
    if isinstance(exc, CredentialException):
        return CloudCallError("no usable Alibaba Cloud credentials in the default chain",
                              call=call, code="CredentialsUnavailable", attempts=attempt)
    if isinstance(exc, requests.Timeout):
        return CallTimeoutError(f"{name}: no answer in time", call=call, code="Timeout",
                                attempts=attempt)
    return CloudCallError(f"{name}: the endpoint could not be reached", call=call,
                          code="NetworkError", attempts=attempt)
