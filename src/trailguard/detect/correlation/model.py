"""The correlation engine's data: members in, hits out, thresholds and errors."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from typing import Any, Literal

from trailguard.errors import TrailGuardError

Number = int | float | Fraction
"""A measured value. Sums and averages stay exact (`Fraction`) until they are reported."""

Operator = Literal["gt", "gte", "lt", "lte", "eq", "neq"]

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
    "eq": operator.eq,
    "neq": operator.ne,
}


class CorrelationError(TrailGuardError):
    """Base of the correlation engine's errors."""


class UnsupportedCorrelation(CorrelationError):
    """A correlation rule uses a feature this engine cannot honour; the message says which."""


class CorrelationInputError(CorrelationError):
    """Members handed to the engine are inconsistent (naive time, wrong rule reference…)."""


@dataclass(frozen=True, slots=True)
class Member:
    """One event (or one inner correlation hit) matched by a referenced rule.

    `fields` holds the values of the fields the correlation needs, keyed by the *referenced
    rule's own* field names (see `fields_needed`); an absent key reads as None.
    """

    rule: str
    uid: str
    time: datetime
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CorrelationHit:
    """One alert: a burst of activity in one group that satisfied the correlation.

    `time` is the first member's time (the start of the activity, as Sigma and Hayabusa
    report it) and `end` the last member's. `value` is the most extreme value the condition
    measured over the burst (the peak for gt/gte/eq/neq, the low for lt/lte).
    """

    time: datetime
    end: datetime
    group: Mapping[str, Any]
    value: float | int
    members: tuple[Member, ...]


@dataclass(frozen=True, slots=True)
class Bound:
    """One comparison a measured value must pass, e.g. `gte 3`."""

    op: Operator
    limit: int | float

    def holds(self, value: Number) -> bool:
        return _COMPARE[self.op](value, self.limit)


@dataclass(frozen=True, slots=True)
class Threshold:
    """A conjunction of bounds: `gte 3` alone, or a range such as `gte 3` and `lt 10`.

    pySigma 2.0.1 accepts exactly one operator per condition; TrailGuard's own rule format can
    build ranges directly. A measurement of None (nothing measurable, e.g. a sum without any
    numeric value) passes no threshold, as `NULL >= 3` is not true in SQL.
    """

    bounds: tuple[Bound, ...]

    def __post_init__(self) -> None:
        if not self.bounds:
            raise UnsupportedCorrelation("a correlation threshold needs at least one bound")

    def holds(self, value: Number | None) -> bool:
        return value is not None and all(bound.holds(value) for bound in self.bounds)

    def test(self) -> Callable[[Number], bool]:
        """`holds` for a measured (non-None) value, as a fast single call for the sweeps."""
        if len(self.bounds) == 1:
            compare, limit = _COMPARE[self.bounds[0].op], self.bounds[0].limit

            def single(value: Number) -> bool:
                return compare(value, limit)

            return single
        return self.holds

    @property
    def prefers_low(self) -> bool:
        """True when only upper bounds (lt/lte) are set: the burst reports its lowest value."""
        return all(bound.op in ("lt", "lte") for bound in self.bounds)

    @property
    def minimum_count(self) -> int:
        """The smallest whole count that can pass the lower bounds (0 when there are none)."""
        least = 0
        for bound in self.bounds:
            if bound.op == "gt":
                least = max(least, int(_floor(bound.limit)) + 1)
            elif bound.op in ("gte", "eq"):
                least = max(least, int(-_floor(-bound.limit)))
        return least

    @property
    def is_lower_bound_only(self) -> bool:
        """True when every bound is gt or gte, so more evidence can never hurt."""
        return all(bound.op in ("gt", "gte") for bound in self.bounds)


def _floor(value: int | float) -> int:
    return int(value // 1)


def reported_number(value: Number) -> int | float:
    """Integers stay integers; exact fractions become floats for the report."""
    if isinstance(value, Fraction):
        return value.numerator if value.denominator == 1 else float(value)
    return value
