"""The thin provider client every action talks through."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from trailguard.respond.model import ApiCall
from trailguard.respond.retry import RetryPolicy


@dataclass(frozen=True)
class CallResponse:
    """A provider's answer: the JSON body, how many attempts it took, the request id."""

    body: Mapping[str, Any] = field(default_factory=dict)
    attempts: int = 1
    request_id: str | None = None


class ProviderClient(ABC):
    """Sends :class:`ApiCall` objects to one provider.

    Implementations build the SDK's clients from the SDK's standard credential chain and never
    keep, log or return credentials; they map provider errors to :class:`CloudCallError`
    subclasses (throttling to :class:`ThrottledError`, which ``retry`` retries with backoff;
    timeouts to :class:`CallTimeoutError`).
    """

    provider: ClassVar[str]

    def __init__(self, retry: RetryPolicy | None = None) -> None:
        self.retry = retry or RetryPolicy()

    def call(self, call: ApiCall) -> CallResponse:
        """Make ``call``, retrying throttled attempts."""
        return self.retry.run(lambda attempt: self._send(call, attempt))

    @abstractmethod
    def _send(self, call: ApiCall, attempt: int) -> CallResponse:
        """One attempt at ``call``."""
