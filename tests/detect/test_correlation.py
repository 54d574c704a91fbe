"""The correlation engine: Sigma correlations over base-rule matches, and EQL-style sequences.

Sections: reference cases (§6 of detection-engines.md), each correlation type and operator,
windows and bursts, groups, aliases, chains, extended conditions, sequences, performance,
properties against a brute-force model, and a differential test against
pySigma-backend-sqlite 2.1.1 run on Python's sqlite3.
"""

from __future__ import annotations

import json
import random
import re
import sqlite3
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from itertools import pairwise
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sigma.backends.sqlite.sqlite import sqliteBackend
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaCorrelationConditionError

from trailguard.detect.correlation import (
    Bound,
    CorrelationHit,
    CorrelationInputError,
    Member,
    Sequence,
    Stage,
    Threshold,
    UnsupportedCorrelation,
    evaluate,
    evaluate_chain,
    fields_needed,
    hits_as_members,
)
from trailguard.errors import TrailGuardError

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def member(rule: str, uid: str, seconds: float, **fields: Any) -> Member:
    return Member(rule, uid, at(seconds), fields)


def by_rule(*members: Member) -> dict[str, list[Member]]:
    grouped: dict[str, list[Member]] = {}
    for item in members:
        grouped.setdefault(item.rule, []).append(item)
    return grouped


def correlation(
    kind: str,
    rules: Iterable[str],
    *,
    group_by: Iterable[str] = ("User",),
    timespan: str = "10s",
    condition: dict[str, Any] | str | None = None,
    aliases: dict[str, dict[str, str]] | None = None,
) -> SigmaCorrelationRule:
    body: dict[str, Any] = {"type": kind, "rules": list(rules), "timespan": timespan}
    if group_by:
        body["group-by"] = list(group_by)
    if condition is not None:
        body["condition"] = condition
    if aliases:
        body["aliases"] = aliases
    return SigmaCorrelationRule.from_dict({"title": f"{kind} test", "name": "corr",
                                           "correlation": body})


def uids(hit: CorrelationHit) -> list[str]:
    return [item.uid for item in hit.members]


def count_of(n: int, *, rule: str = "a", user: str | None = "alice", start: float = 0,
             step: float = 1, prefix: str = "e") -> list[Member]:
    return [member(rule, f"{prefix}{i}", start + i * step, User=user) for i in range(n)]


# --- §6 reference cases 5 and 6 -------------------------------------------------------------

CASE_EVENTS = [  # (uid, timestamp, EventID, User) from detection-engines.md §6
    ("E4", "2024-01-02T00:00:00", 4625, "alice"),
    ("E5", "2024-01-02T00:00:01", 4625, "alice"),
    ("E6", "2024-01-02T00:00:02", 4625, "alice"),
    ("E7", "2024-01-03T00:00:00", 4625, "bob"),
    ("E8", "2024-01-04T00:00:00", 4625, "bob"),
    ("E9", "2024-01-05T00:00:00", 4625, "bob"),
    ("E10", "2024-01-09T00:00:00", 4624, "dave"),
    ("E11", "2024-01-09T00:00:10", 4625, "dave"),
]


def case_members() -> dict[str, list[Member]]:
    found: dict[str, list[Member]] = {"failed_logon": [], "ok_logon": []}
    for uid, stamp, event_id, user in CASE_EVENTS:
        rule = "failed_logon" if event_id == 4625 else "ok_logon"
        moment = datetime.fromisoformat(stamp).replace(tzinfo=UTC)
        found[rule].append(Member(rule, uid, moment, {"User": user}))
    return found


def test_case_5_event_count_alerts_for_alice_only() -> None:
    rule = correlation("event_count", ["failed_logon"], timespan="5m", condition={"gte": 3})
    hits = evaluate(rule, case_members())
    assert len(hits) == 1
    (hit,) = hits
    assert hit.group == {"User": "alice"}
    assert hit.value == 3
    assert uids(hit) == ["E4", "E5", "E6"]
    assert (hit.time, hit.end) == (datetime(2024, 1, 2, tzinfo=UTC),
                                   datetime(2024, 1, 2, 0, 0, 2, tzinfo=UTC))


def test_case_6_temporal_ordered_enforces_order() -> None:
    rule = correlation("temporal_ordered", ["failed_logon", "ok_logon"], timespan="1h")
    assert evaluate(rule, case_members()) == []


def test_case_6_reverse_order_does_alert_for_dave() -> None:
    rule = correlation("temporal_ordered", ["ok_logon", "failed_logon"], timespan="1h")
    (hit,) = evaluate(rule, case_members())
    assert hit.group == {"User": "dave"}
    assert uids(hit) == ["E10", "E11"]
    assert hit.value == 2


def test_case_6_unordered_temporal_alerts_for_dave() -> None:
    rule = correlation("temporal", ["failed_logon", "ok_logon"], timespan="1h")
    (hit,) = evaluate(rule, case_members())
    assert hit.group == {"User": "dave"}


# --- types ----------------------------------------------------------------------------------


def test_event_count_counts_an_event_matched_by_two_rules_once() -> None:
    shared = [member("a", "x", 0, User="u"), member("b", "x", 0, User="u"),
              member("b", "y", 1, User="u")]
    rule = correlation("event_count", ["a", "b"], condition={"gte": 2})
    (hit,) = evaluate(rule, by_rule(*shared))
    assert hit.value == 2
    assert uids(hit) == ["x", "y"]
    assert evaluate(correlation("event_count", ["a", "b"], condition={"gte": 3}),
                    by_rule(*shared)) == []


def test_value_count_counts_distinct_values_case_insensitively_and_ignores_none() -> None:
    events = [member("a", "1", 0, User="u", Host="WS1"), member("a", "2", 1, User="u", Host="ws1"),
              member("a", "3", 2, User="u", Host="ws2"), member("a", "4", 3, User="u")]
    rule = correlation("value_count", ["a"], condition={"gte": 2, "field": "Host"})
    (hit,) = evaluate(rule, by_rule(*events))
    assert hit.value == 2
    assert uids(hit) == ["1", "2", "3", "4"]
    assert evaluate(correlation("value_count", ["a"], condition={"gte": 3, "field": "Host"}),
                    by_rule(*events)) == []


