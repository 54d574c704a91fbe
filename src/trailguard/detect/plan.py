"""Compiling a rule set: every base rule to one sqlglot predicate per route.

Each base rule becomes one predicate per route that serves its logsource. A rule is *refused*
when TrailGuard cannot evaluate it exactly: an unsupported feature, no ingested source for its
logsource, or fields that no route of it provides.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import duckdb
import sqlglot.expressions as exp
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from trailguard.detect.compiler import Compiler, FieldUnavailable, RuleRefused, is_false
from trailguard.detect.dialects import render
from trailguard.detect.logsources import Route, describe, routes_for
from trailguard.detect.rules import LoadedRule, RuleSet

if TYPE_CHECKING:
    from trailguard.detect.cache import CompileCache
from trailguard.detect.vector import Program, Unsupported, prepare

SYSTEM_PREFIX = "_"


FULLTEXT = "_fulltext"


@dataclass(frozen=True)
class CaseTables:
    """The source tables of a case and their columns (lower-case name -> stored name)."""

    columns: Mapping[str, Mapping[str, str]]

    @classmethod
    def read(cls, connection: duckdb.DuckDBPyConnection) -> CaseTables:
        rows = connection.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'main' AND table_name LIKE 'ev\\_%' ESCAPE '\\' "
            "ORDER BY table_name, ordinal_position"
        ).fetchall()
        columns: dict[str, dict[str, str]] = {}
        for table, column in rows:
            columns.setdefault(table.removeprefix("ev_"), {})[column.lower()] = column
        for found in columns.values():
            # Sigma writes Windows Defender's "Threat Name" as ThreatName (names keep no spaces).
            for key, column in list(found.items()):
                found.setdefault(key.replace(" ", ""), column)
        return cls(columns)


class RouteFields:
    """The fields of one route. Compilation does not depend on a case: a field the case lacks is
    supplied as NULL when the rule runs (see `engine`), so compiled rules can be cached."""

    def __init__(self, route: Route) -> None:
        self.route = route
        self.referenced: set[str] = set()

    def column(self, field_name: str) -> exp.Expr | None:
        if self.route.fields is not None:
            name = self.route.fields.get(field_name)
            if name is None:
                raise FieldUnavailable(field_name)
        else:
            name = self.route.aliases.get(field_name, field_name)
        if name.startswith(SYSTEM_PREFIX):
            return None
        self.referenced.add(name)
        return exp.column(name, quoted=True)

    def is_list(self, field_name: str) -> bool:
        return field_name in self.route.lists

    def fulltext(self) -> exp.Expr:
        name = "_raw" if self.route.fulltext == "raw" else FULLTEXT
        self.referenced.add(name)
        return exp.column(name, quoted=True)


@dataclass
class CompiledRoute:
    """One rule on one route: its predicate, the columns it reads, and its DuckDB text (rendered
    once, on first use, from the tree; sqlglot escapes every literal in it)."""

    route: Route
    predicate: exp.Expr | None
    columns: frozenset[str]
    duckdb_sql: str | None = None
    program: Program | None = None  # the vectorised form, prepared on first use
    unsupported: bool = False  # the vectoriser cannot run it: SQL only
    cached_program: Callable[[], Program | None] | None = None
    """Decodes the vectorised form the compile cache holds, on first use (most rules of a
    big rule set never run on a given case: their logsource has no rows)."""

    def vector_program(self) -> Program | None:
        if self.program is None and not self.unsupported and self.cached_program is not None:
            decode, self.cached_program = self.cached_program, None
            self.program = decode()
            self.unsupported = self.program is None  # damaged: the cached SQL runs it
            return self.program
        if self.program is None and not self.unsupported:
            if self.predicate is None:
                self.unsupported = True
                return None
            try:
                self.program = prepare(self.predicate)
            except Unsupported:
                self.unsupported = True
        return self.program

    def sql(self) -> str:
        if self.duckdb_sql is None:
            if self.predicate is None:
                raise RuleRefused("a compiled rule without its predicate or SQL")
            self.duckdb_sql = render(self.predicate, "duckdb")
        return self.duckdb_sql


@dataclass
class CompiledRule:
    loaded: LoadedRule
    routes: list[CompiledRoute]


@dataclass
class Plan:
    compiled: list[CompiledRule] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # rule id -> reason


def compile_rule(loaded: LoadedRule) -> CompiledRule:
    """A base rule's predicate on every route of its logsource; RuleRefused says why not."""
    rule = loaded.rule
    if not isinstance(rule, SigmaRule):
        raise RuleRefused("a correlation rule has no predicate of its own")
    routes = routes_for(rule.logsource)
    if not routes:
        raise RuleRefused(f"no ingested source serves logsource {describe(rule.logsource)}")
    compiled: list[CompiledRoute] = []
    unavailable: list[str] = []
    for route in routes:
        fields = RouteFields(route)
        try:
            predicate = Compiler(fields).rule(rule)
        except FieldUnavailable as missing:
            unavailable.append(f"{route.label} has no field {missing.field}")
            continue
        except RuleRefused:
            raise
        except (SigmaError, ValueError, TypeError, AttributeError, RecursionError) as error:
            raise RuleRefused(f"cannot compile: {error}") from error
        if not is_false(predicate):
            compiled.append(CompiledRoute(route, predicate, frozenset(fields.referenced)))
    if not compiled:
        raise RuleRefused("; ".join(unavailable) or "the condition can never be true")
    return CompiledRule(loaded, compiled)


def _release(loaded: LoadedRule, compiled: CompiledRule | None) -> None:
    """Once its DuckDB text and vectorised program are made (the cache entry holds both), a
    base rule keeps neither its sqlglot trees nor its pySigma object: 2,400 of them would
    otherwise hold most of a gigabyte."""
    if compiled is not None:
        for route in compiled.routes:
            if route.duckdb_sql is not None and (route.program is not None or route.unsupported):
                route.predicate = None
    loaded.rule = None


def plan_rules(ruleset: RuleSet, cache: CompileCache | None = None) -> Plan:
    """Every base rule compiled (or taken from the cache), or refused with the reason."""
    plan = Plan()
    fresh: dict[str, list[dict[str, Any]]] = {}
    for loaded in ruleset.rules:
        if loaded.is_correlation:
            continue
        if loaded.compiled is not None:
            plan.compiled.append(loaded.compiled)
            continue
        if loaded.cached_refusal is not None:
            plan.refused[loaded.id] = loaded.cached_refusal
            continue
        compiled: CompiledRule | None = None
        refused: str | None = None
        try:
            compiled = compile_rule(loaded)
            plan.compiled.append(compiled)
        except RuleRefused as refusal:
            refused = plan.refused[loaded.id] = str(refusal)
        if cache is not None and loaded.file_sha256 is not None:
            from trailguard.detect.cache import encode_rule

            entry = encode_rule(loaded, compiled, refused)
            if entry is not None:
                fresh.setdefault(loaded.file_sha256, []).append(entry)
                _release(loaded, compiled)
    if cache is not None:
        for sha256, entries in fresh.items():
            cache.put(sha256, entries)
    return plan
