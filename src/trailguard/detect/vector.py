"""Evaluating compiled rule trees over Arrow columns: vectorised, shared and short-circuited.

DuckDB plans every statement before it runs it, and for Sigma predicates that costs 1–4 ms per
rule whatever the data size — with 2,400 rules, more than the whole scan. So DuckDB scans the rows
of a route once (only the columns its rules read) and this module evaluates each rule's sqlglot
tree over those Arrow columns with Arrow's compute kernels, at microseconds per node.

* Every text column is dictionary-encoded once per batch: a test runs over the *distinct* values
  (event logs repeat image paths, registry keys, call traces endlessly) and reaches the rows
  through the codes. Lower-casing, too, runs once per distinct value.
* A test's result over the distinct values is kept for the batch and shared by every rule that
  makes the same test (hundreds of rules ask whether the image ends with ``\\powershell.exe``).
* Evaluation works on *row sets*: an AND evaluates its operands cheapest first and each only on
  the rows the earlier ones kept, an OR only on the rows still false; on long unique texts (script
  blocks) a test then reads only the values of the rows still in play.
* Alternatives that test one text for many literals become one RE2 alternation.

Exactness: the compiler wraps every NOT operand in ``COALESCE(…, FALSE)`` and a row is selected
only when its predicate is TRUE, so under SQL's three-valued logic an unknown leaf behaves exactly
as false. The interpreter therefore treats NULL as false at the leaves and refuses (`Unsupported`)
a NOT over anything else; the engine then runs that rule as SQL. The tests run both paths on the
same rules and events and require identical matches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import ahocorasick
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlglot.expressions as exp

from trailguard.detect.compiler import fold, re_escape

Rows = np.ndarray  # sorted, unique int64 row numbers of a batch

# What DuckDB's TRY_CAST(… AS DOUBLE) reads as a number: C whitespace around it, digit groups
# joined by single underscores, inf/infinity. NaN is left out: the compiler maps it to NULL.
_DIGITS = r"\d+(?:_\d+)*"
_NUMBER = (
    rf"(?i)^[ \t\n\v\f\r]*[+-]?(({_DIGITS}(?:\.(?:{_DIGITS})?)?|\.{_DIGITS})"
    rf"(?:e[+-]?{_DIGITS})?|inf|infinity)[ \t\n\v\f\r]*$"
)
MERGE_ALTERNATIVES = 3
SUBSET_RATIO = 8
LONG_TEXT_BYTES = 1 << 20


class Unsupported(Exception):
    """The tree holds a node this interpreter does not evaluate."""


def _string_literal(node: exp.Expr) -> str:
    if isinstance(node, exp.Literal) and node.is_string:
        return str(node.this)
    raise Unsupported(f"expected a string literal, got {type(node).__name__}")


class Batch:
    """The rows of one route as Arrow columns, dictionary-encoded on first use."""

    def __init__(self, table: pa.Table) -> None:
        self.length = table.num_rows
        self.all_rows: Rows = np.arange(self.length, dtype=np.int64)
        self._columns = {
            name.lower(): table.column(name).combine_chunks() for name in table.column_names
        }
        self._encoded: dict[Text, tuple[pa.Array, np.ndarray]] = {}
        self._tests: dict[tuple[object, ...], np.ndarray] = {}
        self._needles: dict[Text, set[str]] = {}
        self._indexes: dict[Text, LiteralIndex | None] = {}

    def share_literals(self, needles: dict[Text, set[str]]) -> None:
        """The literals all rules of the batch test, per text: on a long text they are found in
        one Aho–Corasick pass instead of one scan each."""
        self._needles = needles

    def _index(self, text: Text) -> LiteralIndex | None:
        if text not in self._indexes:
            kind, name = text
            needles = self._needles.get(text)
            index = None
            if needles and kind in ("raw", "lower"):
                values, _ = self.encoded(("raw", name))  # a lowered text's codes are the raw's
                if values.nbytes >= LONG_TEXT_BYTES:
                    index = LiteralIndex(values, needles, lowered=kind == "lower")
            self._indexes[text] = index
        return self._indexes[text]

    def size(self, name: str) -> int:
        found = self._columns.get(name.lower())
        return 0 if found is None else found.nbytes

    def encoded(self, text: Text) -> tuple[pa.Array, np.ndarray]:
        """(distinct values, code per row) of a text; code len(values) stands for NULL."""
        found = self._encoded.get(text)
        if found is None:
            kind, name = text
            if kind == "raw":
                column = self._columns.get(name.lower())
                if column is None:
                    column = pa.nulls(self.length, pa.string())
                values, codes = _encode(column)
            else:
                raw, codes = self.encoded(("raw", name))
                values = _DERIVE[kind](raw)
            found = (values, codes.astype(np.int64, copy=False))
            self._encoded[text] = found
        return found

    def test(self, key: tuple[object, ...], text: Text,
             kernel: Callable[[pa.Array], pa.Array], rows: Rows) -> Rows:
        """The rows among `rows` whose value passes a test, the test shared by all rules."""
        _, codes = self.encoded(("raw", text[1]))  # derived texts share the raw text's codes
        row_codes = codes[rows]
        passed = self._tests.get(key)
        if passed is None and key[0] in ("literal", "literals"):
            index = self._index(text)
            if index is not None:
                passed = index.passed(key)
                if passed is not None:
                    passed = np.append(passed, False)
                    self._tests[key] = passed
        if passed is None:
            values, _ = self.encoded(text)
            if len(rows) * SUBSET_RATIO < len(values):
                # A long unique text and few rows left: test just their values, keep nothing.
                distinct = np.unique(row_codes[row_codes < len(values)])
                flags = _flags(kernel(values.take(pa.array(distinct))))
                return rows[np.isin(row_codes, distinct[flags])]
            passed = np.append(_flags(kernel(values)), False)
            self._tests[key] = passed
        kept: Rows = rows[passed[row_codes]]
        return kept


#: Texts longer than this on average (whole raw records, script blocks, rendered messages) are
#: nearly all distinct: hashing them to find repeats costs more than it saves.
DISTINCT_TEXT_BYTES = 512


def _encode(column: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """(distinct values, code per row; len(values) for NULL) of a text column. Long texts keep
    one value per non-NULL row, in row order, instead of being hashed."""
    present = len(column) - column.null_count
    if present and column.nbytes // present >= DISTINCT_TEXT_BYTES:
        values = column.drop_null()
        if column.null_count == 0:
            return values, np.arange(len(column), dtype=np.int64)
        valid = column.is_valid().to_numpy(zero_copy_only=False)
        codes = np.where(valid, np.cumsum(valid) - 1, len(values))
        return values, codes.astype(np.int64, copy=False)
    encoded = pc.dictionary_encode(column)
    values = encoded.dictionary
    return values, encoded.indices.fill_null(len(values)).to_numpy(zero_copy_only=False)


class LiteralIndex:
    """Which distinct values of one text contain, start with, end with or equal each of many
    literals, from one Aho–Corasick pass.

    The pass reads only *candidate* values: one RE2 alternation of all the literals, run by
    Arrow over every value, finds them (a text that holds none of the literals passes no literal
    test). For a lower-cased text (``lowered``) the alternation ignores case and runs on the
    raw values, so they are never lower-cased whole: on ASCII text that is exactly ``lower``'s
    result; a value with other characters is always a candidate, lower-cased as the engines do
    (:func:`compiler.fold`) and checked by the exact pass."""

    def __init__(self, values: pa.Array, needles: set[str], lowered: bool = False) -> None:
        self.needles = needles
        self.count = len(values)
        self.positions = _candidates(values, needles, lowered)
        texts: list[str | None] = values.take(pa.array(self.positions)).to_pylist()
        self.texts = [fold(text) if text and lowered else text for text in texts]
        automaton = ahocorasick.Automaton()
        for needle in needles:
            automaton.add_word(needle, needle)
        automaton.make_automaton()
        self.found: dict[str, list[int]] = {}
        for position, text in enumerate(self.texts):
            if text:
                for needle in {needle for _, needle in automaton.iter(text)}:
                    self.found.setdefault(needle, []).append(position)

    def _flags(self, kind: str, literal: str) -> np.ndarray | None:
        if literal not in self.needles:
            return None
        flags = np.zeros(self.count, dtype=bool)
        positions = self.found.get(literal, [])
        if kind != "contains":
            check = _ANCHOR_CHECKS[kind]
            positions = [p for p in positions if check(self.texts[p] or "", literal)]
        flags[self.positions[positions]] = True
        return flags

    def passed(self, program: Program) -> np.ndarray | None:
        """Per distinct value, whether a literal program passes; None if a literal is unknown."""
        pairs = [(program[2], program[3])] if program[0] == "literal" else list(program[2])
        combined: np.ndarray | None = None
        for kind, literal in pairs:
            flags = self._flags(kind, literal)
            if flags is None:
                return None
            combined = flags if combined is None else combined | flags
        return combined


#: Above this many literals the RE2 alternation is not worth building: every value is read.
PREFILTER_NEEDLES = 256


def _candidates(values: pa.Array, needles: set[str], lowered: bool) -> np.ndarray:
    """Positions of the values that may hold one of the needles (a superset, never fewer)."""
    everything: np.ndarray = np.arange(len(values), dtype=np.int64)
    if len(needles) > PREFILTER_NEEDLES or not all(needle.isprintable() for needle in needles):
        return everything
    pattern = "|".join(re_escape(needle) for needle in sorted(needles))
    try:
        hit = pc.match_substring_regex(values, pattern, ignore_case=lowered)
    except pa.ArrowInvalid:  # a pattern RE2 will not build: read every value
        return everything
    if lowered:
        hit = pc.or_kleene(hit, pc.invert(pc.string_is_ascii(values)))
    flags = pc.fill_null(hit, False).to_numpy(zero_copy_only=False)
    found: np.ndarray = np.flatnonzero(flags).astype(np.int64)
    return found


_ANCHOR_CHECKS: dict[str, Callable[[str, str], bool]] = {
    "starts": str.startswith,
    "ends": str.endswith,
    "equals": str.__eq__,
}


def literal_needles(program: Program, into: dict[Text, set[str]]) -> None:
    """Collect, per text, the literals a program tests."""
    op = program[0]
    if op in ("and", "or"):
        for operand in program[1]:
            literal_needles(operand, into)
    elif op == "not":
        literal_needles(program[1], into)
    elif op == "literal" and program[3]:
        into.setdefault(program[1], set()).add(program[3])
    elif op == "literals":
        into.setdefault(program[1], set()).update(literal for _, literal in program[2] if literal)


def required_literals(program: Program, name: str) -> set[str] | None:
    """Literals one of which the text of field ``name`` holds whenever the program is TRUE
    (an equality, prefix or suffix holds its literal too); None when there is no such set."""
    op = program[0]
    if op in ("literal", "literals", "in"):
        text = program[1]
        if text[1] != name or text[0] not in ("raw", "lower"):
            return None
        found = ({program[3]} if op == "literal" else set(program[2]) if op == "in"
                 else {literal for _, literal in program[2]})
        return None if "" in found else found
    if op == "or":
        union: set[str] = set()
        for operand in program[1]:
            required = required_literals(operand, name)
            if required is None:
                return None
            union |= required
        return union
    if op == "and":
        sets = [s for s in (required_literals(o, name) for o in program[1]) if s is not None]
        return min(sets, key=len) if sets else None
    if op == "false":
        return set()
    return None


def superset_pattern(literals: set[str], exceptions: dict[str, str]) -> str:
    """An RE2 pattern that finds every text holding one of the literals, whether the literal is
    compared with the text as it is or with the text lower-cased by the engines: it ignores
    case, and a character that lower-casing reaches from one RE2's case folding does not know
    (``exceptions``: İ for i) is matched as either."""
    def char(c: str) -> str:
        extra = exceptions.get(c, "")
        return f"(?:{'|'.join(re_escape(x) for x in c + extra)})" if extra else re_escape(c)
    return "(?i)" + "|".join("".join(char(c) for c in literal) for literal in sorted(literals))


def _flags(mask: pa.Array) -> np.ndarray:
    flags: np.ndarray = pc.fill_null(mask, False).to_numpy(zero_copy_only=False)
    return flags


def _as_double(values: pa.Array) -> pa.Array:
    valid = pc.fill_null(pc.match_substring_regex(values, _NUMBER), False)
    numbers = pc.replace_substring(pc.utf8_trim_whitespace(values), "_", "")
    return pc.cast(pc.if_else(valid, numbers, None), pa.float64())


def _lower(values: pa.Array) -> pa.Array:
    """Lower-cased as DuckDB's ``lower`` does: Arrow's kernel for ASCII text; `compiler.fold`
    for the rest, as Arrow's Unicode tables are newer than DuckDB's and fold more letters."""
    lowered = pc.utf8_lower(values)
    other = pc.fill_null(pc.invert(pc.string_is_ascii(values)), False)
    positions = np.flatnonzero(other.to_numpy(zero_copy_only=False))
    if len(positions) == 0:
        return lowered
    folded = pa.array([fold(v) for v in values.take(pa.array(positions)).to_pylist()],
                      pa.string())
    return pc.replace_with_mask(lowered, other, folded)


def _flatten(node: exp.Expr, kind: type[exp.Expr]) -> Iterator[exp.Expr]:
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, kind):
        yield from _flatten(node.this, kind)
        yield from _flatten(node.expression, kind)
    else:
        yield node


# A prepared program: nested tuples, built once per compiled rule and route.
#   ("and", (p, …)) ("or", (p, …)) ("not", p) ("true",) ("false",)
#   ("null", text) ("present", text) ("in", text, values) ("like", text, pattern)
#   ("regex", text, regex) ("compare", text, kernel, number)
#   ("literal", text, kind, literal)            kind: contains | starts | ends | equals
#   ("literals", text, ((kind, literal), …), regex)   the same alternatives in one pass
# where text is ("raw" | "lower" | "double", column name).
Program = tuple[Any, ...]
Text = tuple[str, str]

_LITERAL_KINDS: dict[type[exp.Expr], str] = {
    exp.Contains: "contains",
    exp.StartsWith: "starts",
    exp.EndsWith: "ends",
    exp.EQ: "equals",
}
_ANCHORS = {"contains": ("", ""), "starts": ("^", ""), "ends": ("", "$"), "equals": ("^", "$")}


def prepare(node: exp.Expr) -> Program:
    """The evaluation program of a compiled predicate; Unsupported if it has an unknown node."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Boolean):
        return ("true",) if node.this else ("false",)
    if isinstance(node, exp.And):
        return ("and", tuple(prepare(operand) for operand in _flatten(node, exp.And)))
    if isinstance(node, exp.Or):
        return ("or", _prepare_alternatives(list(_flatten(node, exp.Or))))
    if isinstance(node, exp.Coalesce) and _is_false_fallback(node):
        return prepare(node.this)
    if isinstance(node, exp.Not):
        inner = node.this
        if isinstance(inner, exp.Coalesce) and _is_false_fallback(inner):
            return ("not", prepare(inner.this))
        if isinstance(inner, exp.Is) and isinstance(inner.expression, exp.Null):
            return ("present", _text(inner.this))
        raise Unsupported("NOT over an operand that may be unknown")
    if isinstance(node, exp.Is):
        if not isinstance(node.expression, exp.Null):
            raise Unsupported("IS with other than NULL")
        return ("null", _text(node.this))
    if isinstance(node, exp.In):
        return ("in", _text(node.this), tuple(_string_literal(v) for v in node.expressions))
    if isinstance(node, exp.Escape):
        if _string_literal(node.expression) != "\\" or not isinstance(node.this, exp.Like):
            raise Unsupported("ESCAPE other than a backslash LIKE")
        return ("like", _text(node.this.this), _string_literal(node.this.expression))
    if isinstance(node, exp.RegexpLike):
        return ("regex", _text(node.this), _string_literal(node.expression))
    if type(node) in _COMPARE_KERNELS:
        literal, sign = node.expression, 1.0
        if isinstance(literal, exp.Neg):  # exp.Literal.number(-5) is -(5)
            literal, sign = literal.this, -1.0
        if not isinstance(literal, exp.Literal) or literal.is_string:
            raise Unsupported("comparison with other than a number")
        return ("compare", _number(node.this), _COMPARE_KERNELS[type(node)],
                sign * float(literal.this))
    kind = _LITERAL_KINDS.get(type(node))
    if kind is None:
        raise Unsupported(f"node {type(node).__name__}")
    return ("literal", _text(node.this), kind, _string_literal(node.expression))