def test_value_count_over_a_field_list_counts_combinations() -> None:
    events = [member("a", "1", 0, User="u", Host="h", Port=1),
              member("a", "2", 1, User="u", Host="h", Port=2),
              member("a", "3", 2, User="u", Host="H", Port=1),
              member("a", "4", 3, User="u", Host="h")]
    rule = correlation("value_count", ["a"], condition={"gte": 2, "field": ["Host", "Port"]})
    (hit,) = evaluate(rule, by_rule(*events))
    assert hit.value == 2
    assert fields_needed(rule) == {"a": ["User", "Host", "Port"]}


@pytest.mark.parametrize(
    ("kind", "extra", "values", "expected"),
    [
        ("value_sum", {}, [1, 2, "3", None, "junk", True], 6),
        ("value_avg", {}, [1, 2, 4.5], 2.5),
        ("value_median", {}, [1, 3, 100, 5], 4),
        ("value_percentile", {"percentile": 90}, [10, 20, 30, 40, 50], 46),
        ("value_percentile", {"percentile": 0}, [10, 20, 30], 10),
        ("value_percentile", {"percentile": 100}, [10, 20, 30], 30),
    ],
)
def test_numeric_types_measure_the_window(kind: str, extra: dict[str, Any],
                                          values: list[Any], expected: float) -> None:
    events = [member("a", str(i), i, User="u", Bytes=v) for i, v in enumerate(values)]
    # Windows grow with every member; the last one is the first to reach `expected`.
    rule = correlation(kind, ["a"], timespan="1m",
                       condition={"gte": expected, "field": "Bytes", **extra})
    hits = evaluate(rule, by_rule(*events))
    assert [hit.value for hit in hits] == [expected]


def test_numeric_window_without_numbers_never_qualifies_even_for_lt() -> None:
    events = [member("a", "1", 0, User="u", Bytes="n/a")]
    rule = correlation("value_sum", ["a"], condition={"lt": 100, "field": "Bytes"})
    assert evaluate(rule, by_rule(*events)) == []


def test_value_sum_slides_exactly() -> None:
    # Sums are exact: adding and removing 0.1 a thousand times does not drift below 0.3,
    # so every window of three members qualifies and the burst holds them all.
    events = [member("a", str(i), i, User="u", Bytes=0.1) for i in range(1000)]
    rule = correlation("value_sum", ["a"], timespan="2s", condition={"gte": 0.3, "field": "Bytes"})
    (hit,) = evaluate(rule, by_rule(*events))
    assert hit.value == pytest.approx(0.3)
    assert (len(hit.members), hit.end) == (1000, at(999))
    exact = correlation("value_sum", ["a"], timespan="1s", condition={"eq": 0.5, "field": "Bytes"})
    halves = [member("a", str(i), i, User="u", Bytes=0.25) for i in range(100)]
    assert [hit.value for hit in evaluate(exact, by_rule(*halves))] == [0.5]


def test_value_percentile_needs_a_valid_percentile() -> None:
    rule = correlation("value_percentile", ["a"], condition={"gte": 1, "field": "x"})
    with pytest.raises(UnsupportedCorrelation, match="percentile"):
        evaluate(rule, {})
    rule = correlation("value_percentile", ["a"],
                       condition={"gte": 1, "field": "x", "percentile": 101})
    with pytest.raises(UnsupportedCorrelation, match=r"0\.\.100"):
        evaluate(rule, {})


def test_numeric_type_over_a_field_list_is_refused() -> None:
    rule = correlation("value_sum", ["a"], condition={"gte": 1, "field": ["x", "y"]})
    with pytest.raises(UnsupportedCorrelation, match="several fields"):
        evaluate(rule, {})
    assert issubclass(UnsupportedCorrelation, TrailGuardError)


def test_temporal_requires_all_rules_by_default() -> None:
    events = [member("a", "1", 0, User="u"), member("b", "2", 5, User="u"),
              member("a", "3", 100, User="v")]
    rule = correlation("temporal", ["a", "b"])
    (hit,) = evaluate(rule, by_rule(*events))
    assert (hit.group, hit.value, uids(hit)) == ({"User": "u"}, 2, ["1", "2"])


def test_temporal_with_a_count_condition_counts_distinct_rules() -> None:
    events = [member("a", "1", 0, User="u"), member("a", "2", 1, User="u"),
              member("c", "3", 2, User="u")]
    rule = correlation("temporal", ["a", "b", "c"], condition={"gte": 2})
    (hit,) = evaluate(rule, by_rule(*events))
    assert hit.value == 2
    assert evaluate(correlation("temporal", ["a", "b", "c"]), by_rule(*events)) == []


def test_temporal_ordered_needs_strictly_later_times() -> None:
    rule = correlation("temporal_ordered", ["a", "b"])
    same_instant = by_rule(member("a", "1", 0, User="u"), member("b", "2", 0, User="u"))
    assert evaluate(rule, same_instant) == []
    later = by_rule(member("a", "1", 0, User="u"), member("b", "2", 0.001, User="u"))
    assert len(evaluate(rule, later)) == 1


def test_temporal_ordered_gte_two_of_three_accepts_any_ordered_pair() -> None:
    rule = correlation("temporal_ordered", ["a", "b", "c"], condition={"gte": 2})
    events = by_rule(member("c", "1", 0, User="u"), member("a", "2", 1, User="u"),
                     member("c", "3", 2, User="u"))
    (hit,) = evaluate(rule, events)
    assert uids(hit) == ["2", "3"]
    assert evaluate(rule, by_rule(member("b", "1", 0, User="u"),
                                  member("a", "2", 1, User="u"))) == []


def test_temporal_ordered_chain_may_not_exceed_timespan() -> None:
    rule = correlation("temporal_ordered", ["a", "b", "c"], timespan="10s")
    inside = by_rule(member("a", "1", 0, User="u"), member("b", "2", 5, User="u"),
                     member("c", "3", 10, User="u"))
    assert len(evaluate(rule, inside)) == 1
    outside = by_rule(member("a", "1", 0, User="u"), member("b", "2", 5, User="u"),
                      member("c", "3", 10.5, User="u"))
    assert evaluate(rule, outside) == []


# --- operators and ranges -------------------------------------------------------------------

