"""Backoff: doubling with a cap, jitter in [0.5, 1), attempts counted."""

from __future__ import annotations

import pytest

from trailguard.respond.errors import ThrottledError
from trailguard.respond.model import ApiCall
from trailguard.respond.retry import RetryPolicy

CALL = ApiCall("ecs", "DescribeInstances", {})


def test_delays_double_and_cap():
    policy = RetryPolicy(base_delay=1.0, max_delay=5.0, jitter=lambda: 0.999999)
    assert [round(policy.delay(n), 3) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    low = RetryPolicy(base_delay=1.0, max_delay=5.0, jitter=lambda: 0.0)
    assert [low.delay(n) for n in range(1, 4)] == [0.5, 1.0, 2.0]


def test_real_jitter_stays_in_bounds():
    policy = RetryPolicy(base_delay=2.0)
    assert all(1.0 <= policy.delay(1) < 2.0 for _ in range(200))


def test_run_retries_only_throttling():
    slept: list[float] = []
    policy = RetryPolicy(max_attempts=3, sleep=slept.append, jitter=lambda: 0.0)
    seen: list[int] = []

    def attempt(n: int) -> str:
        seen.append(n)
        if n < 3:
            raise ThrottledError("slow", call=CALL, code="Throttling")
        return "ok"

    assert policy.run(attempt) == "ok" and seen == [1, 2, 3] and slept == [0.25, 0.5]

    def always(n: int) -> str:
        raise ThrottledError("slow", call=CALL, code="Throttling")

    with pytest.raises(ThrottledError) as caught:
        policy.run(always)
    assert caught.value.attempts == 3

    def broken(n: int) -> str:
        raise ValueError("not a throttle")

    with pytest.raises(ValueError, match="not a throttle"):
        policy.run(broken)