def _prepare_alternatives(operands: list[exp.Expr]) -> tuple[Program, ...]:
    """OR operands; literal tests of one text become one "literals" node (one pass for all)."""
    prepared = [prepare(operand) for operand in operands]
    groups: dict[Text, list[Program]] = {}
    kept: list[Program] = []
    for program in prepared:
        if program[0] == "literal" and program[3]:
            groups.setdefault(program[1], []).append(program)
        else:
            kept.append(program)
    merged: list[Program] = []
    for text, members in groups.items():
        if len(members) < MERGE_ALTERNATIVES:
            kept.extend(members)
            continue
        alternatives = tuple(dict.fromkeys((m[2], m[3]) for m in members))
        regex = "(?:" + "|".join(
            _ANCHORS[kind][0] + re_escape(literal) + _ANCHORS[kind][1]
            for kind, literal in alternatives
        ) + ")"
        merged.append(("literals", text, alternatives, regex))
    return tuple(merged + kept)


def _text(node: exp.Expr) -> Text:
    if isinstance(node, exp.Column):
        return ("raw", node.name)
    if isinstance(node, exp.Lower) and isinstance(node.this, exp.Column):
        return ("lower", node.this.name)
    raise Unsupported(f"text node {type(node).__name__}")


def _number(node: exp.Expr) -> Text:
    if isinstance(node, exp.Nullif) and _is_nan(node.expression):
        node = node.this  # NaN is never a number here (see _NUMBER)
    if isinstance(node, exp.TryCast) and isinstance(node.this, exp.Column):
        return ("double", node.this.name)
    raise Unsupported(f"number node {type(node).__name__}")


