"""The rhythm of one log stream and the silences it makes implausible (pure statistics, no I/O).

A stream's rhythm is learnt from its own hourly counts:

* a **diurnal profile** ``mu[h]``: the mean events per hour for each hour of the day (a flat
  mean when the stream spans fewer than :data:`MIN_DAYS_FOR_PROFILE` days), counts winsorised
  at the stream's 95th hourly percentile so that one burst does not make every hour look busy;
* an **over-dispersion** ``phi`` (negative binomial, ``Var = mu + phi * mu^2``), estimated by
  moments from the raw hourly counts, so that bursty streams (whose quiet hours are normal) get
  wide margins and steady streams narrow ones.

* an **empty-hour profile** ``e[h]``: for each hour of the day, the share of the stream's
  hours that held no event at all, smoothed ``(empty + 0.5) / (seen + 1)`` so that a few days
  of history never claim certainty.

A silence ``[a, b)`` (no event between two consecutive events, or between the stream's edge and
the edge of its cohort's window) is then judged by the probability of seeing *no* event in it,
under two models, keeping the larger (more forgiving) one:

* negative binomial with the diurnal profile: ``prod_j (1 + phi * mu_j)^(-1/phi)`` over the
  hours it covers (``mu_j`` scaled by the overlap), ``exp(-E)`` (Poisson) when ``phi = 0``;
* empirical: ``prod_j e[h_j]^(overlap_j)``, the chance that every hour in it is one of the
  stream's ordinary empty hours (robust to bursty streams, whose events cluster).

``E = sum mu_j`` is the number of events the stream would have written: the missing-event
estimate. A silence is a gap when ``P < P_THRESHOLD`` **and** it lasts at least
:data:`MIN_SILENCE` and :data:`GAP_FACTOR` times the stream's typical daily longest silence
(the median over its days of each day's longest gap): an empirical guard, so that silences as
long as the stream's ordinary nights or weekends are never flagged, whatever the model.
Each silence is judged against the stream's history outside it (and outside the other flagged
silences), so an outage never lowers the rate it is measured against.

Streams with fewer than :data:`MIN_EVENTS` events or a span under :data:`MIN_SPAN` are not
judged: their history says too little.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

HOUR = 3600.0
DAY = 24 * HOUR
P_THRESHOLD = 1e-4
"""A silence is flagged when the chance of it under the stream's rhythm is below this."""
MIN_SILENCE = HOUR
"""Shorter silences are never flagged."""
GAP_FACTOR = 3.0
"""… nor silences shorter than this many times the stream's typical daily longest gap."""
MIN_EVENTS = 30
MIN_SPAN = 12 * HOUR
MIN_DAYS_FOR_PROFILE = 3
WINSOR_QUANTILE = 0.95


@dataclass(frozen=True)
class Rhythm:
    """What a stream's history says about its rate."""

    events: int
    first: float  # epoch seconds
    last: float
    judged: bool
    reason: str = ""
    profile: tuple[float, ...] = ()  # 24 hourly means (or 24 copies of the flat mean)
    diurnal: bool = False
    dispersion: float = 0.0
    daily_longest_gap: float = 0.0  # median over the stream's days of each day's longest gap
    empty: tuple[float, ...] = ()  # 24 smoothed shares of empty hours

    @property
    def mean_rate(self) -> float:
        """Events per hour, averaged over the day."""
        return sum(self.profile) / len(self.profile) if self.profile else 0.0


@dataclass(frozen=True)
class Silence:
    """A stretch without events and how implausible the stream's rhythm makes it."""

    start: float
    end: float
    edge: str  # "inside" | "before-first" | "after-last"
    expected_events: float
    p_value: float  # max(p_model, p_empirical)
    p_model: float  # negative binomial (Poisson when dispersion is 0)
    p_empirical: float  # every hour one of the stream's ordinary empty hours
    minimum: float  # the shortest silence the empirical guard would accept
    flagged: bool

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class StreamJudgement:
    rhythm: Rhythm
    silences: list[Silence] = field(default_factory=list)

    @property
    def gaps(self) -> list[Silence]:
        return [s for s in self.silences if s.flagged]