# One group, members at 0, 1, 2 and 30 s, timespan 10 s: the windows ending at each member
# count 1, 2, 3 and 1.
OPERATOR_CASES = [
    ({"gte": 3}, [(3, ["0", "1", "2"])]),
    ({"gt": 2}, [(3, ["0", "1", "2"])]),
    ({"gt": 3}, []),
    ({"eq": 2}, [(2, ["0", "1"])]),
    ({"neq": 2}, [(3, ["0", "1", "2"]), (1, ["30"])]),
    ({"lt": 2}, [(1, ["0"]), (1, ["30"])]),
    ({"lte": 2}, [(1, ["0", "1"]), (1, ["30"])]),
    ({"lt": 1}, []),
]


@pytest.mark.parametrize(("condition", "expected"), OPERATOR_CASES)
def test_event_count_operators(condition: dict[str, int],
                               expected: list[tuple[int, list[str]]]) -> None:
    events = [member("a", str(s), s, User="u") for s in (0, 1, 2, 30)]
    rule = correlation("event_count", ["a"], condition=condition)
    hits = evaluate(rule, by_rule(*events))
    assert [(hit.value, uids(hit)) for hit in hits] == expected


def test_pysigma_rejects_ranges_so_threshold_takes_them() -> None:
    with pytest.raises(SigmaCorrelationConditionError, match="exactly one"):
        correlation("event_count", ["a"], condition={"gte": 2, "lt": 3})
    events = [member("a", str(s), s, User="u") for s in (0, 1, 2, 30, 31)]
    rule = correlation("event_count", ["a"], condition={"gte": 1})
    between = Threshold((Bound("gte", 2), Bound("lt", 3)))
    hits = evaluate(rule, by_rule(*events), threshold=between)
    assert [(hit.value, uids(hit)) for hit in hits] == [(2, ["0", "1"]), (2, ["30", "31"])]
    with pytest.raises(UnsupportedCorrelation):
        Threshold(())


@pytest.mark.parametrize(
    ("condition", "events", "expected"),
    [
        # the rules present must be in listed order; the count of distinct rules is bounded
        ({"lte": 1}, [("b", 0)], [["b0"]]),
        ({"eq": 2}, [("a", 0), ("b", 1)], [["a0", "b1"]]),
        ({"eq": 2}, [("b", 0), ("a", 1)], []),
        ({"lt": 3}, [("a", 0), ("c", 1)], [["a0", "c1"]]),
        ({"neq": 3}, [("a", 0), ("b", 1), ("c", 2)], [["a0", "b1"]]),  # early windows
    ],
)
def test_temporal_ordered_with_upper_bounds_follows_the_sqlite_backend(
        condition: dict[str, int], events: list[tuple[str, int]],
        expected: list[list[str]]) -> None:
    rule = correlation("temporal_ordered", ["a", "b", "c"], condition=condition)
    members = by_rule(*(member(r, f"{r}{s}", s, User="u") for r, s in events))
    assert [uids(hit) for hit in evaluate(rule, members)] == expected


# --- windows and bursts ---------------------------------------------------------------------


def test_window_includes_members_exactly_timespan_apart() -> None:
    rule = correlation("event_count", ["a"], timespan="10s", condition={"gte": 2})
    assert len(evaluate(rule, by_rule(*count_of(2, step=10)))) == 1
    assert evaluate(rule, by_rule(*count_of(2, step=10.000001))) == []


def test_ordered_window_boundary_is_inclusive_too() -> None:
    rule = correlation("temporal_ordered", ["a", "b"], timespan="10s")
    assert len(evaluate(rule, by_rule(member("a", "1", 0, User="u"),
                                      member("b", "2", 10, User="u")))) == 1
    assert evaluate(rule, by_rule(member("a", "1", 0, User="u"),
                                  member("b", "2", 10.000001, User="u"))) == []


def test_a_burst_of_500_failures_is_one_hit() -> None:
    rule = correlation("event_count", ["a"], timespan="5m", condition={"gte": 5})
    (hit,) = evaluate(rule, by_rule(*count_of(500, step=0.5)))
    assert len(hit.members) == 500
    assert hit.value == 500
    assert (hit.time, hit.end) == (at(0), at(249.5))


def test_bursts_separated_by_more_than_timespan_are_separate_hits() -> None:
    burst = count_of(5, step=1)
    later = count_of(5, start=1000, step=1, prefix="late")
    slow_noise = [member("a", f"n{i}", 2000 + i * 60, User="alice") for i in range(10)]
    rule = correlation("event_count", ["a"], timespan="30s", condition={"gte": 3})
    hits = evaluate(rule, by_rule(*burst, *later, *slow_noise))
    assert [len(hit.members) for hit in hits] == [5, 5]
    assert [hit.time for hit in hits] == [at(0), at(1000)]


def test_a_window_reaches_back_to_earlier_members() -> None:
    # The window ending at 11 s covers [1, 11]: the member at 1 is evidence, the one at 0 not.
    events = [member("a", str(s), s, User="u") for s in (0, 1, 10, 11)]
    rule = correlation("event_count", ["a"], condition={"gte": 3})
    (hit,) = evaluate(rule, by_rule(*events))
    assert uids(hit) == ["0", "1", "10", "11"]  # windows ending at 10 ([0,10]) and 11 merge


def test_unsorted_input_gives_the_same_hits() -> None:
    events = [*count_of(7, step=2), *count_of(4, user="bob", prefix="b", step=3),
              member("b", "x", 5, User="alice")]
    rule = correlation("temporal", ["a", "b"], timespan="20s")
    expected = evaluate(rule, by_rule(*events))
    shuffled = list(events)
    random.Random(7).shuffle(shuffled)  # noqa: S311 - a test shuffle
    assert evaluate(rule, by_rule(*shuffled)) == expected
    assert len(expected) == 1


def test_duplicate_members_are_counted_once() -> None:
    events = count_of(2)
    rule = correlation("event_count", ["a"], condition={"gte": 3})
    assert evaluate(rule, {"a": events + events}) == []


# --- groups ---------------------------------------------------------------------------------


def test_missing_group_values_group_under_none_by_default() -> None:
    events = [member("a", "1", 0), member("a", "2", 1, User=None), member("a", "3", 2)]
    rule = correlation("event_count", ["a"], condition={"gte": 3})
    (hit,) = evaluate(rule, by_rule(*events))
    assert hit.group == {"User": None}
    assert evaluate(rule, by_rule(*events), drop_missing_groups=True) == []