def _is_nan(node: exp.Expr) -> bool:
    return (isinstance(node, exp.Cast) and isinstance(node.this, exp.Literal)
            and node.this.is_string and str(node.this.this).lower() == "nan")


_DERIVE: dict[str, Callable[[pa.Array], pa.Array]] = {"lower": _lower, "double": _as_double}


class Interpreter:
    def __init__(self, batch: Batch) -> None:
        self.batch = batch

    def cost(self, program: Program) -> int:
        """Bytes a program reads: AND evaluates its cheapest operands first, so the long texts
        (call traces, script blocks) are read only for the rows still in play."""
        op = program[0]
        if op in ("and", "or"):
            return sum(self.cost(operand) for operand in program[1])
        if op == "not":
            return self.cost(program[1])
        if op in ("true", "false"):
            return 0
        return self.batch.size(program[1][1])

    def rows(self, program: Program, rows: Rows) -> Rows:
        """The subset of `rows` for which the program is TRUE."""
        if len(rows) == 0:
            return rows
        op = program[0]
        if op == "and":
            for operand in sorted(program[1], key=self.cost):
                rows = self.rows(operand, rows)
                if len(rows) == 0:
                    break
            return rows
        if op == "or":
            return self._any(program[1], rows)
        if op == "not":
            return np.setdiff1d(rows, self.rows(program[1], rows), assume_unique=True)
        if op == "true":
            return rows
        if op == "false":
            return rows[:0]
        if op in ("null", "present"):
            values, codes = self.batch.encoded(("raw", program[1][1]))
            absent = codes[rows] == len(values)
            selected: Rows = rows[absent] if op == "null" else rows[~absent]
            return selected
        return self.batch.test(program, program[1], _kernel(program), rows)

    def _any(self, operands: tuple[Program, ...], rows: Rows) -> Rows:
        found: list[Rows] = []
        remaining = rows
        for operand in operands:
            hit = self.rows(operand, remaining)
            if len(hit):
                found.append(hit)
                remaining = np.setdiff1d(remaining, hit, assume_unique=True)
                if len(remaining) == 0:
                    break
        if not found:
            return rows[:0]
        return np.sort(np.concatenate(found)) if len(found) > 1 else found[0]


