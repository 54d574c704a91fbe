"""Errors raised while planning or executing response actions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trailguard.errors import TrailGuardError

if TYPE_CHECKING:
    from trailguard.respond.model import ApiCall, Result


class ResponseError(TrailGuardError):
    """Root of every error raised by ``trailguard.respond``."""


class ParamsError(ResponseError):
    """An action's parameters are missing, unknown or invalid."""


class PlanError(ResponseError):
    """The current cloud state does not allow the action (e.g. the instance does not exist)."""


class NotReversibleError(ResponseError):
    """The action has no rollback; the message says what to do instead."""


class CloudCallError(ResponseError):
    """A cloud or webhook call failed.

    Carries the call that failed (``call``), the provider's error ``code`` and request id, the
    registry id of the ``action`` that made it (set by :meth:`Action.execute`) and, when raised
    from ``execute``, the ``partial`` result: the calls that had already succeeded, so an audit
    log can record exactly how far the action got. Messages never contain credentials.
    """

    def __init__(self, message: str, *, call: ApiCall, code: str = "",
                 request_id: str | None = None, status: int | None = None,
                 attempts: int = 1, action: str = "") -> None:
        super().__init__(message)
        self.call = call
        self.code = code
        self.request_id = request_id
        self.status = status
        self.attempts = attempts
        self.action = action
        self.partial: Result | None = None

    def __str__(self) -> str:
        where = f"{self.action}: " if self.action else ""
        code = f" [{self.code}]" if self.code else ""
        return f"{where}{self.call.service}:{self.call.action} failed{code}: {self.message}"


class ThrottledError(CloudCallError):
    """The provider kept throttling the call after every retry."""


class CallTimeoutError(CloudCallError):
    """The call timed out (connect or read); whether it took effect is unknown."""