def test_partially_missing_multi_field_groups() -> None:
    events = [member("a", str(i), i, User="u") for i in range(3)]
    rule = correlation("event_count", ["a"], group_by=("User", "Host"), condition={"gte": 3})
    (hit,) = evaluate(rule, by_rule(*events))
    assert hit.group == {"User": "u", "Host": None}
    assert evaluate(rule, by_rule(*events), drop_missing_groups=True) == []


def test_no_group_by_puts_everything_in_one_group() -> None:
    events = [member("a", "1", 0, User="x"), member("a", "2", 1, User="y")]
    rule = correlation("event_count", ["a"], group_by=(), condition={"gte": 2})
    (hit,) = evaluate(rule, by_rule(*events))
    assert hit.group == {}


def test_groups_fold_case_and_report_the_first_spelling() -> None:
    events = [member("a", "1", 0, User="Alice"), member("a", "2", 1, User="ALICE"),
              member("a", "3", 2, User="alice"), member("a", "4", 3, User="STRASSE"),
              member("a", "5", 4, User="straße")]
    rule = correlation("event_count", ["a"], condition={"gte": 2})
    hits = evaluate(rule, by_rule(*events))
    # casefold is full Unicode folding ("ß" is "ss"); SQLite's lower() is ASCII only.
    assert [(hit.group["User"], hit.value) for hit in hits] == [("Alice", 3), ("STRASSE", 2)]


def test_numbers_and_strings_are_different_group_values() -> None:
    events = [member("a", "1", 0, User=1), member("a", "2", 1, User="1"),
              member("a", "3", 2, User=1.0)]
    rule = correlation("event_count", ["a"], condition={"gte": 2})
    (hit,) = evaluate(rule, by_rule(*events))
    assert uids(hit) == ["1", "3"]


# --- aliases ---------------------------------------------------------------------------------


def test_aliases_map_one_group_name_to_each_rules_field() -> None:
    rule = correlation("temporal_ordered", ["logon", "proc"], group_by=("user",),
                       aliases={"user": {"logon": "TargetUserName", "proc": "User"}})
    assert fields_needed(rule) == {"logon": ["TargetUserName"], "proc": ["User"]}
    events = by_rule(member("logon", "1", 0, TargetUserName="Bob", User="SYSTEM"),
                     member("proc", "2", 3, User="bob"),
                     member("proc", "3", 4, User="SYSTEM"))
    (hit,) = evaluate(rule, events)
    assert (hit.group, uids(hit)) == ({"user": "Bob"}, ["1", "2"])


def test_aliases_also_map_the_value_field() -> None:
    rule = correlation("value_count", ["a", "b"], group_by=("user",),
                       condition={"gte": 2, "field": "host"},
                       aliases={"user": {"a": "User", "b": "Account"},
                                "host": {"a": "Computer", "b": "host"}})
    assert fields_needed(rule) == {"a": ["User", "Computer"], "b": ["Account", "host"]}
    events = by_rule(member("a", "1", 0, User="u", Computer="h1"),
                     member("b", "2", 1, Account="U", host="h2"))
    (hit,) = evaluate(rule, events)
    assert hit.value == 2


# --- chains ---------------------------------------------------------------------------------

CHAIN_YAML = """
title: failed
name: failed
logsource: {product: windows, service: security}
detection: {sel: {EventID: 4625}, condition: sel}
---
title: ok
name: ok
logsource: {product: windows, service: security}
detection: {sel: {EventID: 4624}, condition: sel}
---
title: brute force
name: brute_force
correlation: {type: event_count, rules: [failed], group-by: [User], timespan: 1m,
              condition: {gte: 3}}
---
title: brute force then success
name: brute_success
correlation: {type: temporal_ordered, rules: [brute_force, ok], group-by: [User],
              timespan: 10m}
"""


def chain_rules(text: str = CHAIN_YAML) -> dict[str, Any]:
    collection = SigmaCollection.from_yaml(text)
    return {str(rule.name): rule for rule in collection.rules}


def test_chain_brute_force_then_success() -> None:
    rules = chain_rules()
    failures = [member("failed", f"f{i}", i, User="carol") for i in range(5)]
    base = by_rule(*failures, member("ok", "s1", 60, User="Carol"),
                   member("ok", "s2", 30, User="dave"))
    (hit,) = evaluate_chain(rules["brute_success"], base)
    assert hit.group == {"User": "carol"}
    inner, success = hit.members
    assert inner.rule == "brute_force" and inner.uid.startswith("corr:")
    assert inner.fields == {"User": "carol", "event_count": 5}
    assert (inner.time, success.uid) == (at(4), "s1")  # the inner burst ended at 4 s


def test_chain_after_a_long_burst_is_measured_from_its_end() -> None:
    rules = chain_rules()
    slow = [member("failed", f"f{i}", i * 30, User="carol") for i in range(240)]  # 2 hours
    base = by_rule(*slow, member("ok", "s1", 240 * 30 + 60, User="carol"))
    inner_hits = evaluate(rules["brute_force"], base)
    assert len(inner_hits) == 1 and len(inner_hits[0].members) == 240
    assert len(evaluate_chain(rules["brute_success"], base)) == 1
    from_start = hits_as_members("brute_force", inner_hits, at="start")
    assert evaluate(rules["brute_success"], {"brute_force": from_start, "ok": base["ok"]}) == []


def test_chain_by_hand_equals_evaluate_chain() -> None:
    rules = chain_rules()
    base = by_rule(*(member("failed", f"f{i}", i, User="carol") for i in range(3)),
                   member("ok", "s1", 60, User="carol"))
    inner_hits = evaluate(rules["brute_force"], base)
    inner = hits_as_members("brute_force", inner_hits, metric_field="event_count")
    assert inner == hits_as_members("brute_force", inner_hits, metric_field="event_count")
    by_hand = evaluate(rules["brute_success"], {"brute_force": inner, "ok": base["ok"]})
    assert by_hand == evaluate_chain(rules["brute_success"], base)
    assert len(by_hand) == 1


def test_chain_needing_a_field_the_inner_correlation_lacks_is_refused() -> None:
    text = CHAIN_YAML.replace("rules: [brute_force, ok], group-by: [User]",
                              "rules: [brute_force, ok], group-by: [Host]")
    with pytest.raises(UnsupportedCorrelation, match="Host"):
        evaluate_chain(chain_rules(text)["brute_success"], {})


# --- extended conditions --------------------------------------------------------------------