def _kernel(program: Program) -> Callable[[pa.Array], pa.Array]:
    """The Arrow test of a leaf program, over an array of values."""
    op = program[0]
    if op == "literal":
        kernel, literal = _LITERAL_KERNELS[program[2]], program[3]
        return lambda values: kernel(values, literal)
    if op in ("literals", "regex"):
        regex = program[3] if op == "literals" else program[2]
        return lambda values: pc.match_substring_regex(values, regex)
    if op == "in":
        value_set = pa.array(program[2], pa.string())
        return lambda values: pc.is_in(values, value_set=value_set)
    if op == "like":
        return lambda values: pc.match_like(values, program[2])
    if op == "compare":
        return lambda values: program[2](values, pa.scalar(program[3]))
    raise Unsupported(f"program {op}")  # pragma: no cover - prepare() builds only these


def _is_false_fallback(node: exp.Coalesce) -> bool:
    fallbacks = node.expressions
    return len(fallbacks) == 1 and isinstance(fallbacks[0], exp.Boolean) and not fallbacks[0].this


_COMPARE_KERNELS: dict[type[exp.Expr], Callable[[pa.Array, pa.Scalar], pa.Array]] = {
    exp.LT: pc.less,
    exp.LTE: pc.less_equal,
    exp.GT: pc.greater,
    exp.GTE: pc.greater_equal,
}

_LITERAL_KERNELS: dict[str, Callable[[pa.Array, str], pa.Array]] = {
    "equals": pc.equal,
    "contains": lambda values, literal: pc.match_substring(values, literal),
    "starts": lambda values, literal: pc.starts_with(values, literal),
    "ends": lambda values, literal: pc.ends_with(values, literal),
}


def evaluate(program: Program, batch: Batch) -> Rows:
    """The rows of `batch` for which the prepared predicate is TRUE."""
    return Interpreter(batch).rows(program, batch.all_rows)
