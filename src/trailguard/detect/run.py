"""One detection run over a case: base rules, then correlations over their matches, as alerts.

Base rules referenced by a correlation are evidence, not alerts of their own, unless the
correlation says `generate: true` (Sigma correlation specification 2.1).
"""

from __future__ import annotations

import time as clock
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa
import sqlglot.expressions as exp
from sigma.correlations import SigmaCorrelationRule

from trailguard.collector import collector_paused
from trailguard.detect.alerts import Alert, EventRef
from trailguard.detect.cache import CompileCache
from trailguard.detect.compiler import FieldUnavailable
from trailguard.detect.correlation import (
    CorrelationError,
    CorrelationHit,
    Member,
    evaluate_chain,
    fields_needed,
    hits_as_members,
)
from trailguard.detect.correlation.rule import references_of, resolved_rule
from trailguard.detect.engine import Match, RunStats, run_rules
from trailguard.detect.logsources import Route
from trailguard.detect.plan import CaseTables, Plan, RouteFields, plan_rules
from trailguard.detect.rules import LoadedRule, RuleSet


@dataclass
class DetectionRun:
    ruleset: RuleSet
    plan: Plan
    stats: RunStats
    alerts: list[Alert] = field(default_factory=list)
    matches: int = 0
    matches_by_rule: dict[str, list[Match]] = field(default_factory=dict)
    correlation_errors: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def rules_run(self) -> int:
        return len(self.plan.compiled)


def detect(connection: duckdb.DuckDBPyConnection, ruleset: RuleSet,
           vectorised: bool = True, cache: CompileCache | None = None) -> DetectionRun:
    started = clock.perf_counter()
    plan = plan_rules(ruleset, cache)
    compiled_at = clock.perf_counter()
    tables = CaseTables.read(connection)
    run = DetectionRun(ruleset, plan, RunStats())
    with collector_paused():  # matches are plain objects: nothing for the collector to do
        matches = list(run_rules(connection, plan.compiled, tables, run.stats, vectorised))
    matched_at = clock.perf_counter()
    run.matches = len(matches)
    by_rule: dict[str, list[Match]] = defaultdict(list)
    for match in matches:
        by_rule[match.rule.loaded.id].append(match)
    run.matches_by_rule = by_rule
    correlations = [loaded for loaded in ruleset.rules if loaded.is_correlation]
    evidence_only = _evidence_only(correlations, ruleset)
    for rule_id, found in by_rule.items():
        if rule_id in evidence_only:
            continue
        run.alerts.extend(
            Alert(match.rule.loaded, _ref(match), time=match.time) for match in found
        )
    for loaded in correlations:
        if loaded.id in evidence_only:  # an inner correlation of a chain, generate: false
            continue
        try:
            run.alerts.extend(_correlate(connection, loaded, ruleset, by_rule, tables))
        except CorrelationError as error:
            run.correlation_errors[loaded.id] = str(error)
    run.seconds = {
        "compile": compiled_at - started,
        "match": matched_at - compiled_at,
        "correlate": clock.perf_counter() - matched_at,
    }
    return run


def _ref(match: Match) -> EventRef:
    return EventRef(match[2], match[3], match[4], match[5], match[6])


def _by_reference(ruleset: RuleSet) -> dict[str, LoadedRule]:
    index: dict[str, LoadedRule] = {}
    for loaded in ruleset.rules:
        for name in loaded.names:
            index.setdefault(name, loaded)
    return index


def _evidence_only(correlations: Iterable[LoadedRule], ruleset: RuleSet) -> set[str]:
    """Rules (base rules and inner correlations) that only feed correlations with
    `generate: false`."""
    index = _by_reference(ruleset)
    quiet: set[str] = set()
    loud: set[str] = set()
    for loaded in correlations:
        rule = loaded.rule
        if not isinstance(rule, SigmaCorrelationRule):
            continue
        for reference in references_of(rule):
            target = index.get(reference)
            if target is not None:
                (loud if rule.generate else quiet).add(target.id)
    return quiet - loud


def _base_references(correlation: SigmaCorrelationRule, index: dict[str, LoadedRule],
                     needed: dict[str, set[str]], depth: int = 0) -> None:
    """Every base rule a correlation chain rests on, with the fields each must provide."""
    if depth > 16:
        raise CorrelationError(f"correlation {correlation.title!r} nests too deeply")
    fields = fields_needed(correlation)
    for reference in references_of(correlation):
        inner = resolved_rule(correlation, reference)
        target = index.get(reference)
        if isinstance(inner, SigmaCorrelationRule) or (target is not None
                                                        and target.is_correlation):
            chained = inner if isinstance(inner, SigmaCorrelationRule) else None
            if chained is None and target is not None and isinstance(target.rule,
                                                                     SigmaCorrelationRule):
                chained = target.rule
            if chained is not None:
                _base_references(chained, index, needed, depth + 1)
            continue
        needed.setdefault(reference, set()).update(fields.get(reference, []))