def test_extended_absence_fires_once_the_window_has_closed() -> None:
    rule = correlation("temporal", ["a", "b"], condition="a and not b")
    quiet = by_rule(member("a", "1", 0, User="u"), member("a", "2", 100, User="v"))
    hits = evaluate(rule, quiet)
    assert [hit.group for hit in hits] == [{"User": "u"}]  # v's window is still open at 100
    assert len(evaluate(rule, quiet, observation_end=at(110))) == 2


def test_extended_absence_is_cancelled_by_a_following_negated_rule() -> None:
    rule = correlation("temporal", ["a", "b"], condition="a and not b")
    events = by_rule(member("a", "1", 0, User="u"), member("b", "2", 10, User="u"),
                     member("b", "3", 20, User="v"))
    assert evaluate(rule, events, observation_end=at(100)) == []
    earlier_b = by_rule(member("b", "1", 0, User="u"), member("a", "2", 5, User="u"))
    assert len(evaluate(rule, earlier_b, observation_end=at(100))) == 1  # absence looks forward


def test_extended_or_and_ordered_conditions() -> None:
    either = correlation("temporal", ["a", "b"], condition="a or b")
    assert len(evaluate(either, by_rule(member("b", "1", 0, User="u")))) == 1
    ordered = correlation("temporal_ordered", ["a", "b", "c"], condition="a and b and not c")
    good = by_rule(member("a", "1", 0, User="u"), member("b", "2", 1, User="u"))
    assert len(evaluate(ordered, good, observation_end=at(60))) == 1
    wrong_order = by_rule(member("b", "1", 0, User="u"), member("a", "2", 1, User="u"))
    assert evaluate(ordered, wrong_order, observation_end=at(60)) == []
    both = correlation("temporal_ordered", ["a", "b"], condition="a and b")
    assert len(evaluate(both, good)) == 1
    assert evaluate(both, wrong_order) == []


def test_purely_negative_branch_is_refused() -> None:
    rule = correlation("temporal", ["a", "b"], condition="a or not b")
    with pytest.raises(UnsupportedCorrelation, match="only of 'not'"):
        evaluate(rule, {})


# --- input checks ---------------------------------------------------------------------------


def test_naive_times_and_misfiled_members_are_refused() -> None:
    rule = correlation("event_count", ["a"], condition={"gte": 1})
    naive = Member("a", "1", datetime(2024, 1, 1), {})
    with pytest.raises(CorrelationInputError, match="timezone"):
        evaluate(rule, {"a": [naive]})
    with pytest.raises(CorrelationInputError, match="passed as"):
        evaluate(rule, {"a": [member("b", "1", 0)]})


def test_other_timezones_are_converted() -> None:
    plus_two = datetime(2024, 1, 1, 2, 0, 5, tzinfo=timezone(timedelta(hours=2)))
    rule = correlation("event_count", ["a"], condition={"gte": 2})
    events = [member("a", "1", 0, User="u"), Member("a", "2", plus_two, {"User": "u"})]
    (hit,) = evaluate(rule, {"a": events})
    assert uids(hit) == ["1", "2"]


# --- sequences (EQL) ------------------------------------------------------------------------

EQL_EVENTS = [  # endgameinc/eql docs/query-guide/implementation.rst
    (1, "root", "whoami"), (2, "root", "whoami"), (3, "user", "hostname"),
    (4, "root", "hostname"), (5, "root", "hostname"), (6, "user", "whoami"),
    (7, "root", "whoami"), (8, "user", "hostname"), (9, "root", "ifconfig"),
    (10, "user", "ifconfig"), (11, "root", "ifconfig"),
]
RECON = Sequence((Stage("whoami"), Stage("hostname"), Stage("ifconfig")), by=("user_name",))


def eql_members(ids: Iterable[int]) -> dict[str, list[Member]]:
    chosen = set(ids)
    return by_rule(*(member(process, str(i), i, user_name=user)
                     for i, user, process in EQL_EVENTS if i in chosen))


def test_eql_documentation_example_for_root() -> None:
    matches = RECON.run(eql_members([1, 2, 4, 7, 9, 11]))
    assert [[m.uid for m in match.members] for match in matches] == [["2", "4", "9"]]
    assert matches[0].key == ("root",)


def test_eql_documentation_example_for_both_users() -> None:
    matches = RECON.run(eql_members(range(1, 12)))
    assert [(match.key, [m.uid for m in match.members]) for match in matches] == [
        (("root",), ["2", "4", "9"]), (("user",), ["6", "8", "10"])]


def test_sequence_maxspan_expires_pending_state() -> None:
    pair = Sequence((Stage("a"), Stage("b")), maxspan=timedelta(seconds=10))
    assert pair.run(by_rule(member("a", "1", 0), member("b", "2", 10)))
    assert not pair.run(by_rule(member("a", "1", 0), member("b", "2", 11)))
    # a newer start replaces the expired one and completes
    newer = pair.run(by_rule(member("a", "1", 0), member("a", "2", 5), member("b", "3", 14)))
    assert [[m.uid for m in match.members] for match in newer] == [["2", "3"]]


def test_sequence_until_clears_the_key() -> None:
    spawn = Sequence((Stage("cmd", by=("pid",)), Stage("whoami", by=("ppid",))),
                     until=Stage("exit", by=("pid",)))
    events = by_rule(member("cmd", "c1", 0, pid=10), member("exit", "x1", 1, pid=10),
                     member("whoami", "w1", 2, ppid=10),
                     member("cmd", "c2", 3, pid=20), member("exit", "x2", 4, pid=99),
                     member("whoami", "w2", 5, ppid=20))
    assert [[m.uid for m in match.members] for match in spawn.run(events)] == [["c2", "w2"]]


def test_sequence_until_at_the_same_instant_wins() -> None:
    spawn = Sequence((Stage("a"), Stage("b")), until=Stage("stop"))
    events = by_rule(member("a", "1", 0), member("stop", "2", 1), member("b", "3", 1))
    assert spawn.run(events) == []


