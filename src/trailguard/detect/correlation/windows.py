"""Sliding windows over one group's time-sorted members, and merging them into bursts.

A window is identified by its last instant `end`; it covers `[end - span, end]`, both ends
included (SQL `RANGE BETWEEN span PRECEDING AND CURRENT ROW`). One sweep with two pointers
visits every window that ends at a member's time: each member enters and leaves the running
aggregate once, so a sweep is O(n) after the sort.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Protocol

from trailguard.detect.correlation.model import Member, Number


class Series:
    """One group's members sorted by time, as parallel columns (no object per member, which
    keeps 100k members cheap for the garbage collector), with per-rule indexes.

    `slots[i]` is the index of member i's rule reference in the correlation and `values[i]`
    the (comparable) value the correlation measures for it.
    """

    __slots__ = ("members", "slot_positions", "slot_times", "slots", "times", "values")

    def __init__(self) -> None:
        self.times: list[int] = []
        self.slots: list[int] = []
        self.members: list[Member] = []
        self.values: list[Any] = []
        self.slot_times: dict[int, list[int]] = {}
        self.slot_positions: dict[int, list[int]] = {}

    def append(self, moment: int, slot: int, member: Member, value: Any) -> None:
        self.times.append(moment)
        self.slots.append(slot)
        self.members.append(member)
        self.values.append(value)

    def seal(self) -> Series:
        """Sort by time (order within one instant does not matter: a window takes or leaves a
        whole instant) and index positions by rule. Call once, after the last `append`."""
        order = sorted(range(len(self.times)), key=self.times.__getitem__)
        self.times = [self.times[i] for i in order]
        self.slots = [self.slots[i] for i in order]
        self.members = [self.members[i] for i in order]
        self.values = [self.values[i] for i in order]
        for position, slot in enumerate(self.slots):
            self.slot_times.setdefault(slot, []).append(self.times[position])
            self.slot_positions.setdefault(slot, []).append(position)
        return self

    def first_at_or_after(self, moment: int) -> int:
        return bisect.bisect_left(self.times, moment)

    def first_after(self, moment: int) -> int:
        return bisect.bisect_right(self.times, moment)

    def has_slot_between(self, slot: int, start: int, end: int) -> bool:
        times = self.slot_times.get(slot, [])
        index = bisect.bisect_left(times, start)
        return index < len(times) and times[index] <= end

    def slot_positions_at(self, slot: int, moment: int) -> list[int]:
        """Positions of the members of `slot` at exactly `moment`."""
        times = self.slot_times.get(slot, [])
        lo = bisect.bisect_left(times, moment)
        hi = bisect.bisect_right(times, moment)
        return self.slot_positions[slot][lo:hi] if lo < hi else []

    def first_slot_time(self, slot: int, start: int, end: int, *, after: int | None) -> int | None:
        """The earliest time of `slot` in `[start, end]`, strictly later than `after`."""
        times = self.slot_times.get(slot, [])
        if after is None:
            index = bisect.bisect_left(times, start)
        else:
            index = bisect.bisect_right(times, max(after, start - 1))
        if index < len(times) and times[index] <= end:
            return times[index]
        return None


class Aggregate(Protocol):
    """A running measurement over the items (rule slots or values) inside the window."""

    of_slots: bool

    def add(self, item: Any) -> None: ...

    def remove(self, item: Any) -> None: ...

    def measure(self) -> Number | None: ...


class CountAggregate:
    """event_count: how many (distinct) events are in the window."""

    of_slots = False

    def __init__(self) -> None:
        self.count = 0

    def add(self, item: Any) -> None:
        self.count += 1

    def remove(self, item: Any) -> None:
        self.count -= 1

    def measure(self) -> Number:
        return self.count


class DistinctAggregate:
    """value_count (distinct non-None values) and temporal (distinct rules, `of_slots`)."""

    def __init__(self, *, of_slots: bool = False) -> None:
        self.of_slots = of_slots
        self.counts: dict[Any, int] = {}

    def add(self, item: Any) -> None:
        if item is not None:
            self.counts[item] = self.counts.get(item, 0) + 1

    def remove(self, item: Any) -> None:
        if item is None:
            return
        self.counts[item] -= 1
        if not self.counts[item]:
            del self.counts[item]

    def measure(self) -> Number:
        return len(self.counts)


class SumAggregate:
    """value_sum and value_avg over the numeric values (None values are skipped, as SQL does).

    Sums are exact (ints and Fractions), so adding and removing never drifts."""

    of_slots = False

    def __init__(self, *, average: bool = False) -> None:
        self.average = average
        self.total: int | Fraction = 0
        self.count = 0

    def add(self, item: Any) -> None:
        if item is not None:
            self.total += item
            self.count += 1

    def remove(self, item: Any) -> None:
        if item is not None:
            self.total -= item
            self.count -= 1

    def measure(self) -> Number | None:
        if not self.count:
            return None
        return Fraction(self.total, self.count) if self.average else self.total


class PercentileAggregate:
    """value_percentile / value_median: linear interpolation between closest ranks, the
    position being (n - 1) * p / 100 (numpy's default "linear" method; the sqlite backend's)."""

    of_slots = False

    def __init__(self, percentile: int) -> None:
        self.fraction = Fraction(percentile, 100)
        self.ordered: list[int | Fraction] = []

    def add(self, item: Any) -> None:
        if item is not None:
            bisect.insort(self.ordered, item)

    def remove(self, item: Any) -> None:
        if item is not None:
            del self.ordered[bisect.bisect_left(self.ordered, item)]

    def measure(self) -> Number | None:
        if not self.ordered:
            return None
        position = (len(self.ordered) - 1) * self.fraction
        below = int(position)
        weight = position - below
        low = self.ordered[below]
        if weight == 0:
            return low
        return low + (self.ordered[below + 1] - low) * weight


@dataclass(slots=True)
class Window:
    """A qualifying window of one group and the evidence it contributes.

    Evidence is either the members at positions `[lo, hi)` of the series (optionally only
    those of the rules in `slots`) or an explicit `chain` of members (ordered correlations).
    """

    start: int
    end: int
    metric: Number
    lo: int = 0
    hi: int = 0
    slots: frozenset[int] | None = None
    chain: tuple[Member, ...] = ()


def sweep(
    series: Series,
    span: int,
    aggregate: Aggregate,
    qualifies: Callable[[Number], bool],
    *,
    evidence_slots: frozenset[int] | None = None,
    coalesce: bool = True,
    low: bool = False,
) -> Iterator[Window]:
    """The windows ending at a member's time whose measurement qualifies, in time order.

    With `coalesce`, overlapping qualifying windows come out as one window spanning them all
    (their evidence ranges are contiguous) whose metric is the highest, or with `low` the
    lowest; that is all a burst needs, and it saves an object per window.
    """
    if coalesce and isinstance(aggregate, CountAggregate):
        yield from _count_sweep(series, span, qualifies, low)
        return
    if coalesce and isinstance(aggregate, DistinctAggregate) and evidence_slots is None:
        yield from _distinct_sweep(series, span, aggregate.of_slots, qualifies, low)
        return
    items = series.slots if aggregate.of_slots else series.values
    times = series.times
    add, remove = aggregate.add, aggregate.remove
    run: Window | None = None
    lo = 0
    i = 0
    total = len(times)
    while i < total:
        end = times[i]
        j = i
        while j < total and times[j] == end:
            add(items[j])
            j += 1
        i = j
        start = end - span
        while times[lo] < start:
            remove(items[lo])
            lo += 1
        metric = aggregate.measure()
        if metric is None or not qualifies(metric):
            continue
        if coalesce and _extend(run, start, end, metric, j, low):
            continue
        if run is not None:
            yield run
        run = Window(start, end, metric, lo, j, evidence_slots)
    if run is not None:
        yield run


def _extend(run: Window | None, start: int, end: int, metric: Number, hi: int, low: bool
            ) -> bool:
    """Stretch `run` over an overlapping qualifying window; False if they do not overlap."""
    if run is None or start > run.end:
        return False
    run.end, run.hi = end, hi
    if (metric < run.metric) if low else (metric > run.metric):
        run.metric = metric
    return True


def _count_sweep(series: Series, span: int, qualifies: Callable[[Number], bool], low: bool
                 ) -> Iterator[Window]:
    """`sweep` for event_count, where the measurement is the number of members in the window."""
    times = series.times
    run: Window | None = None
    lo = 0
    i = 0
    total = len(times)
    while i < total:
        end = times[i]
        j = bisect.bisect_right(times, end, i)
        start = end - span
        while times[lo] < start:
            lo += 1
        if qualifies(j - lo) and not _extend(run, start, end, j - lo, j, low):
            if run is not None:
                yield run
            run = Window(start, end, j - lo, lo, j, None)
        i = j
    if run is not None:
        yield run


def _distinct_sweep(series: Series, span: int, of_slots: bool,
                    qualifies: Callable[[Number], bool], low: bool) -> Iterator[Window]:
    """`sweep` for value_count and temporal, with the distinct counting inlined."""
    items = series.slots if of_slots else series.values
    times = series.times
    counts: dict[Any, int] = {}
    run: Window | None = None
    lo = 0
    i = 0
    total = len(times)
    while i < total:
        end = times[i]
        j = bisect.bisect_right(times, end, i)
        for item in items[i:j]:
            if item is not None:
                counts[item] = counts.get(item, 0) + 1
        start = end - span
        while times[lo] < start:
            item = items[lo]
            if item is not None:
                left = counts[item] - 1
                if left:
                    counts[item] = left
                else:
                    del counts[item]
            lo += 1
        metric = len(counts)
        if qualifies(metric) and not _extend(run, start, end, metric, j, low):
            if run is not None:
                yield run
            run = Window(start, end, metric, lo, j, None)
        i = j
    if run is not None:
        yield run


def bursts(windows: Iterable[Window]) -> Iterator[list[Window]]:
    """Group windows (sorted by start) into maximal runs of windows that overlap in time."""
    run: list[Window] = []
    run_end = 0
    for window in windows:
        if run and window.start <= run_end:
            run.append(window)
            run_end = max(run_end, window.end)
            continue
        if run:
            yield run
        run = [window]
        run_end = window.end
    if run:
        yield run


def burst_members(series: Series, run: Sequence[Window]) -> list[Member]:
    """Every member that is evidence in at least one window of the run, in time order (then
    rule and uid, so the order never depends on the input's order)."""
    ranges: dict[frozenset[int] | None, list[tuple[int, int]]] = {}
    chosen: list[Member] = []
    for window in run:
        if window.chain:
            chosen.extend(window.chain)
        elif window.hi > window.lo:
            ranges.setdefault(window.slots, []).append((window.lo, window.hi))
    members, slots_of = series.members, series.slots
    for slots, spans in ranges.items():
        for lo, hi in _merged(spans):
            if slots is None:
                chosen.extend(members[lo:hi])
            else:
                chosen.extend(members[p] for p in range(lo, hi) if slots_of[p] in slots)
    chosen.sort(key=_member_order)
    unique: list[Member] = []
    previous: tuple[Any, str, str] | None = None
    for item in chosen:
        order = _member_order(item)
        if order != previous:  # one member may be evidence through several windows or rules
            unique.append(item)
            previous = order
    return unique


def _merged(spans: list[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    spans.sort()
    current_lo, current_hi = spans[0]
    for lo, hi in spans[1:]:
        if lo <= current_hi:
            current_hi = max(current_hi, hi)
        else:
            yield current_lo, current_hi
            current_lo, current_hi = lo, hi
    yield current_lo, current_hi


def _member_order(member: Member) -> tuple[Any, str, str]:
    return (member.time, member.rule, member.uid)
