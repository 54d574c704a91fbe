"""Exponential backoff with jitter and a cap, for throttled calls."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from trailguard.respond.errors import ThrottledError

T = TypeVar("T")
log = logging.getLogger(__name__)

_jitter = random.Random()  # noqa: S311 - retry jitter, not cryptography


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to back off when a provider throttles.

    The delay before retry ``n`` (1-based) is ``min(max_delay, base_delay * 2**(n-1))`` scaled
    by a random factor in [0.5, 1) ("equal jitter": never zero, never in lock-step with other
    clients). ``sleep`` and ``jitter`` are injectable so tests run instantly and
    deterministically.
    """

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 20.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    jitter: Callable[[], float] = field(default=_jitter.random, compare=False)

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first retry)."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (retry - 1))
        return float(ceiling * (0.5 + self.jitter() / 2))

    def run(self, attempt: Callable[[int], T]) -> T:
        """Call ``attempt(n)`` until it does not raise :class:`ThrottledError`.

        ``n`` is the 1-based attempt number. The last :class:`ThrottledError` propagates when
        ``max_attempts`` is reached, with ``attempts`` set to the number of tries.
        """
        number = 1
        while True:
            try:
                return attempt(number)
            except ThrottledError as exc:
                exc.attempts = number
                if number >= self.max_attempts:
                    raise
                wait = self.delay(number)
                log.info("%s:%s throttled (%s); retry %d in %.2fs", exc.call.service,
                         exc.call.action, exc.code, number, wait)
                self.sleep(wait)
                number += 1