def test_sequence_per_stage_join_keys() -> None:
    drop_then_run = Sequence((Stage("file", by=("file_path",)), Stage("exec", by=("image",))),
                             by=("user",), maxspan=timedelta(minutes=5))
    events = by_rule(member("file", "f1", 0, user="u", file_path="C:\\x.exe"),
                     member("exec", "p1", 10, user="u", image="c:\\X.EXE"),
                     member("file", "f2", 20, user="u", file_path="C:\\y.exe"),
                     member("exec", "p2", 30, user="v", image="C:\\y.exe"))
    matches = drop_then_run.run(events)
    assert [(match.key, [m.uid for m in match.members]) for match in matches] == [
        (("u", "c:\\x.exe"), ["f1", "p1"])]


def test_sequence_member_matching_several_stages_advances_once() -> None:
    twice = Sequence((Stage("a"), Stage("a"), Stage("b")))
    assert twice.run(by_rule(member("a", "1", 0), member("b", "2", 1))) == []
    (match,) = twice.run(by_rule(member("a", "1", 0), member("a", "2", 1), member("b", "3", 2)))
    assert [m.uid for m in match.members] == ["1", "2", "3"]


def test_sequence_state_stays_bounded() -> None:
    pair = Sequence((Stage("a"), Stage("b")))
    starts = [member("a", f"a{i}", i * 0.001) for i in range(1000)]
    ends = [member("b", f"b{i}", 10 + i) for i in range(3)]
    (match,) = pair.run(by_rule(*starts, *ends))
    assert [m.uid for m in match.members] == ["a999", "b0"]


def test_sequence_definitions_are_checked() -> None:
    with pytest.raises(CorrelationInputError, match="at least one stage"):
        Sequence(())
    with pytest.raises(CorrelationInputError, match="same number"):
        Sequence((Stage("a", by=("x",)), Stage("b")))
    with pytest.raises(CorrelationInputError, match="negative"):
        Sequence((Stage("a"),), maxspan=timedelta(seconds=-1))


# --- performance ----------------------------------------------------------------------------


def many_members(n: int) -> list[Member]:
    rng = random.Random(1)  # noqa: S311 - synthetic data
    return [Member("a", f"e{i}", at(rng.uniform(0, 86_400)),
                   {"User": f"user{rng.randrange(200)}", "Host": f"h{rng.randrange(50)}"})
            for i in range(n)]


@pytest.mark.parametrize(
    "rule",
    [correlation("event_count", ["a"], timespan="5m", condition={"gte": 5}),
     correlation("value_count", ["a"], timespan="5m", condition={"gte": 3, "field": "Host"})],
    ids=["event_count", "value_count"],
)
def test_100k_members_evaluate_well_under_a_second(rule: SigmaCorrelationRule) -> None:
    members = {"a": many_members(100_000)}
    timings = []
    for _ in range(3):  # best of three, as timeit does: the machine may be busy
        started = time.perf_counter()
        hits = evaluate(rule, members)
        timings.append(time.perf_counter() - started)
    assert hits
    assert min(timings) < 1.0, f"{min(timings):.2f}s"


# --- properties against a brute-force model -------------------------------------------------

member_times = st.lists(st.tuples(st.integers(0, 60), st.sampled_from(["u", "U", "v", None])),
                        max_size=25)


def brute_force_window_ends(times: list[int], span: int, minimum: int) -> set[int]:
    return {end for end in times if sum(end - span <= t <= end for t in times) >= minimum}


@settings(max_examples=150, deadline=None)
@given(member_times, st.integers(1, 20), st.integers(1, 5))
def test_event_count_hits_cover_exactly_the_qualifying_windows(
        events: list[tuple[int, str | None]], span: int, minimum: int) -> None:
    rule = correlation("event_count", ["a"], timespan=f"{span}s", condition={"gte": minimum})
    members = [member("a", str(i), t, User=u) for i, (t, u) in enumerate(events)]
    hits = evaluate(rule, {"a": members})
    for user in {None if u is None else u.casefold() for _, u in events}:
        times = [t for t, u in events if (u.casefold() if u else None) == user]
        ends = brute_force_window_ends(times, span, minimum)
        mine = [hit for hit in hits if (hit.group["User"] or "").casefold() == (user or "")
                and (hit.group["User"] is None) == (user is None)]
        intervals = [((h.time - T0).total_seconds(), (h.end - T0).total_seconds()) for h in mine]
        assert all(any(lo <= end <= hi for lo, hi in intervals) for end in ends)
        assert all(any(lo <= end <= hi for end in ends) for lo, hi in intervals)
        # bursts are separate only when no qualifying window of the next overlaps the last
        for (_, previous_end), (lo, hi) in pairwise(intervals):
            assert min(end for end in ends if lo <= end <= hi) - span > previous_end
    shuffled = list(members)
    random.Random(len(members)).shuffle(shuffled)  # noqa: S311 - a test shuffle
    assert evaluate(rule, {"a": shuffled}) == hits


# --- differential test against pySigma-backend-sqlite 2.1.1 --------------------------------

BASE_RULES = """
title: rule a
name: rule_a
logsource: {product: test}
detection: {sel: {EventID: 1}, condition: sel}
---
title: rule b
name: rule_b
logsource: {product: test}
detection: {sel: {EventID: 2}, condition: sel}
---
title: rule c
name: rule_c
logsource: {product: test}
detection: {sel: {EventID: 3}, condition: sel}
---
title: rule a or b
name: rule_ab
logsource: {product: test}
detection: {sel: {EventID: [1, 2]}, condition: sel}
"""
COLUMNS = ("EventID", "User", "TargetUser", "Host", "Value", "Amount")


@dataclass(frozen=True)
class OracleCase:
    name: str
    correlation: str  # the body of `correlation:` as YAML flow mapping
    ordered: bool = False  # compare alerting groups only (evidence chains differ by design)


