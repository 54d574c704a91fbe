"""Temporal building blocks: extended conditions as clauses, presence, absence and order."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import product

from sigma.correlations import (
    CorrelationConditionAND,
    CorrelationConditionItem,
    CorrelationConditionNOT,
    CorrelationConditionOR,
    SigmaRuleReference,
)

from trailguard.detect.correlation.model import Member, Threshold, UnsupportedCorrelation
from trailguard.detect.correlation.windows import DistinctAggregate, Series, Window, sweep

Node = CorrelationConditionItem | SigmaRuleReference


@dataclass(frozen=True, slots=True)
class Clause:
    """One conjunction of an extended condition in disjunctive normal form: the rules
    (by slot) that must fire in the window and the rules that must not."""

    present: frozenset[int]
    absent: frozenset[int]


def clauses_of(node: Node, slots: Mapping[str, int]) -> list[Clause]:
    """`a and not (b or c)` → [Clause({a}, {b, c})]; contradictions (`a and not a`) vanish."""
    found: list[Clause] = []
    for present, absent in _dnf(node, slots, negated=False):
        clause = Clause(frozenset(present), frozenset(absent))
        if not clause.present & clause.absent and clause not in found:
            found.append(clause)
    return found


def _dnf(node: Node, slots: Mapping[str, int], *, negated: bool) -> list[tuple[set[int], set[int]]]:
    if isinstance(node, SigmaRuleReference):
        if node.reference not in slots:
            raise UnsupportedCorrelation(f"condition names unknown rule {node.reference!r}")
        slot = slots[node.reference]
        return [(set(), {slot})] if negated else [({slot}, set())]
    if isinstance(node, CorrelationConditionNOT):
        return _dnf(_operand(node.args[0]), slots, negated=not negated)
    if not isinstance(node, CorrelationConditionAND | CorrelationConditionOR):
        raise UnsupportedCorrelation(f"unknown condition element {type(node).__name__}")
    children = [_dnf(_operand(arg), slots, negated=negated) for arg in node.args]
    conjunction = isinstance(node, CorrelationConditionAND) != negated
    if not conjunction:
        return [term for child in children for term in child]
    return [
        (set().union(*(t[0] for t in terms)), set().union(*(t[1] for t in terms)))
        for terms in product(*children)
    ]


def _operand(arg: object) -> Node:
    if isinstance(arg, CorrelationConditionItem | SigmaRuleReference):
        return arg
    raise UnsupportedCorrelation(f"unknown condition operand {arg!r}")


def ordered_chain(
    series: Series, slots: Sequence[int], start: int, end: int, *, skip_absent: bool
) -> list[Member] | None:
    """Members of `slots` occurring in this order, strictly later each time, within
    `[start, end]`, taking the earliest candidate at every step (the sqlite backend's MIN(ts)).
    With `skip_absent`, rules missing from the window are skipped; the present ones must still
    be in order. None when no such chain exists."""
    previous: int | None = None
    chain: list[Member] = []
    for slot in slots:
        if skip_absent and not series.has_slot_between(slot, start, end):
            continue
        moment = series.first_slot_time(slot, start, end, after=previous)
        if moment is None:
            return None
        chain.extend(series.members[p] for p in series.slot_positions_at(slot, moment))
        previous = moment
    return chain


def distinct_rules_between(series: Series, start: int, end: int) -> int:
    return sum(series.has_slot_between(slot, start, end) for slot in series.slot_times)


def present_in_order_windows(
    series: Series, span: int, slots: Sequence[int], threshold: Threshold
) -> Iterator[Window]:
    """temporal_ordered with an upper bound (lt/lte/eq/neq): a window qualifies when its count
    of distinct rules passes the threshold and the rules present occur in the listed order."""
    counter = DistinctAggregate(of_slots=True)
    for window in sweep(series, span, counter, threshold.test(), coalesce=False):
        chain = ordered_chain(series, slots, window.start, window.end, skip_absent=True)
        if chain:
            yield Window(window.start, window.end, window.metric, chain=tuple(chain))


def present_rules_windows(series: Series, span: int, clause: Clause) -> Iterator[Window]:
    """Backward windows (ending at each member) in which every rule of `clause.present` fires;
    evidence is those rules' members in the window."""
    counter = DistinctAggregate(of_slots=True)

    def all_present(_: object) -> bool:
        return clause.present <= counter.counts.keys()

    yield from sweep(series, span, counter, all_present, evidence_slots=clause.present)


def absence_windows(
    series: Series,
    span: int,
    clause: Clause,
    *,
    order: Sequence[int] | None,
    horizon: int,
) -> Iterator[Window]:
    """Forward windows `[t, t + span]` from each member `t` of a present rule in which the
    present rules fire (in `order`, if given) and no absent rule does. A window still open at
    `horizon` (the end of observation) cannot prove absence yet and is not reported."""
    anchors = sorted({moment for slot in clause.present
                      for moment in series.slot_times.get(slot, [])})
    for start in anchors:
        end = start + span
        if end > horizon:
            break
        if any(series.has_slot_between(slot, start, end) for slot in clause.absent):
            continue
        metric = distinct_rules_between(series, start, end)
        if order is not None:
            chain = ordered_chain(series, order, start, end, skip_absent=False)
            if chain is not None:
                yield Window(start, end, metric, chain=tuple(chain))
        elif all(series.has_slot_between(slot, start, end) for slot in clause.present):
            lo, hi = series.first_at_or_after(start), series.first_after(end)
            yield Window(start, end, metric, lo, hi, clause.present)
