"""Sigma detections compiled to sqlglot predicate trees, exact to the letter of the specification.

A rule is compiled once per *route* (a table of the case plus the rows and field names that serve
the rule's logsource, see `logsources`). The result is one boolean sqlglot expression; it is never
assembled from strings, so a rule value can hold quotes, ``%``, ``_``, backslashes or SQL and
still only ever be a literal.

Semantics, as the Sigma specification and pySigma-backend-sqlite 2.1.1 read them:

* Strings compare case-insensitively (both sides folded with ``lower``) unless ``|cased``. Rule
  values are folded by `fold`, character by character as the engines' ``lower`` does.
* ``*`` and ``?`` are wildcards; everything else, ``%`` ``_`` and ``\\`` included, is literal.
  Plain ``contains``/``startswith``/``endswith`` shapes become string functions, anything else a
  ``LIKE`` with ``ESCAPE '\\'`` (`dialects` drops the clause where the engine needs none).
* A field the table does not have is NULL, so its comparisons are false and ``NOT`` of them is
  true: every ``NOT`` wraps its operand in ``COALESCE(…, FALSE)``. Absent fields are folded at
  compile time, so a rule whose fields a table lacks costs nothing.
* Numbers and booleans compare as the text the store holds; ``lt``/``gt`` compare
  ``TRY_CAST(field AS DOUBLE)`` (a value that is not a number, ``NaN`` included, is simply not
  less or greater).
* ``re`` is a partial match (as ``re.search``), case-sensitive unless ``|i``; ``m`` and ``s``
  become inline flags.
* ``cidr`` matches the address prefixes of the network (pySigma's exact expansion).
* Keywords (values without a field) are case-insensitive substrings of the route's full text.
* Placeholders left unresolved by the pipeline match any value (documented in the README).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
import sqlglot.expressions as exp
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.rule import SigmaRule
from sigma.types import (
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaTimestampPart,
    SigmaType,
    SpecialChars,
)

from trailguard.errors import TrailGuardError

TRUE: exp.Expr = exp.true()
FALSE: exp.Expr = exp.false()
LIKE_ESCAPE = "\\"


class RuleRefused(TrailGuardError):
    """The rule uses something TrailGuard cannot evaluate exactly; it is refused, not guessed."""


class FieldUnavailable(Exception):
    """A route with a fixed field mapping does not provide a field the rule asks for."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


class FieldResolver(Protocol):
    """Where the fields of a rule live in one table."""

    def column(self, field: str) -> exp.Expr | None:
        """The text expression holding `field`, None when the table has no such field.

        Raises FieldUnavailable when the route cannot provide the field at all."""

    def is_list(self, field: str) -> bool:
        """True when the field holds a JSON list whose members are compared one by one."""

    def fulltext(self) -> exp.Expr:
        """The text that keyword (field-less) detections search."""


# --- boolean algebra with constant folding ---------------------------------------------------


def is_true(node: exp.Expr) -> bool:
    return isinstance(node, exp.Boolean) and bool(node.this)


def is_false(node: exp.Expr) -> bool:
    return isinstance(node, exp.Boolean) and not node.this


def _balanced(items: Sequence[exp.Expr], join: Callable[..., exp.Expr]) -> exp.Expr:
    """Join many operands as a balanced tree, so depth stays logarithmic (rules with thousands of
    alternatives must not overflow a recursive generator or an engine's expression depth)."""
    if len(items) == 1:
        return items[0]
    middle = len(items) // 2
    return join(_balanced(items[:middle], join), _balanced(items[middle:], join))


def all_of(items: Iterable[exp.Expr]) -> exp.Expr:
    kept: list[exp.Expr] = []
    for item in items:
        if is_false(item):
            return FALSE
        if not is_true(item):
            kept.append(item)
    if not kept:
        return TRUE
    return _balanced(kept, lambda a, b: exp.and_(a, b, copy=False))


def any_of(items: Iterable[exp.Expr]) -> exp.Expr:
    kept: list[exp.Expr] = []
    for item in items:
        if is_true(item):
            return TRUE
        if not is_false(item):
            kept.append(item)
    if not kept:
        return FALSE
    return _balanced(_merge_equalities(kept), lambda a, b: exp.or_(a, b, copy=False))


def negate(item: exp.Expr) -> exp.Expr:
    """Sigma NOT: true when the operand is false *or unknown* (a missing field)."""
    if is_true(item):
        return FALSE
    if is_false(item):
        return TRUE
    return exp.Not(this=exp.Coalesce(this=item, expressions=[FALSE]))