def quantile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile of ``values`` (0 for none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _hour_index(t: float) -> int:
    return math.floor(t / HOUR)


def learn(hourly: dict[int, int], first: float, last: float, events: int, daily_longest_gap: float,
          masked: frozenset[int] = frozenset()) -> Rhythm:
    """The rhythm of a stream from its counts per absolute hour index (``epoch // 3600``),
    leaving out the ``masked`` hours (inside silences already judged to be gaps)."""
    span = last - first
    if events < MIN_EVENTS:
        return Rhythm(events, first, last, False, f"only {events} events (< {MIN_EVENTS})")
    if span < MIN_SPAN:
        return Rhythm(events, first, last, False,
                      f"spans {span / HOUR:.1f} h (< {MIN_SPAN / HOUR:.0f} h)")
    # Whole hours inside the stream's span; the partial first and last hours are left out.
    hours = [h for h in range(_hour_index(first) + 1, _hour_index(last))
             if h not in masked]
    if len(hours) < MIN_SPAN / HOUR / 2:
        return Rhythm(events, first, last, False, "too few hours outside the gaps")
    counts = [hourly.get(h, 0) for h in hours]
    cap = max(quantile([float(c) for c in counts], WINSOR_QUANTILE), 1.0)
    diurnal = len(hours) >= MIN_DAYS_FOR_PROFILE * 24
    flat = sum(min(float(c), cap) for c in counts) / len(counts)
    flat_empty = (sum(1 for c in counts if c == 0) + 0.5) / (len(counts) + 1)
    if diurnal:
        sums = [0.0] * 24
        zeros = [0] * 24
        seen = [0] * 24
        for h, c in zip(hours, counts, strict=True):
            sums[h % 24] += min(float(c), cap)
            zeros[h % 24] += c == 0
            seen[h % 24] += 1
        profile = tuple(sums[i] / seen[i] if seen[i] else flat for i in range(24))
        empty = tuple((zeros[i] + 0.5) / (seen[i] + 1) if seen[i] else flat_empty
                      for i in range(24))
    else:
        profile = tuple([flat] * 24)
        empty = tuple([flat_empty] * 24)
    numerator = sum((c - profile[h % 24]) ** 2 - profile[h % 24]
                    for h, c in zip(hours, counts, strict=True))
    denominator = sum(profile[h % 24] ** 2 for h in hours)
    dispersion = max(0.0, numerator / denominator) if denominator > 0 else 0.0
    return Rhythm(events, first, last, True, "", profile, diurnal, dispersion,
                  daily_longest_gap, empty)


def judge(rhythm: Rhythm, start: float, end: float, edge: str = "inside") -> Silence:
    """How implausible a silence from ``start`` to ``end`` is under ``rhythm``."""
    expected = 0.0
    log_model = 0.0
    log_empirical = 0.0
    t = start
    while t < end and rhythm.judged:
        hour = _hour_index(t)
        until = min(end, (hour + 1) * HOUR)
        share = (until - t) / HOUR
        mu = rhythm.profile[hour % 24] * share
        expected += mu
        if rhythm.dispersion > 0:
            log_model -= math.log1p(rhythm.dispersion * mu) / rhythm.dispersion
        else:
            log_model -= mu
        log_empirical += math.log(rhythm.empty[hour % 24]) * share
        t = until
    minimum = max(MIN_SILENCE, GAP_FACTOR * rhythm.daily_longest_gap)
    p_model = math.exp(log_model)
    p_empirical = math.exp(log_empirical)
    p_value = max(p_model, p_empirical)
    flagged = rhythm.judged and p_value < P_THRESHOLD and end - start >= minimum
    return Silence(start, end, edge, expected, p_value, p_model, p_empirical, minimum, flagged)


def _hours(start: float, end: float) -> frozenset[int]:
    return frozenset(range(_hour_index(start), _hour_index(end) + 1))


def analyse(hourly: dict[int, int], first: float, last: float, events: int,
            daily_longest_gap: float, silences: Sequence[tuple[float, float, str]],
            iterations: int = 2) -> StreamJudgement:
    """Judge every candidate silence against the stream's history *outside* it (and outside
    the silences already flagged), twice: the second pass learns without the first's gaps."""
    flagged: frozenset[int] = frozenset()
    judged: list[Silence] = []
    for _ in range(iterations):
        judged = []
        for start, end, edge in silences:
            rhythm = learn(hourly, first, last, events, daily_longest_gap,
                           flagged | _hours(start, end))
            judged.append(judge(rhythm, start, end, edge))
        now = frozenset(h for s in judged if s.flagged for h in _hours(s.start, s.end))
        if now == flagged:
            break
        flagged = now
    return StreamJudgement(learn(hourly, first, last, events, daily_longest_gap, flagged),
                           judged)


def from_times(times: Sequence[float], window: tuple[float, float] | None = None,
               candidate: float = MIN_SILENCE) -> StreamJudgement:
    """Judge a stream given as event times (epoch seconds): the synthetic-stream entry point
    and the reference for the SQL path, which computes the same inputs in the database."""
    ordered = sorted(times)
    if not ordered:
        return StreamJudgement(Rhythm(0, 0.0, 0.0, False, "no events"))
    hourly: dict[int, int] = {}
    for t in ordered:
        hourly[_hour_index(t)] = hourly.get(_hour_index(t), 0) + 1
    longest: dict[int, float] = {}
    for a, b in itertools.pairwise(ordered):
        day = math.floor((a - ordered[0]) / DAY)
        longest[day] = max(longest.get(day, 0.0), b - a)
    silences = [(a, b, "inside") for a, b in itertools.pairwise(ordered)
                if b - a >= candidate]
    if window is not None:
        if ordered[0] - window[0] >= candidate:
            silences.insert(0, (window[0], ordered[0], "before-first"))
        if window[1] - ordered[-1] >= candidate:
            silences.append((ordered[-1], window[1], "after-last"))
    return analyse(hourly, ordered[0], ordered[-1], len(ordered),
                   quantile(list(longest.values()), 0.5), silences)
