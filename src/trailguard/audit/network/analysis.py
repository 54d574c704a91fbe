"""Rule-set hygiene: shadowed, redundant and conflicting rules, per pool of groups.

A *pool* is the set of groups one interface carries (Alibaba pools their rules; AWS unions them);
a group attached to nothing is analysed alone. In first-match layers (Alibaba groups, AWS network
ACLs) a rule whose whole space is covered by rules evaluated before it never decides anything:

* **shadowed** when some of that space is decided by a rule with the *other* action (the rule's
  intent is silently overridden, e.g. an accept under a higher-priority drop, or a drop that
  priority-blind tools believe closes a port a higher-priority accept opens);
* **redundant** when all of it is decided by rules with the *same* action (removing it changes
  nothing).

In AWS security groups (a union, no order) a rule is redundant when the union of the other rules
covers it; larger rules are kept, so only one of two duplicates is reported. Coverage is computed
with the same box sweep as the exposure, never by enumerating ports.

A rule naming a resolved prefix list is analysed as its parts (one per CIDR, disjoint) and
reported as written, once: it never decides anything only when none of its parts does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from trailguard.audit.network import alibaba, aws
from trailguard.audit.network.model import (
    ALL_PROTOCOLS,
    Direction,
    Rule,
    SecurityGroup,
    Snapshot,
)
from trailguard.audit.network.space import (
    box_of,
    grid_for,
    protocols_of,
    space_of,
)


@dataclass(frozen=True, slots=True)
class RuleIssue:
    """A rule that never decides anything (``shadowed``/``redundant``) or an equal-priority
    accept/drop overlap (``conflict``), with the rules responsible and where it applies."""

    kind: str
    rule: Rule
    by: tuple[Rule, ...]
    pool: tuple[str, ...]
    interfaces: tuple[str, ...] = ()


def covered_by(rule: Rule, earlier: Sequence[Rule]) -> list[Rule] | None:
    """The earlier rules that decide the rule's whole space (first match), or None if some of
    its space is left to a later rule or to the default."""
    where = space_of(rule)
    if where is None:
        return None
    space = where[0]
    protocols = [rule.protocol] if rule.protocol != ALL_PROTOCOLS else protocols_of(
        [*earlier, rule])
    deciders: dict[int, Rule] = {}
    for protocol in protocols:
        target = box_of(rule, protocol, space)
        if target is None:
            return None
        items = [(b, r) for r in earlier
                 if (b := box_of(r, protocol, space)) is not None and b.overlaps(target)]
        if not items:
            return None
        for row in grid_for(items, target).cells:
            for cell in row:
                if cell is None:
                    return None
                deciders[id(cell)] = cell
    return list(deciders.values())


def first_match_issues(ordered: Sequence[Rule], pool: tuple[str, ...],
                       interfaces: tuple[str, ...]) -> list[RuleIssue]:
    """Shadowed and redundant rules of one first-match list (already in evaluation order)."""
    issues = []
    for index, rule in enumerate(ordered):
        deciders = covered_by(rule, ordered[:index])
        if deciders is None:
            continue
        kind = "redundant" if all(d.action is rule.action for d in deciders) else "shadowed"
        issues.append(RuleIssue(kind, rule, tuple(deciders), pool, interfaces))
    return issues


def _size(rule: Rule) -> int:
    where = space_of(rule)
    addresses = 1 if where is None else where[2] - where[1] + 1
    return rule.ports.size * addresses * (1000 if rule.protocol == ALL_PROTOCOLS else 1)


def union_issues(rules: Sequence[Rule], pool: tuple[str, ...],
                 interfaces: tuple[str, ...]) -> list[RuleIssue]:
    """Redundant allow rules of an AWS security-group union (larger rules are kept first)."""
    ordered = sorted(rules, key=_size, reverse=True)
    return [RuleIssue("redundant", rule, tuple(deciders), pool, interfaces)
            for index, rule in enumerate(ordered)
            if (deciders := covered_by(rule, ordered[:index])) is not None]


def _overlap(a: Rule, b: Rule) -> bool:
    where_a, where_b = space_of(a), space_of(b)
    if where_a is None or where_b is None or where_a[0] != where_b[0]:
        return False
    protocols = protocols_of([a, b]) if ALL_PROTOCOLS in (a.protocol, b.protocol) else [a.protocol]
    for protocol in protocols:
        box_a, box_b = box_of(a, protocol, where_a[0]), box_of(b, protocol, where_a[0])
        if box_a is not None and box_b is not None and box_a.overlaps(box_b):
            return True
    return False


def conflicts(rules: Sequence[Rule], pool: tuple[str, ...],
              interfaces: tuple[str, ...]) -> list[RuleIssue]:
    """Accept and drop rules of equal priority whose spaces overlap (drop wins there)."""
    drops = [r for r in rules if r.action.value == "drop"]
    return [RuleIssue("conflict", accept, (drop,), pool, interfaces)
            for accept in rules if accept.action.value == "accept"
            for drop in drops if drop.priority == accept.priority and _overlap(accept, drop)]


def pools(snapshot: Snapshot) -> dict[tuple[str, ...], tuple[str, ...]]:
    """Each distinct set of groups on an interface -> the interfaces; unattached groups alone."""
    result: dict[tuple[str, ...], list[str]] = {}
    attached: set[str] = set()
    for interface in snapshot.interfaces:
        key = tuple(sorted(g for g in interface.group_ids if g in snapshot.groups))
        if key:
            result.setdefault(key, []).append(interface.resource)
            attached |= set(key)
    for group_id in snapshot.groups:
        if group_id not in attached:
            result.setdefault((group_id,), [])
    return {k: tuple(v) for k, v in result.items()}


def _pool_groups(snapshot: Snapshot, pool: tuple[str, ...]) -> list[SecurityGroup]:
    return [snapshot.groups[g] for g in pool]


def rule_issues(snapshot: Snapshot) -> list[RuleIssue]:
    """Shadowed, redundant and conflicting rules of every pool (and every AWS network ACL)."""
    issues: list[RuleIssue] = []
    for pool, interfaces in pools(snapshot).items():
        groups = _pool_groups(snapshot, pool)
        for direction in Direction:
            if snapshot.provider == "aliyun":
                ordered = alibaba.pooled_rules(groups, direction)
                issues += first_match_issues(ordered, pool, interfaces)
                issues += conflicts(ordered, pool, interfaces)
            else:
                rules = [r for g in groups for r in g.rules if r.direction is direction]
                issues += union_issues(rules, pool, interfaces)
    for acl in snapshot.acls:
        for direction in Direction:
            layer = aws.acl_layer(acl, direction)
            issues += [i for i in first_match_issues(layer.rules, (acl.acl_id,), acl.subnet_ids)
                       if i.rule.rule_id != "*"]  # the implicit deny cannot be removed
    return as_written(issues, (r for g in snapshot.groups.values() for r in g.rules))


def _unique(rules: Iterable[Rule]) -> tuple[Rule, ...]:
    return tuple(dict.fromkeys(rules))


def as_written(issues: Sequence[RuleIssue], rules: Iterable[Rule]) -> list[RuleIssue]:
    """Issues of prefix-list parts folded into issues of the rules as written.

    A written rule never decides anything when every one of its parts has a shadowed or
    redundant issue (``shadowed`` if any part is); a conflict is reported once per written pair.
    Other issues pass unchanged.
    """
    parts = Counter(r.written for r in rules if r.written is not r)
    result: list[RuleIssue | None] = []
    folded: dict[tuple[object, ...], tuple[int, list[RuleIssue]]] = {}
    for issue in issues:
        written = issue.rule.written
        if issue.kind == "conflict":
            key: tuple[object, ...] = ("conflict", written, issue.pool,
                                       _unique(r.written for r in issue.by))
        elif written is not issue.rule:
            key = ("never", written, issue.pool)
        else:
            result.append(issue)
            continue
        if key not in folded:
            folded[key] = (len(result), [])
            result.append(None)
        folded[key][1].append(issue)
    for key, (index, group) in folded.items():
        first, written = group[0], group[0].rule.written
        if key[0] == "conflict":
            result[index] = replace(first, rule=written, by=_unique(r.written for r in first.by))
        elif len({i.rule for i in group}) == parts[written]:
            kind = "shadowed" if any(i.kind == "shadowed" for i in group) else "redundant"
            result[index] = replace(first, kind=kind, rule=written,
                                    by=_unique(r for i in group for r in i.by))
    return [i for i in result if i is not None]