def _merge_equalities(items: list[exp.Expr]) -> list[exp.Expr]:
    """`x = 'a' OR x = 'b' OR …` becomes `x IN ('a', 'b', …)`: one hash probe, not n compares."""
    groups: dict[str, list[exp.Expr]] = {}
    order: list[str | exp.Expr] = []
    for item in items:
        if isinstance(item, exp.EQ) and isinstance(item.expression, exp.Literal):
            key = item.this.sql()
            if key not in groups:
                groups[key] = []
                order.append(key)
            groups[key].append(item)
        else:
            order.append(item)
    merged: list[exp.Expr] = []
    for entry in order:
        if not isinstance(entry, str):
            merged.append(entry)
            continue
        members = groups[entry]
        if len(members) == 1:
            merged.append(members[0])
        else:
            values = list({m.expression.this: m.expression for m in members}.values())
            merged.append(exp.In(this=members[0].this, expressions=values))
    return merged


# --- values --------------------------------------------------------------------------------


def text(value: str) -> exp.Literal:
    return exp.Literal.string(value)


# str.lower applies two mappings no engine's lower does: U+0130 becomes "i" plus a combining dot
# (two characters, so '?' and lengths shift) and a capital sigma at the end of a word becomes the
# final sigma. DuckDB, Arrow and ClickHouse map one character to one character.
_SIMPLE_LOWER = str.maketrans({"\u0130": "i", "\u03a3": "\u03c3"})


def fold(value: str) -> str:
    """A text lower-cased as the engines' ``lower`` does it: each character by its simple
    lowercase mapping, whatever surrounds it."""
    if "\u0130" in value or "\u03a3" in value:  # rare: translate only then (long texts)
        value = value.translate(_SIMPLE_LOWER)
    return value.lower()


def folded(column: exp.Expr, value: str, cased: bool) -> tuple[exp.Expr, str]:
    """The column and value as compared: both lower-cased unless the match is case-sensitive or
    the value has no letters to fold."""
    if cased or value.lower() == value.upper():
        return column, value
    return exp.Lower(this=column), fold(value)


@dataclass(frozen=True, slots=True)
class Pattern:
    """A Sigma string as literal runs and wildcards: `tokens` holds str runs and '*'/'?' marks."""

    tokens: tuple[str | SpecialChars, ...]

    @classmethod
    def of(cls, value: SigmaString) -> Pattern:
        tokens: list[str | SpecialChars] = []
        for part in value.s:
            if isinstance(part, Placeholder):
                part = SpecialChars.WILDCARD_MULTI
            if isinstance(part, str) and tokens and isinstance(tokens[-1], str):
                tokens[-1] += part
            elif isinstance(part, str):
                if part:
                    tokens.append(part)
            elif part == SpecialChars.WILDCARD_MULTI and tokens and tokens[-1] == part:
                continue
            else:
                tokens.append(part)
        return cls(tuple(tokens))

    @property
    def plain(self) -> str | None:
        """The literal when there is no wildcard at all."""
        if all(isinstance(t, str) for t in self.tokens):
            return "".join(t for t in self.tokens if isinstance(t, str))
        return None

    def like(self) -> str:
        """The LIKE pattern, with `\\`, `%` and `_` escaped by a backslash."""
        out = []
        for token in self.tokens:
            if token == SpecialChars.WILDCARD_MULTI:
                out.append("%")
            elif token == SpecialChars.WILDCARD_SINGLE:
                out.append("_")
            elif isinstance(token, str):
                out.append(
                    token.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                )
        return "".join(out)

    def lower(self) -> Pattern:
        return Pattern(tuple(fold(t) if isinstance(t, str) else t for t in self.tokens))

    def has_letters(self) -> bool:
        return any(isinstance(t, str) and t.lower() != t.upper() for t in self.tokens)