def _correlate(connection: duckdb.DuckDBPyConnection, loaded: LoadedRule, ruleset: RuleSet,
               by_rule: dict[str, list[Match]], tables: CaseTables) -> list[Alert]:
    correlation = loaded.rule
    if not isinstance(correlation, SigmaCorrelationRule):
        return []
    index = _by_reference(ruleset)
    needed: dict[str, set[str]] = {}
    _base_references(correlation, index, needed)
    members: dict[str, list[Member]] = {}
    refs: dict[str, EventRef] = {}
    for reference, field_names in needed.items():
        target = index.get(reference)
        found = by_rule.get(target.id, []) if target is not None else []
        values = _field_values(connection, found, sorted(field_names), tables)
        members[reference] = []
        for match in found:
            if match.time is None:
                continue
            refs[match.uid] = _ref(match)
            members[reference].append(
                Member(reference, match.uid, match.time.replace(tzinfo=UTC),
                       values.get(match.uid, {}))
            )
    hits = evaluate_chain(correlation, members)
    inner_members: dict[str, tuple[Member, ...]] = {}
    _inner_hits(correlation, members, inner_members)
    return [_alert(loaded, correlation, hit, refs, inner_members) for hit in hits]


def _inner_hits(correlation: SigmaCorrelationRule, members: dict[str, list[Member]],
                into: dict[str, tuple[Member, ...]], depth: int = 0) -> None:
    """The members of every inner correlation's hits, by the id under which the hit is a member
    of the outer one (evaluation is deterministic, so the ids are those evaluate_chain used)."""
    if depth > 16:
        return
    for reference in references_of(correlation):
        inner = resolved_rule(correlation, reference)
        if isinstance(inner, SigmaCorrelationRule):
            hits = evaluate_chain(inner, members)
            converted = hits_as_members(reference, hits, metric_field=inner.type.name.lower())
            for member, hit in zip(converted, hits, strict=True):
                into[member.uid] = hit.members
            _inner_hits(inner, members, into, depth + 1)


def _events_of(members: Iterable[Member], inner: dict[str, tuple[Member, ...]]
               ) -> list[Member]:
    """Members with every inner correlation's hit replaced by the events that make it up."""
    events: list[Member] = []
    for member in members:
        if member.uid in inner:
            events.extend(_events_of(inner[member.uid], inner))
        else:
            events.append(member)
    return events


def _alert(loaded: LoadedRule, correlation: SigmaCorrelationRule, hit: CorrelationHit,
           refs: dict[str, EventRef], inner: dict[str, tuple[Member, ...]]) -> Alert:
    events = sorted(_events_of(hit.members, inner), key=lambda member: member.time)
    members = tuple(dict.fromkeys(
        refs.get(member.uid)
        or EventRef("correlation", member.uid, _naive(member.time), None, None)
        for member in events
    ))
    summary: dict[str, Any] = {
        "type": correlation.type.name.lower(),
        "group": dict(hit.group),
        "value": hit.value,
        "first": _naive(hit.time).isoformat() + "Z",
        "last": _naive(hit.end).isoformat() + "Z",
    }
    return Alert(loaded, members[0], members, summary, time=_naive(hit.time))


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _field_values(connection: duckdb.DuckDBPyConnection, matches: Sequence[Match],
                  field_names: list[str], tables: CaseTables) -> dict[str, dict[str, Any]]:
    """The values of the given Sigma fields for matched events, read through each match's
    route (so `aliases` and mapped routes such as Security 4688 resolve as the rule did)."""
    values: dict[str, dict[str, Any]] = {}
    if not field_names:
        return values
    groups: dict[tuple[str, str], tuple[Route, list[str]]] = {}
    for match in matches:
        key = (match.source_type, match.route.label)
        groups.setdefault(key, (match.route, []))[1].append(match.uid)
    for (table, _), (route, uids) in groups.items():
        columns = tables.columns.get(table, {})
        resolver = RouteFields(route)
        projections: list[exp.Expr] = [exp.column("_uid", table="t")]
        for name in field_names:
            try:
                column = resolver.column(name)
            except FieldUnavailable:
                column = None
            stored = columns.get(column.name.lower()) if isinstance(column, exp.Column) else None
            projections.append(
                exp.alias_(exp.column(stored, table="t", quoted=True) if stored else exp.null(),
                           f"f{len(projections)}")
            )
        wanted = pa.table({"uid": pa.array(sorted(set(uids)), pa.string())})
        connection.register("wanted_correlation_uids", wanted)
        try:
            query = (
                exp.select(*projections)
                .from_(exp.to_table(f"ev_{table}", quoted=True).as_("t"))
                .join("wanted_correlation_uids AS w", on="t._uid = w.uid")
            )
            for row in connection.execute(query.sql("duckdb")).fetchall():
                values[row[0]] = dict(zip(field_names, row[1:], strict=True))
        finally:
            connection.unregister("wanted_correlation_uids")
    return values