ORACLE_CASES = [
    OracleCase("event_count gte", "{type: event_count, rules: [rule_a], group-by: [User], "
               "timespan: 10s, condition: {gte: 3}}"),
    OracleCase("event_count two rules overlap", "{type: event_count, rules: [rule_a, rule_ab], "
               "group-by: [User], timespan: 10s, condition: {gte: 3}}"),
    OracleCase("event_count two fields", "{type: event_count, rules: [rule_ab], "
               "group-by: [User, Host], timespan: 20s, condition: {gt: 1}}"),
    OracleCase("event_count lt", "{type: event_count, rules: [rule_a], group-by: [User], "
               "timespan: 10s, condition: {lt: 2}}"),
    OracleCase("event_count lte", "{type: event_count, rules: [rule_a], group-by: [User], "
               "timespan: 10s, condition: {lte: 2}}"),
    OracleCase("event_count eq", "{type: event_count, rules: [rule_ab], group-by: [User], "
               "timespan: 10s, condition: {eq: 2}}"),
    OracleCase("event_count neq", "{type: event_count, rules: [rule_ab], group-by: [User], "
               "timespan: 10s, condition: {neq: 1}}"),
    OracleCase("value_count", "{type: value_count, rules: [rule_ab], group-by: [User], "
               "timespan: 15s, condition: {gte: 2, field: Value}}"),
    OracleCase("value_count lt", "{type: value_count, rules: [rule_ab], group-by: [User], "
               "timespan: 15s, condition: {lt: 1, field: Value}}"),
    OracleCase("value_count aliases", "{type: value_count, rules: [rule_a, rule_b], "
               "group-by: [user], timespan: 15s, condition: {gte: 2, field: val}, "
               "aliases: {user: {rule_a: User, rule_b: TargetUser}, "
               "val: {rule_a: Value, rule_b: Host}}}"),
    OracleCase("value_sum", "{type: value_sum, rules: [rule_ab], group-by: [User], "
               "timespan: 15s, condition: {gte: 10, field: Amount}}"),
    OracleCase("value_avg", "{type: value_avg, rules: [rule_ab], group-by: [User], "
               "timespan: 15s, condition: {gt: 5, field: Amount}}"),
    OracleCase("value_median", "{type: value_median, rules: [rule_ab], group-by: [User], "
               "timespan: 15s, condition: {gte: 6, field: Amount}}"),
    OracleCase("value_percentile", "{type: value_percentile, rules: [rule_ab], "
               "group-by: [User], timespan: 15s, condition: {gte: 7, field: Amount, "
               "percentile: 75}}"),
    OracleCase("temporal", "{type: temporal, rules: [rule_a, rule_b], group-by: [User], "
               "timespan: 10s}"),
    OracleCase("temporal gte 2 of 3", "{type: temporal, rules: [rule_a, rule_b, rule_c], "
               "group-by: [User], timespan: 10s, condition: {gte: 2}}"),
    OracleCase("temporal lt", "{type: temporal, rules: [rule_a, rule_b], group-by: [User], "
               "timespan: 10s, condition: {lt: 2}}"),
    OracleCase("temporal aliases", "{type: temporal, rules: [rule_a, rule_b], "
               "group-by: [user], timespan: 10s, "
               "aliases: {user: {rule_a: User, rule_b: TargetUser}}}"),
    OracleCase("temporal extended and-not", "{type: temporal, rules: [rule_a, rule_b], "
               "group-by: [User], timespan: 10s, condition: 'rule_a and not rule_b'}"),
    OracleCase("temporal extended or", "{type: temporal, rules: [rule_a, rule_b, rule_c], "
               "group-by: [User], timespan: 10s, "
               "condition: 'rule_c or (rule_a and rule_b)'}"),
    OracleCase("temporal_ordered", "{type: temporal_ordered, rules: [rule_a, rule_b], "
               "group-by: [User], timespan: 10s}", ordered=True),
    OracleCase("temporal_ordered three", "{type: temporal_ordered, "
               "rules: [rule_a, rule_b, rule_c], group-by: [User], timespan: 20s}", ordered=True),
    OracleCase("temporal_ordered gte 2 of 3", "{type: temporal_ordered, "
               "rules: [rule_a, rule_b, rule_c], group-by: [User], timespan: 10s, "
               "condition: {gte: 2}}", ordered=True),
    OracleCase("temporal_ordered gt 1 of 3", "{type: temporal_ordered, "
               "rules: [rule_c, rule_b, rule_a], group-by: [User], timespan: 10s, "
               "condition: {gt: 1}}", ordered=True),
    OracleCase("temporal_ordered extended and", "{type: temporal_ordered, "
               "rules: [rule_b, rule_a], group-by: [User], timespan: 10s, "
               "condition: 'rule_a and rule_b'}", ordered=True),
    OracleCase("temporal_ordered lte 2", "{type: temporal_ordered, "
               "rules: [rule_a, rule_b, rule_c], group-by: [User], timespan: 10s, "
               "condition: {lte: 2}}", ordered=True),
    OracleCase("temporal_ordered aliases", "{type: temporal_ordered, rules: [rule_b, rule_a], "
               "group-by: [user], timespan: 10s, "
               "aliases: {user: {rule_a: User, rule_b: TargetUser}}}", ordered=True),
    OracleCase("temporal_ordered extended", "{type: temporal_ordered, "
               "rules: [rule_a, rule_b, rule_c], group-by: [User], timespan: 10s, "
               "condition: 'rule_a and rule_b and not rule_c'}", ordered=True),
]


def sqlite_backend() -> Any:
    """pySigma-backend-sqlite's backend with its defaults (table `logs`, ISO `timestamp`)."""
    return cast(Any, sqliteBackend)()


@cache
def oracle_program(case: OracleCase) -> tuple[SigmaCorrelationRule, str, dict[str, str]]:
    """The correlation rule, the backend's SQL for it, and each base rule's SQL."""
    text = f"{BASE_RULES}---\ntitle: {case.name}\nname: under_test\ncorrelation: " \
           f"{case.correlation}\n"
    collection = SigmaCollection.from_yaml(text)
    # Base rules the correlation does not reference are emitted as their own queries.
    (query,) = [q for q in sqlite_backend().convert(collection) if q.startswith("WITH ")]
    base = SigmaCollection.from_yaml(BASE_RULES)
    base_sql = {str(rule.name): str(sql) for rule, sql in
                zip(base.rules, sqlite_backend().convert(base), strict=True)}
    rule = next(r for r in collection.rules if isinstance(r, SigmaCorrelationRule))
    return rule, str(query), base_sql


Row = tuple[int, int, str | None, str | None, str | None, str | None, int | str | None]

users = st.sampled_from(["alice", "ALICE", "bob", None])
rows = st.lists(
    st.tuples(st.integers(0, 40), st.integers(1, 3), users, users,
              st.sampled_from(["h1", "H1", None]), st.sampled_from(["x", "X", "y", None]),
              st.one_of(st.none(), st.integers(0, 12), st.integers(0, 12).map(str))),
    max_size=14,
)