def string_match(column: exp.Expr, value: SigmaString, cased: bool) -> exp.Expr:
    pattern = Pattern.of(value)
    if not pattern.tokens:
        return exp.EQ(this=column, expression=text(""))
    if not cased and pattern.has_letters():
        column, pattern = exp.Lower(this=column), pattern.lower()
    plain = pattern.plain
    if plain is not None:
        return exp.EQ(this=column, expression=text(plain))
    tokens = pattern.tokens
    multi = SpecialChars.WILDCARD_MULTI
    literals = [t for t in tokens if isinstance(t, str)]
    if SpecialChars.WILDCARD_SINGLE not in tokens and len(literals) <= 1:
        if not literals:  # only '*': any value, even empty, but the field must be there
            return exp.Not(this=exp.Is(this=column, expression=exp.Null()))
        literal = text(literals[0])
        if tokens[0] == multi and tokens[-1] == multi:
            return exp.Contains(this=column, expression=literal)
        if tokens[-1] == multi:
            return exp.StartsWith(this=column, expression=literal)
        return exp.EndsWith(this=column, expression=literal)
    return exp.Escape(
        this=exp.Like(this=column, expression=text(pattern.like())),
        expression=text(LIKE_ESCAPE),
    )


# One character of a JSON string: anything but a quote or backslash, or an escape sequence.
_JSON_CHAR = r'(?:[^"\\]|\\.)'


def list_member_match(column: exp.Expr, value: SigmaString, cased: bool) -> exp.Expr:
    """A value compared with each member of a JSON list of strings held as compact text
    (`["SYSCALL","EXECVE"]`). A member starts after `[` or `,` and ends before `,` or `]`;
    inside a JSON string a quote is always escaped, so `,"` never appears there and an escaped
    quote can never pose as a member boundary."""
    regex = [r'(?:\[|,)"']
    for token in Pattern.of(value).tokens:
        if token == SpecialChars.WILDCARD_MULTI:
            regex.append(_JSON_CHAR + "*")
        elif token == SpecialChars.WILDCARD_SINGLE:
            regex.append(_JSON_CHAR)
        elif isinstance(token, str):
            regex.append(re_escape(orjson.dumps(token).decode()[1:-1]))
    regex.append(r'"(?:,|\])')
    flags = "" if cased else "(?i)"
    return exp.RegexpLike(this=column, expression=text(flags + "".join(regex)))


def re_escape(literal: str) -> str:
    """A literal as a regular expression that RE2, Java and Python read alike: every ASCII
    punctuation character is escaped (letters, digits, `_`, space and non-ASCII stay)."""
    return "".join(
        "\\" + c if ord(c) < 128 and not c.isalnum() and c not in "_ " and c.isprintable() else c
        for c in literal
    )


def regex_match(column: exp.Expr, value: SigmaRegularExpression) -> exp.Expr:
    flags = ""
    if SigmaRegularExpressionFlag.IGNORECASE in value.flags:
        flags += "i"
    if SigmaRegularExpressionFlag.MULTILINE in value.flags:
        flags += "m"
    if SigmaRegularExpressionFlag.DOTALL in value.flags:
        flags += "s"
    regex = value.regexp.to_plain() if isinstance(value.regexp, SigmaString) else str(value.regexp)
    prefix = f"(?{flags})" if flags else ""
    return exp.RegexpLike(this=column, expression=text(prefix + regex))


_COMPARE: dict[Any, type[exp.Binary]] = {
    SigmaCompareExpression.CompareOperators.LT: exp.LT,
    SigmaCompareExpression.CompareOperators.LTE: exp.LTE,
    SigmaCompareExpression.CompareOperators.GT: exp.GT,
    SigmaCompareExpression.CompareOperators.GTE: exp.GTE,
}


def compare(column: exp.Expr, value: SigmaCompareExpression) -> exp.Expr:
    operator = _COMPARE.get(value.op)
    if operator is None:  # pragma: no cover - pySigma defines exactly these four
        raise RuleRefused(f"comparison operator {value.op} is not supported")
    number = value.number.number
    # NULLIF turns NaN into NULL: DuckDB and Spark order NaN above every number, so `|gt` would
    # match the text 'NaN' (ClickHouse's NaN compares false and its NULLIF keeps it: the same).
    as_number = exp.Nullif(
        this=exp.TryCast(this=column, to=exp.DataType.build("DOUBLE")),
        expression=exp.cast(text("nan"), "DOUBLE"),
    )
    return operator(this=as_number, expression=exp.Literal.number(number))


def number_text(number: float) -> str:
    if isinstance(number, float) and number.is_integer():
        return str(int(number))
    return str(number)


# --- the condition tree ----------------------------------------------------------------------


