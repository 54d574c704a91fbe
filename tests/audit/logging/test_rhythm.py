"""The gap statistic on small synthetic streams."""

from __future__ import annotations

import random

from trailguard.audit.logging.rhythm import HOUR, P_THRESHOLD, from_times

DAY = 24 * HOUR


def steady(rate_per_hour: float, days: int, seed: int,
           silence: tuple[float, float] | None = None) -> list[float]:
    rng = random.Random(seed)  # noqa: S311 - reproducible synthetic streams
    t, times = 0.0, list[float]()
    while t < days * DAY:
        t += rng.expovariate(rate_per_hour / HOUR)
        if silence is None or not silence[0] <= t < silence[1]:
            times.append(t)
    return times


def test_a_steady_stream_with_one_silence_flags_exactly_it() -> None:
    silence = (2 * DAY + 10 * HOUR, 2 * DAY + 16 * HOUR)
    judgement = from_times(steady(20, 5, 3, silence))
    assert judgement.rhythm.judged
    [gap] = judgement.gaps
    assert abs(gap.start - silence[0]) < 0.25 * HOUR
    assert abs(gap.end - silence[1]) < 0.25 * HOUR
    assert gap.p_value < P_THRESHOLD
    assert 100 < gap.expected_events < 140  # 6 h x 20/h


def test_a_steady_stream_without_silence_flags_nothing() -> None:
    for seed in range(5):
        assert from_times(steady(20, 5, seed)).gaps == []


def test_a_bursty_stream_whose_nights_are_long_is_not_flagged() -> None:
    rng = random.Random(7)  # noqa: S311
    times: list[float] = []
    for day in range(7):
        for _ in range(rng.randint(2, 6)):  # a few bursts during office hours
            centre = day * DAY + rng.uniform(9, 18) * HOUR
            times.extend(centre + rng.uniform(0, 600) for _ in range(rng.randint(5, 60)))
    judgement = from_times(times)
    assert judgement.rhythm.judged
    assert judgement.rhythm.dispersion > 1  # over-dispersed: bursts
    assert any(s.duration > 15 * HOUR for s in judgement.silences)  # long quiet nights …
    assert judgement.gaps == []  # … all plausible


def test_a_stream_too_short_to_judge_flags_nothing() -> None:
    few = from_times([0.0, 60.0, 7 * HOUR, 9 * HOUR])
    assert not few.rhythm.judged
    assert "events" in few.rhythm.reason
    assert few.gaps == []
    short = from_times([i * 60.0 for i in range(100)] + [5 * HOUR + i * 60.0 for i in range(50)])
    assert not short.rhythm.judged
    assert "spans" in short.rhythm.reason


def test_a_stream_that_stops_before_its_cohort_is_flagged_at_its_end() -> None:
    times = steady(10, 4, 11)
    judgement = from_times([t for t in times if t < 3 * DAY], window=(0.0, 4 * DAY))
    [gap] = judgement.gaps
    assert gap.edge == "after-last"
    assert abs(gap.end - 4 * DAY) < 1
