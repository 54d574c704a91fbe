"""What the engine reads from a pySigma `SigmaCorrelationRule`, validated once."""

from __future__ import annotations

from dataclasses import dataclass

from sigma.correlations import (
    SigmaCorrelationCondition,
    SigmaCorrelationRule,
    SigmaExtendedCorrelationCondition,
    SigmaRuleReference,
)

from trailguard.detect.correlation.model import (
    Bound,
    Operator,
    Threshold,
    UnsupportedCorrelation,
)
from trailguard.detect.correlation.temporal import Clause, clauses_of

AGGREGATES = ("event_count", "value_count", "value_sum", "value_avg", "value_median",
              "value_percentile")
NUMERIC = ("value_sum", "value_avg", "value_median", "value_percentile")
TEMPORAL = ("temporal", "temporal_ordered")
MAX_ORDERED_SUBSETS = 1000
_OPERATORS: dict[str, Operator] = {
    "gt": "gt", "gte": "gte", "lt": "lt", "lte": "lte", "eq": "eq", "neq": "neq"
}


@dataclass(frozen=True, slots=True)
class Plan:
    """A correlation as the engine evaluates it.

    `group_fields[ref]` and `value_fields[ref]` are the referenced rule's own field names
    (aliases resolved); `group_names` are the names a hit reports its group under.
    """

    title: str
    kind: str
    references: tuple[str, ...]
    group_names: tuple[str, ...]
    group_fields: dict[str, tuple[str, ...]]
    value_fields: dict[str, tuple[str, ...]]
    span: int
    threshold: Threshold | None
    clauses: tuple[Clause, ...] | None
    percentile: int | None

    @property
    def multi_value(self) -> bool:
        """value_count over a list of fields: distinct combinations are counted."""
        return any(len(fields) > 1 for fields in self.value_fields.values())


def plan_of(correlation: SigmaCorrelationRule, threshold: Threshold | None = None) -> Plan:
    """Read and validate `correlation`; `threshold` replaces its condition (e.g. a range)."""
    if correlation.type is None:
        raise UnsupportedCorrelation(f"correlation {correlation.title!r} has no type")
    kind = correlation.type.name.lower()
    if kind not in AGGREGATES + TEMPORAL:
        raise UnsupportedCorrelation(f"correlation type {kind!r} is not supported")
    if correlation.timespan is None:
        raise UnsupportedCorrelation(f"correlation {correlation.title!r} has no timespan")
    references = references_of(correlation)
    slots = {reference: slot for slot, reference in enumerate(references)}
    condition = correlation.condition
    if isinstance(condition, SigmaExtendedCorrelationCondition):
        chosen, clauses = None, tuple(clauses_of(condition.parsed, slots))
    else:
        chosen, clauses = threshold or _threshold(condition), None
    plan = Plan(
        title=correlation.title,
        kind=kind,
        references=references,
        group_names=tuple(correlation.group_by or ()),
        group_fields={r: _group_fields(correlation, r) for r in references},
        value_fields={r: _value_fields(correlation, r) for r in references},
        span=correlation.timespan.seconds * 1_000_000,
        threshold=chosen,
        clauses=clauses,
        percentile=_percentile(correlation, kind),
    )
    _check(plan)
    return plan


def _check(plan: Plan) -> None:
    if not plan.references:
        raise UnsupportedCorrelation(f"correlation {plan.title!r} references no rule")
    if plan.kind in NUMERIC and plan.multi_value:
        raise UnsupportedCorrelation(f"{plan.kind} over several fields has no meaning")
    if plan.kind in AGGREGATES and plan.kind != "event_count" and not any(
        plan.value_fields.values()
    ):
        raise UnsupportedCorrelation(f"{plan.kind} correlation {plan.title!r} needs a field")
    for clause in plan.clauses or ():
        if not clause.present:
            raise UnsupportedCorrelation(
                f"correlation {plan.title!r}: a condition branch made only of 'not' needs every "
                "event of the group as context, which the engine is not given; add a rule that "
                "must fire in that branch"
            )


def references_of(correlation: SigmaCorrelationRule) -> tuple[str, ...]:
    """The rule references as written in `rules:` (or, without it, in the condition)."""
    if correlation.rules is not None:
        names = [reference.reference for reference in correlation.rules]
    elif isinstance(correlation.condition, SigmaExtendedCorrelationCondition):
        names = correlation.condition.get_referenced_rules()
    else:
        names = []
    return tuple(dict.fromkeys(names))


def resolved_rule(correlation: SigmaCorrelationRule, reference: str) -> object | None:
    """The rule a reference resolved to, when the correlation came from a SigmaCollection."""
    for ref in correlation.referenced_rules:
        if ref.reference == reference:
            return getattr(ref, "rule", None)
    return None


def _names_of(correlation: SigmaCorrelationRule, reference: str) -> set[str]:
    names = {reference}
    rule = resolved_rule(correlation, reference)
    if rule is not None:
        names |= {str(n) for n in (getattr(rule, "name", None), getattr(rule, "id", None)) if n}
    return names


def field_for(correlation: SigmaCorrelationRule, reference: str, name: str) -> str:
    """The field that carries group-by (or value) `name` in `reference`'s events."""
    names = _names_of(correlation, reference)
    for alias in correlation.aliases:
        if alias.alias != name:
            continue
        for target, field_name in alias.mapping.items():
            if _reference_text(target) in names:
                return field_name
    return name


def _reference_text(target: SigmaRuleReference | str) -> str:
    return target.reference if isinstance(target, SigmaRuleReference) else str(target)


def _group_fields(correlation: SigmaCorrelationRule, reference: str) -> tuple[str, ...]:
    return tuple(field_for(correlation, reference, name) for name in correlation.group_by or ())


def _value_fields(correlation: SigmaCorrelationRule, reference: str) -> tuple[str, ...]:
    condition = correlation.condition
    if not isinstance(condition, SigmaCorrelationCondition) or not condition.fieldref:
        return ()
    names = [condition.fieldref] if isinstance(condition.fieldref, str) else condition.fieldref
    return tuple(field_for(correlation, reference, name) for name in names)


def _threshold(condition: SigmaCorrelationCondition) -> Threshold:
    op = _OPERATORS.get(condition.op.name.lower())
    if op is None:
        raise UnsupportedCorrelation(f"correlation operator {condition.op.name} is not supported")
    return Threshold((Bound(op, condition.count),))


def _percentile(correlation: SigmaCorrelationRule, kind: str) -> int | None:
    if kind == "value_median":
        return 50
    if kind != "value_percentile":
        return None
    condition = correlation.condition
    percentile = getattr(condition, "percentile", None)
    if percentile is None or not 0 <= percentile <= 100:
        raise UnsupportedCorrelation(
            f"value_percentile correlation {correlation.title!r} needs a percentile in 0..100"
        )
    return int(percentile)