def database(events: list[Row]) -> sqlite3.Connection:
    connection = sqlite3.connect(":memory:")
    connection.create_function(
        "regexp", 2, lambda p, v: v is not None and re.search(p, str(v)) is not None)
    connection.execute("CREATE TABLE logs (timestamp TEXT, EventID INTEGER, "
                       "User TEXT COLLATE NOCASE, TargetUser TEXT COLLATE NOCASE, "
                       "Host TEXT COLLATE NOCASE, Value TEXT COLLATE NOCASE, Amount)")
    connection.executemany(
        "INSERT INTO logs VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(at(second).strftime("%Y-%m-%dT%H:%M:%S"), *rest) for second, *rest in events])
    return connection


def oracle_alerts(connection: sqlite3.Connection, query: str
                  ) -> list[tuple[tuple[Any, ...], float, float]]:
    """(lower-cased group values, window start, window end) per oracle alert."""
    found = []
    for group_keys, start, end in connection.execute(
            f"SELECT group_keys, window_start, window_end FROM ({query})"):
        values = json.loads(group_keys)
        found.append((tuple(_fold(v) for v in values.values()), start, end))
    return found


def matches_as_members(connection: sqlite3.Connection, base_sql: Mapping[str, str]
                       ) -> dict[str, list[Member]]:
    """What the detection engine does: run each base rule, one member per matching row."""
    members: dict[str, list[Member]] = {}
    for name, sql in base_sql.items():
        cursor = connection.execute(sql.replace("SELECT *", "SELECT rowid AS uid, *", 1))
        columns = [column[0] for column in cursor.description]
        for row in cursor:
            record = dict(zip(columns, row, strict=True))
            moment = datetime.fromisoformat(record.pop("timestamp")).replace(tzinfo=UTC)
            members.setdefault(name, []).append(
                Member(name, str(record.pop("uid")), moment, record))
    return members


def _fold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def observation_end(connection: sqlite3.Connection) -> datetime:
    (latest,) = connection.execute("SELECT MAX(timestamp) FROM logs").fetchone()
    return datetime.fromisoformat(latest).replace(tzinfo=UTC) if latest else T0


@pytest.mark.parametrize("case", ORACLE_CASES, ids=[case.name for case in ORACLE_CASES])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=rows)
def test_agrees_with_pysigma_backend_sqlite(case: OracleCase, events: list[Row]) -> None:
    rule, query, base_sql = oracle_program(case)
    connection = database(events)
    expected = oracle_alerts(connection, query)
    hits = evaluate(rule, matches_as_members(connection, base_sql),
                    observation_end=observation_end(connection), drop_missing_groups=True)
    mine = {tuple(_fold(v) for v in hit.group.values()) for hit in hits}
    assert mine == {group for group, _, _ in expected}
    # By default members without a group value group under None; the other groups are the
    # same (groups are independent), the oracle only drops the None ones.
    grouped = evaluate(rule, matches_as_members(connection, base_sql),
                       observation_end=observation_end(connection))
    assert {tuple(_fold(v) for v in hit.group.values()) for hit in grouped
            if None not in hit.group.values()} == mine
    if case.ordered:
        return
    spans = [(tuple(_fold(v) for v in hit.group.values()), hit.time.timestamp(),
              hit.end.timestamp()) for hit in hits]
    if "'" in case.correlation:
        # Extended conditions keep only some rules' members as evidence, so a burst may end
        # before the window that qualified: require every window and burst to overlap.
        assert all(any(g == group and lo <= end and start <= hi for group, lo, hi in spans)
                   for g, start, end in expected)
        assert all(any(g == group and lo <= end and start <= hi for g, start, end in expected)
                   for group, lo, hi in spans)
        return
    # Every oracle window ends inside one of our bursts, and every burst holds such an end.
    ends = [(group, end) for group, _, end in expected]
    assert all(any(g == group and lo <= p <= hi for group, lo, hi in spans) for g, p in ends)
    assert all(any(g == group and lo <= p <= hi for g, p in ends) for group, lo, hi in spans)


def test_oracle_harness_reproduces_case_5() -> None:
    events: list[Row] = [(s, 1, "alice", None, None, None, None) for s in (0, 1, 2)]
    events += [(s, 1, "bob", None, None, None, None) for s in (0, 20, 40)]
    case = ORACLE_CASES[0]
    rule, query, base_sql = oracle_program(case)
    connection = database(events)
    assert {group for group, _, _ in oracle_alerts(connection, query)} == {("alice",)}
    assert [hit.group for hit in evaluate(rule, matches_as_members(connection, base_sql))] == [
        {"User": "alice"}]


# --- documented disagreements with the oracle ------------------------------------------------

CHAINED_COUNT = BASE_RULES + """---
title: burst
name: burst
correlation: {type: event_count, rules: [rule_a], group-by: [User], timespan: 10s,
              condition: {gte: 2}}
---
title: two bursts
name: two_bursts
correlation: {type: event_count, rules: [burst], group-by: [User], timespan: 1h,
              condition: {gte: 2}}
"""


def test_oracle_counts_each_window_of_a_chained_burst_we_count_the_burst() -> None:
    # One burst of five failures. The backend emits a child alert per qualifying window
    # (ends at 1, 2, 3 and 4 s), so "two bursts within an hour" fires on a single burst.
    collection = SigmaCollection.from_yaml(CHAINED_COUNT)
    (query,) = [q for q in sqlite_backend().convert(collection) if q.startswith("WITH ")]
    connection = database([(s, 1, "alice", None, None, None, None) for s in range(5)])
    assert len(oracle_alerts(connection, str(query))) == 3
    rules = chain_rules(CHAINED_COUNT)
    base = matches_as_members(connection, {"rule_a": oracle_program(ORACLE_CASES[0])[2]["rule_a"]})
    assert len(evaluate(rules["burst"], base)) == 1
    assert evaluate_chain(rules["two_bursts"], base) == []


def test_oracle_folds_ascii_only_we_fold_unicode() -> None:
    rule, query, base_sql = oracle_program(ORACLE_CASES[0])  # event_count gte 3 by User
    connection = database([(0, 1, "ÄRGER", None, None, None, None),
                           (1, 1, "ärger", None, None, None, None),
                           (2, 1, "Ärger", None, None, None, None)])
    assert oracle_alerts(connection, query) == []  # SQLite lower() leaves Ä alone
    (hit,) = evaluate(rule, matches_as_members(connection, base_sql))
    assert hit.value == 3