class Compiler:
    """Compiles the parsed conditions of one rule against one route's fields."""

    def __init__(self, resolver: FieldResolver) -> None:
        self.resolver = resolver

    def rule(self, rule: SigmaRule) -> exp.Expr:
        conditions = [condition.parse() for condition in rule.detection.parsed_condition]
        return any_of(self.node(condition) for condition in conditions)

    def node(self, node: object) -> exp.Expr:
        if isinstance(node, ConditionAND):
            return all_of(self.node(arg) for arg in node.args)
        if isinstance(node, ConditionOR):
            return any_of(self.node(arg) for arg in node.args)
        if isinstance(node, ConditionNOT):
            return negate(self.node(node.args[0]))
        if isinstance(node, ConditionFieldEqualsValueExpression):
            return self.field(node.field, node.value)
        if isinstance(node, ConditionValueExpression):
            return self.keyword(node.value)
        raise RuleRefused(f"condition element {type(node).__name__} is not supported")

    def field(self, name: str | None, value: SigmaType) -> exp.Expr:
        if name is None:  # pySigma keeps field-less values here after some transformations
            return self.keyword(value)
        if isinstance(value, SigmaTimestampPart) or (
            isinstance(value, SigmaCompareExpression)
            and isinstance(value.number, SigmaTimestampPart)
        ):
            # A number to pySigma, but it means "the hour (…) of a timestamp field": comparing
            # the field's text with it would silently match other events.
            raise RuleRefused("timestamp-part modifiers (|minute, |hour, …) are not supported")
        column = self.resolver.column(name)
        if isinstance(value, SigmaExpansion):
            return any_of(self.field(name, item) for item in value.values)
        if isinstance(value, SigmaNull):
            return TRUE if column is None else exp.Is(this=column, expression=exp.Null())
        if isinstance(value, SigmaExists):
            if column is None:
                return FALSE if value.exists else TRUE
            present = exp.Not(this=exp.Is(this=column, expression=exp.Null()))
            return present if value.exists else exp.Is(this=column, expression=exp.Null())
        if column is None:
            return FALSE
        if isinstance(value, SigmaFieldReference):
            return self.field_reference(column, value)
        if self.resolver.is_list(name):
            return self.list_value(column, value)
        return self.value(column, value)

    def value(self, column: exp.Expr, value: SigmaType) -> exp.Expr:
        if isinstance(value, SigmaString):
            return string_match(column, value, isinstance(value, SigmaCasedString))
        if isinstance(value, SigmaBool):
            spellings = ("true", "1") if value.boolean else ("false", "0")
            return exp.In(
                this=exp.Lower(this=column), expressions=[text(word) for word in spellings]
            )
        if isinstance(value, SigmaNumber):
            return exp.EQ(this=column, expression=text(number_text(value.number)))
        if isinstance(value, SigmaRegularExpression):
            return regex_match(column, value)
        if isinstance(value, SigmaCompareExpression):
            return compare(column, value)
        if isinstance(value, SigmaCIDRExpression):
            return any_of(
                string_match(column, SigmaString(prefix), False) for prefix in value.expand()
            )
        raise RuleRefused(f"value type {type(value).__name__} is not supported")

    def list_value(self, column: exp.Expr, value: SigmaType) -> exp.Expr:
        if isinstance(value, SigmaString):
            return list_member_match(column, value, isinstance(value, SigmaCasedString))
        if isinstance(value, SigmaNumber):
            return list_member_match(column, SigmaString(number_text(value.number)), True)
        raise RuleRefused(f"value type {type(value).__name__} on a list field is not supported")

    def field_reference(self, column: exp.Expr, value: SigmaFieldReference) -> exp.Expr:
        other = self.resolver.column(value.field)
        if other is None:
            return FALSE
        left, right = exp.Lower(this=column), exp.Lower(this=other)
        if value.starts_with and value.ends_with:
            return exp.Contains(this=left, expression=right)
        if value.starts_with:
            return exp.StartsWith(this=left, expression=right)
        if value.ends_with:
            return exp.EndsWith(this=left, expression=right)
        return exp.EQ(this=left, expression=right)

    def keyword(self, value: SigmaType) -> exp.Expr:
        if isinstance(value, SigmaExpansion):
            return any_of(self.keyword(item) for item in value.values)
        if isinstance(value, SigmaNumber):
            value = SigmaString(number_text(value.number))
        haystack = self.resolver.fulltext()
        if isinstance(value, SigmaRegularExpression):
            return regex_match(haystack, value)
        if isinstance(value, SigmaString):
            wrapped = SigmaString()
            wrapped.s = [SpecialChars.WILDCARD_MULTI, *value.s, SpecialChars.WILDCARD_MULTI]
            return string_match(haystack, wrapped, isinstance(value, SigmaCasedString))
        raise RuleRefused(f"keyword of type {type(value).__name__} is not supported")
