"""Evaluate one correlation rule over its referenced rules' matches (see the package docs)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from itertools import combinations
from typing import Any, Literal

from sigma.correlations import SigmaCorrelationRule

from trailguard.detect.correlation.model import (
    CorrelationHit,
    CorrelationInputError,
    Member,
    Threshold,
    UnsupportedCorrelation,
    reported_number,
)
from trailguard.detect.correlation.rule import (
    MAX_ORDERED_SUBSETS,
    NUMERIC,
    Plan,
    plan_of,
    references_of,
    resolved_rule,
)
from trailguard.detect.correlation.sequence import Sequence, Stage
from trailguard.detect.correlation.temporal import (
    absence_windows,
    present_in_order_windows,
    present_rules_windows,
)
from trailguard.detect.correlation.values import group_key, micros, numeric
from trailguard.detect.correlation.windows import (
    Aggregate,
    CountAggregate,
    DistinctAggregate,
    PercentileAggregate,
    Series,
    SumAggregate,
    Window,
    burst_members,
    bursts,
    sweep,
)

GroupKey = tuple[Any, ...]
_ABSENT = object()


def fields_needed(correlation: SigmaCorrelationRule) -> dict[str, list[str]]:
    """Per referenced rule reference: the event fields to fetch (group-by fields after alias
    resolution, then the condition's value field(s)), so the engine can query them."""
    plan = plan_of(correlation)
    return {
        reference: list(dict.fromkeys(plan.group_fields[reference] + plan.value_fields[reference]))
        for reference in plan.references
    }


def evaluate(
    correlation: SigmaCorrelationRule,
    members: Mapping[str, Iterable[Member]],
    *,
    observation_end: datetime | None = None,
    drop_missing_groups: bool = False,
    threshold: Threshold | None = None,
) -> list[CorrelationHit]:
    """Hits of `correlation`, one per burst per group, ordered by time.

    members: for each referenced rule reference, its matches (any order); each member's
    `rule` must be that reference. observation_end: until when the case has events (absence
    windows that would end later are not reported); default: the latest member. With
    drop_missing_groups, members lacking a group-by value are ignored (pySigma-backend-sqlite's
    behaviour) instead of grouping under None. threshold: replaces the rule's condition, for
    what pySigma cannot express (a range such as gte 3 and lt 10).
    """
    plan = plan_of(correlation, threshold)
    given = {reference: _checked(reference, members.get(reference, ())) for reference in
             plan.references}
    horizon = _horizon(plan, given, observation_end)
    groups = _groups(plan, given, drop_missing_groups) if _sweeps_groups(plan) else {}
    windows: dict[GroupKey, list[Window]] = {key: [] for key in groups}
    for key, series in groups.items():
        windows[key].extend(_series_windows(plan, series, horizon))
    for key, window in _sequence_windows(plan, given, drop_missing_groups):
        windows.setdefault(key, []).append(window)
    ordered: list[tuple[datetime, datetime, str, CorrelationHit]] = []
    for key, found in windows.items():
        tiebreak = repr(key)  # a total order on groups that does not depend on input order
        ordered.extend((hit.time, hit.end, tiebreak, hit)
                       for hit in _hits(plan, groups.get(key), found))
    ordered.sort(key=_without_hit)
    return [hit for *_, hit in ordered]


def hits_as_members(
    reference: str,
    hits: Iterable[CorrelationHit],
    *,
    metric_field: str | None = None,
    at: Literal["end", "start"] = "end",
) -> list[Member]:
    """An inner correlation's hits as members of an outer correlation that references it.

    Each hit becomes one member. Its `time` is the hit's `end` by default: an inner hit occurs
    when its burst was last confirmed, as the sqlite backend's child alerts occur at their
    window's end. (With the start, a burst of slow brute force lasting two hours would sit two
    hours before the success that follows it, outside a 10-minute outer window.) `at="start"`
    uses `hit.time` instead. `fields` are the hit's group values under their group-by names,
    plus the measured value under `metric_field` (e.g. "event_count") when given; `uid` is
    "corr:" and a hash of the reference and the hit's member rules and uids, stable across
    runs. Other event fields are not carried over: an outer correlation can group only by the
    inner one's group-by names.
    """
    converted = []
    for hit in hits:
        fields = dict(hit.group)
        if metric_field is not None:
            fields[metric_field] = hit.value
        moment = hit.end if at == "end" else hit.time
        converted.append(Member(reference, _hit_uid(reference, hit), moment, fields))
    return converted


def evaluate_chain(
    correlation: SigmaCorrelationRule,
    members: Mapping[str, Iterable[Member]],
    *,
    observation_end: datetime | None = None,
    drop_missing_groups: bool = False,
) -> list[CorrelationHit]:
    """`evaluate` for a correlation whose references may be correlations themselves
    (references resolved by a SigmaCollection). `members` holds the base rules' matches by
    reference; inner correlations are evaluated first and fed in via `hits_as_members`."""
    return _evaluate_tree(correlation, members, observation_end, drop_missing_groups, ())


def _evaluate_tree(
    correlation: SigmaCorrelationRule,
    members: Mapping[str, Iterable[Member]],
    observation_end: datetime | None,
    drop_missing_groups: bool,
    active: tuple[int, ...],
) -> list[CorrelationHit]:
    if id(correlation) in active:
        raise UnsupportedCorrelation(f"correlation {correlation.title!r} references itself")
    feed: dict[str, Iterable[Member]] = {}
    needed = fields_needed(correlation)
    for reference in references_of(correlation):
        inner = resolved_rule(correlation, reference)
        if not isinstance(inner, SigmaCorrelationRule):
            feed[reference] = members.get(reference, ())
            continue
        metric = inner.type.name.lower()
        _check_chain(correlation, reference, inner, needed[reference], metric)
        inner_hits = _evaluate_tree(inner, members, observation_end, drop_missing_groups,
                                    (*active, id(correlation)))
        feed[reference] = hits_as_members(reference, inner_hits, metric_field=metric)
    return evaluate(correlation, feed, observation_end=observation_end,
                    drop_missing_groups=drop_missing_groups)


def _check_chain(outer: SigmaCorrelationRule, reference: str, inner: SigmaCorrelationRule,
                 needed: list[str], metric: str) -> None:
    available = {*(inner.group_by or ()), metric}
    missing = [name for name in needed if name not in available]
    if missing:
        raise UnsupportedCorrelation(
            f"correlation {outer.title!r} needs {', '.join(missing)} from correlation "
            f"{inner.title!r}, whose hits carry only its group-by values "
            f"({', '.join(sorted(available))})"
        )


def _checked(reference: str, members: Iterable[Member]) -> list[Member]:
    listed = list(members)
    for member in listed:
        if member.rule != reference:
            raise CorrelationInputError(
                f"member {member.uid!r} of rule {member.rule!r} was passed as {reference!r}"
            )
    return listed


def _horizon(plan: Plan, given: Mapping[str, list[Member]], observation_end: datetime | None
             ) -> int:
    """The end of observation in microseconds; only absence windows need it."""
    if observation_end is not None:
        return micros(observation_end)
    if not any(clause.absent for clause in plan.clauses or ()):
        return 0
    latest = [max(listed, key=_member_time).time for listed in given.values() if listed]
    return micros(max(latest)) if latest else 0


def _member_time(member: Member) -> datetime:
    return member.time


def _groups(plan: Plan, given: Mapping[str, list[Member]], drop_missing: bool
            ) -> dict[GroupKey, Series]:
    """Members placed in their groups, deduplicated the way SQL DISTINCT does it: an event
    counts once for event_count, once per value for value types, once per rule for temporal."""
    groups: dict[GroupKey, Series] = {}
    seen: dict[GroupKey, dict[str, Any]] = {}
    for slot, reference in enumerate(plan.references):
        group_fields, value_fields = plan.group_fields[reference], plan.value_fields[reference]
        for member in given[reference]:
            key = group_key(member.fields, group_fields)
            if drop_missing and None in key:
                continue
            value = _value(plan, member.fields, value_fields) if value_fields else None
            series = groups.get(key)
            if series is None:
                series = groups[key] = Series()
                seen[key] = {}
            if _seen_before(seen[key], member.uid, _distinction(plan, slot, value)):
                continue
            series.append(micros(member.time), slot, member, value)
    return {key: series.seal() for key, series in groups.items()}


class _Several(set[Any]):
    """More than one distinction seen for one uid (rare: aliases or repeated members)."""


def _seen_before(seen: dict[str, Any], uid: str, distinction: Any) -> bool:
    """Record (uid, distinction); True if it was already there. Allocation-free when uids are
    unique, which keeps the garbage collector quiet on 100k members."""
    previous = seen.get(uid, _ABSENT)
    if previous is _ABSENT:
        seen[uid] = distinction
        return False
    if isinstance(previous, _Several):
        if distinction in previous:
            return True
        previous.add(distinction)
        return False
    if previous == distinction:
        return True
    seen[uid] = _Several((previous, distinction))
    return False


def _distinction(plan: Plan, slot: int, value: Any) -> Any:
    """What, besides its uid, makes a member distinct within its group."""
    if plan.kind == "event_count":
        return None
    if plan.kind.startswith("temporal"):
        return slot
    return value


def _sweeps_groups(plan: Plan) -> bool:
    """False when sequences alone evaluate the correlation (no window sweep is needed)."""
    if plan.kind != "temporal_ordered":
        return True
    if plan.clauses is not None:
        return any(clause.absent for clause in plan.clauses)
    return not _ordered_subsets(plan)


def _value(plan: Plan, fields: Mapping[str, Any], value_fields: tuple[str, ...]) -> Any:
    if plan.kind in NUMERIC:
        return numeric(fields.get(value_fields[0]))
    values = group_key(fields, value_fields)
    if None in values:
        return None
    return values[0] if len(values) == 1 else values


def _aggregate(plan: Plan) -> Aggregate:
    if plan.kind == "event_count":
        return CountAggregate()
    if plan.kind == "value_count":
        return DistinctAggregate()
    if plan.kind in ("value_sum", "value_avg"):
        return SumAggregate(average=plan.kind == "value_avg")
    if plan.kind in ("value_median", "value_percentile") and plan.percentile is not None:
        return PercentileAggregate(plan.percentile)
    return DistinctAggregate(of_slots=True)


def _series_windows(plan: Plan, series: Series, horizon: int) -> Iterator[Window]:
    """Windows found by sweeping one group; ordered sequences come from `_sequence_windows`."""
    if plan.clauses is not None:
        ordered = plan.kind == "temporal_ordered"
        for clause in plan.clauses:
            if clause.absent:
                order = sorted(clause.present) if ordered else None
                yield from absence_windows(series, plan.span, clause, order=order,
                                           horizon=horizon)
            elif not ordered:
                yield from present_rules_windows(series, plan.span, clause)
        return
    threshold = _threshold(plan)
    low = threshold.prefers_low
    if plan.kind != "temporal_ordered":
        yield from sweep(series, plan.span, _aggregate(plan), threshold.test(), low=low)
    elif not threshold.is_lower_bound_only:
        slots = range(len(plan.references))
        yield from present_in_order_windows(series, plan.span, slots, threshold)
    elif threshold.minimum_count <= 0:
        yield from sweep(series, plan.span, _aggregate(plan), threshold.test(), low=low)


def _sequence_windows(plan: Plan, given: Mapping[str, list[Member]], drop_missing: bool
                      ) -> Iterator[tuple[GroupKey, Window]]:
    """temporal_ordered as EQL sequences: one per ordered subset of rules that must fire."""
    for slots in _ordered_subsets(plan):
        stages = tuple(Stage(plan.references[s], plan.group_fields[plan.references[s]])
                       for s in slots)
        sequence = Sequence(stages, maxspan=timedelta(microseconds=plan.span))
        for match in sequence.run(given):
            if drop_missing and None in match.key:
                continue
            end = micros(match.members[-1].time)
            distinct = len({member.rule for member in match.members})
            yield match.key, Window(end - plan.span, end, distinct, chain=match.members)


def _ordered_subsets(plan: Plan) -> list[tuple[int, ...]]:
    if plan.kind != "temporal_ordered":
        return []
    if plan.clauses is not None:
        return [tuple(sorted(c.present)) for c in plan.clauses if not c.absent]
    threshold = _threshold(plan)
    required = threshold.minimum_count
    if not threshold.is_lower_bound_only or required <= 0:
        return []
    subsets = list(combinations(range(len(plan.references)), required)) if required <= len(
        plan.references) else []
    if len(subsets) > MAX_ORDERED_SUBSETS:
        raise UnsupportedCorrelation(
            f"correlation {plan.title!r}: {len(subsets)} ordered subsets of rules are too many")
    return subsets


def _threshold(plan: Plan) -> Threshold:
    """The threshold of a correlation without an extended condition (which always has one)."""
    if plan.threshold is None:
        raise UnsupportedCorrelation(f"correlation {plan.title!r} has no condition to test")
    return plan.threshold


def _hits(plan: Plan, series: Series | None, windows: list[Window]) -> Iterator[CorrelationHit]:
    windows.sort(key=_window_order)
    prefers_low = plan.threshold is not None and plan.threshold.prefers_low
    empty = Series()
    for run in bursts(windows):
        members = burst_members(series or empty, run)
        if not members:
            continue
        metrics = [window.metric for window in run]
        value = min(metrics) if prefers_low else max(metrics)
        yield CorrelationHit(
            time=members[0].time,
            end=members[-1].time,
            group=_group_values(plan, members[0]),
            value=reported_number(value),
            members=tuple(members),
        )


def _group_values(plan: Plan, member: Member) -> dict[str, Any]:
    fields = plan.group_fields.get(member.rule, plan.group_names)
    return {name: member.fields.get(field) for name, field in zip(plan.group_names, fields,
                                                                  strict=True)}


def _window_order(window: Window) -> tuple[int, int]:
    return (window.start, window.end)


def _without_hit(item: tuple[datetime, datetime, str, CorrelationHit]
                 ) -> tuple[datetime, datetime, str]:
    return item[:3]


def _hit_uid(reference: str, hit: CorrelationHit) -> str:
    digest = hashlib.sha256(reference.encode())
    for member in hit.members:
        digest.update(b"\x1e" + member.rule.encode() + b"\x1f" + member.uid.encode())
    return "corr:" + digest.hexdigest()[:24]
