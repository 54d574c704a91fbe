"""Hostile rule values: exact matching against a plain-Python model of Sigma, and no injection.

Rule values and event values are drawn from an alphabet made to hurt a SQL backend: quotes,
``%`` and ``_`` (LIKE wildcards), backslashes (LIKE and string escapes), Sigma's own ``*`` and
``?`` (as escaped literals and as wildcards), letters whose lower case is special (``İ``, ``Σ``,
``ẞ``), astral characters, NUL-free control characters, newlines and SQL fragments. For every
drawn rule the matching events must be exactly those the model below selects, on both engine
paths; afterwards the case table and a canary table must be untouched.

The model, written without the compiler's code: a Sigma string is a sequence of literal text and
wildcards (``*`` any text, ``?`` one character, newlines included); it matches a value when the
whole value fits. Unless ``|cased``, both sides are first folded character by character with the
simple lowercase mapping. ``contains``/``startswith``/``endswith`` add ``*`` on the open sides,
a list is an OR (an AND with ``|all``), ``not`` is true for events without the field, and a
missing field never matches a value.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import duckdb
import pytest
import sqlglot
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.detect._support import PATHS, case_table, create_table, load, quote_identifier, run
from trailguard.detect.dialects import DIALECTS, render
from trailguard.detect.plan import CompiledRule, compile_rule

FIELD = "Payload"
SQL_FRAGMENTS = [
    "'; DROP TABLE ev_windows_json; --", "' OR '1'='1", '"; DELETE FROM canary; --',
    "') OR 1=1 --", "\\'; DROP TABLE canary; --", "%' OR '%'='", "_%_", "/* */", "$$; $$",
    "E'\\x41'", "\\", "\\\\", "\\*", "\\?", "''", '""', "`", "\r\n", "\u2028", "ß", "ẞ", "İ", "ı",
    "ΑΣ", "ς", "K", "😀", "\x7f", "\x1b[0m", "\t", "\x0b",
]
ALPHABET = st.characters(
    codec="utf-8", exclude_characters="\x00", exclude_categories=["Cs"],
)
HOSTILE_CHARS = st.sampled_from(list("'\"%_\\*?`;-/\n\r\t\x01\x1f aAzZİıΣσςẞß😀é\u0301.[]()^$|{}"))
LITERAL = st.lists(
    st.one_of(HOSTILE_CHARS, st.sampled_from(SQL_FRAGMENTS), st.text(ALPHABET, max_size=3)),
    max_size=6,
).map("".join)
WILDCARD = st.sampled_from(["*", "?"])


@dataclass(frozen=True)
class Value:
    """A Sigma string as parts: literal text, or the wildcards '*' and '?'."""

    parts: tuple[str, ...]
    wild: tuple[bool, ...]

    def sigma(self) -> str:
        """The rule text: literal `\\`, `*` and `?` escaped with a backslash."""
        return "".join(
            part if wild else
            part.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")
            for part, wild in zip(self.parts, self.wild, strict=True)
        )

    def literal(self) -> str:
        return "".join(p for p, w in zip(self.parts, self.wild, strict=True) if not w)


@st.composite
def values(draw: st.DrawFn, wildcards: bool = True) -> Value:
    parts: list[str] = []
    wild: list[bool] = []
    for _ in range(draw(st.integers(1, 4))):
        if wildcards and draw(st.booleans()) and draw(st.booleans()):
            parts.append(draw(WILDCARD))
            wild.append(True)
        else:
            parts.append(draw(LITERAL))
            wild.append(False)
    return Value(tuple(parts), tuple(wild))


# --- the model ------------------------------------------------------------------------------


def simple_fold(text: str) -> str:
    """Each character by its simple lowercase mapping (UnicodeData.txt field 13). Python's
    str.lower uses the full mapping, which differs only for U+0130 (and, in context, for a final
    capital sigma, which a one-character call never sees)."""
    return "".join("i" if c == "\u0130" else c.lower() for c in text)


def model_regex(value: Value, modifier: str, cased: bool) -> re.Pattern[str]:
    pieces = []
    for part, wild in zip(value.parts, value.wild, strict=True):
        if wild:
            pieces.append(".*" if part == "*" else ".")
        else:
            pieces.append(re.escape(part if cased else simple_fold(part)))
    body = "".join(pieces)
    if modifier in ("contains", "endswith"):
        body = ".*" + body
    if modifier in ("contains", "startswith"):
        body = body + ".*"
    return re.compile(body, re.DOTALL)


def model_matches(value: Value, modifier: str, cased: bool, event: str | None) -> bool:
    if event is None:
        return False
    text = event if cased else simple_fold(event)
    return model_regex(value, modifier, cased).fullmatch(text) is not None


@dataclass(frozen=True)
class Rule:
    values: tuple[Value, ...]
    modifier: str  # equals | contains | startswith | endswith
    cased: bool
    all: bool
    negated: bool

    def detection(self, field: str = FIELD) -> dict[str, object]:
        key = field
        if self.modifier != "equals":
            key += "|" + self.modifier
        if self.cased:
            key += "|cased"
        if self.all:
            key += "|all"
        texts = [v.sigma() for v in self.values]
        return {"sel": {key: texts if len(texts) > 1 or self.all else texts[0]},
                "condition": "not sel" if self.negated else "sel"}

    def matches(self, event: str | None) -> bool:
        hits = [model_matches(v, self.modifier, self.cased, event) for v in self.values]
        hit = all(hits) if self.all else any(hits)
        return not hit if self.negated else hit


def rule_text(detection: Mapping[str, object],
              rule_id: str = "6f1f4b1e-0000-4000-8000-000000000001") -> str:
    document = {
        "title": "hostile", "id": rule_id, "status": "test",
        "logsource": {"product": "windows"}, "detection": detection, "level": "low",
    }
    # allow_unicode=False: PyYAML folds a raw U+0085 (NEL) in a quoted scalar into a space.
    text = yaml.safe_dump(document, allow_unicode=False, sort_keys=False, width=1_000_000)
    assert yaml.safe_load(text) == document  # the YAML round trip itself is exact
    return text


@st.composite
def rules(draw: st.DrawFn) -> Rule:
    modifier = draw(st.sampled_from(["equals", "contains", "startswith", "endswith"]))
    count = draw(st.integers(1, 4))
    drawn = tuple(draw(values()) for _ in range(count))
    return Rule(drawn, modifier, draw(st.booleans()), count > 1 and draw(st.booleans()),
                draw(st.booleans()))


@st.composite
def variant(draw: st.DrawFn, rule: Rule) -> str:
    """An event value near the rule's values: a literal text itself, in other case, wrapped,
    cut, with the wildcards filled in; or anything."""
    value = draw(st.sampled_from(rule.values))
    literal = value.literal()
    kind = draw(st.sampled_from(["same", "upper", "swapcase", "wrapped", "head", "tail",
                                 "filled", "any"]))
    cut = draw(st.integers(0, 3))
    if kind == "same":
        return literal
    if kind == "upper":
        return literal.upper()
    if kind == "swapcase":
        return literal.swapcase()
    if kind == "wrapped":
        return draw(LITERAL) + literal + draw(LITERAL)
    if kind == "head":
        return literal[: len(literal) - cut]
    if kind == "tail":
        return literal[cut:]
    if kind == "filled":
        fillers = st.one_of(LITERAL, st.sampled_from(["", "x", "\n"]))
        return "".join(draw(fillers) if wild else part
                       for part, wild in zip(value.parts, value.wild, strict=True))
    return draw(LITERAL)


@st.composite
def cases(draw: st.DrawFn) -> tuple[Rule, list[str | None]]:
    rule = draw(rules())
    events = draw(st.lists(st.one_of(variant(rule), st.none()), min_size=1, max_size=8))
    return rule, events


# --- running ----------------------------------------------------------------------------------

CANARY = [("one", "1"), ("two", "'; DROP TABLE canary; --")]


@pytest.fixture(scope="module")
def duck() -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect() as connection:
        connection.execute("CREATE TABLE canary (k VARCHAR, v VARCHAR)")
        connection.execute("INSERT INTO canary VALUES (?, ?), (?, ?)",
                           [x for row in CANARY for x in row])
        yield connection


def tables(connection: duckdb.DuckDBPyConnection) -> list[str]:
    return sorted(r[0] for r in connection.execute(
        "SELECT table_name FROM information_schema.tables").fetchall())


def run_case(connection: duckdb.DuckDBPyConnection, compiled: CompiledRule, field: str,
             events: Sequence[str | None], columns: Sequence[str] = ()) -> dict[str, set[str]]:
    """The event ids matched on each path; checks the case afterwards."""
    rows = {f"e{i}": ({field: v} if v is not None else {}) for i, v in enumerate(events)}
    create_table(connection, "windows_json", rows, columns=columns or [field, "Other"])
    try:
        before = tables(connection)
        found = {}
        for path in PATHS:
            matches, stats = run(connection, [compiled], path)
            assert not stats.errors, stats.errors
            found[path] = {uid for _, uid in matches}
        assert tables(connection) == before
        stored = connection.execute(
            f'SELECT _uid, {quote_identifier(field)} FROM ev_windows_json ORDER BY _record'
        ).fetchall()
        assert stored == [(f"e{i}", v) for i, v in enumerate(events)]
        assert connection.execute("SELECT * FROM canary ORDER BY k").fetchall() == CANARY
    finally:
        connection.execute("DROP TABLE ev_windows_json")
    return found


def renders_as_one_predicate(compiled: CompiledRule) -> None:
    """Each dialect's text of the predicate, put in a WHERE clause, parses as one statement."""
    for route in compiled.routes:
        assert route.predicate is not None
        for dialect in DIALECTS:
            sql = render(route.predicate, dialect)
            statements = sqlglot.parse(f"SELECT 1 FROM t WHERE {sql}", read=dialect)
            assert len(statements) == 1 and statements[0] is not None, (dialect, sql)


SETTINGS = settings(max_examples=70, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])


@SETTINGS
@given(case=cases())
def test_string_rules_match_exactly(duck: duckdb.DuckDBPyConnection,
                                    case: tuple[Rule, list[str | None]]) -> None:
    rule, events = case
    compiled = compile_rule(load(rule_text(rule.detection())))
    expected = {f"e{i}" for i, v in enumerate(events) if rule.matches(v)}
    found = run_case(duck, compiled, FIELD, events)
    assert found["vectorised"] == expected
    assert found["sql"] == expected
    renders_as_one_predicate(compiled)


@SETTINGS
@given(value=values(wildcards=False), events=st.lists(st.one_of(LITERAL, st.none()), max_size=6),
       negated=st.booleans())
def test_keywords_match_exactly(duck: duckdb.DuckDBPyConnection, value: Value,
                                events: list[str | None], negated: bool) -> None:
    """A keyword is a case-insensitive substring of the event's text (here one field)."""
    assume(value.literal())
    events = [*events, value.literal().upper(), "x" + value.literal() + "y"]
    keywords = {"keywords": [value.sigma()], "condition": "not keywords" if negated else
                "keywords"}
    compiled = compile_rule(load(rule_text(keywords)))
    needle = simple_fold(value.literal())
    expected = {f"e{i}" for i, v in enumerate(events)
                if (v is not None and needle in simple_fold(v)) != negated}
    # One column only, so the full text is the value itself.
    found = run_case(duck, compiled, FIELD, events, columns=[FIELD])
    assert found["vectorised"] == expected
    assert found["sql"] == expected


@SETTINGS
@given(value=values(wildcards=False), events=st.lists(st.one_of(LITERAL, st.none()), max_size=6))
def test_regex_of_an_escaped_literal_is_a_case_sensitive_substring(
        duck: duckdb.DuckDBPyConnection, value: Value, events: list[str | None]) -> None:
    literal = value.literal()
    assume(literal)
    regex = "".join("\\" + c if c.isascii() and not c.isalnum() and c.isprintable()
                    and c not in "_ " else c for c in literal)
    events = [*events, literal, literal.swapcase(), "<" + literal + ">"]
    compiled = compile_rule(load(rule_text({"sel": {FIELD + "|re": regex},
                                            "condition": "sel"})))
    expected = {f"e{i}" for i, v in enumerate(events) if v is not None and literal in v}
    found = run_case(duck, compiled, FIELD, events)
    assert found["vectorised"] == expected
    assert found["sql"] == expected


FIELD_NAMES = st.text(
    st.sampled_from([*"abcXYZ09_ '\".;-()[]`$%\\/\t", "é", "İ", "😀"]),
    min_size=1, max_size=12,
).filter(lambda name: name.strip() == name and not name.startswith("_"))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(name=FIELD_NAMES, value=LITERAL)
def test_hostile_field_names(duck: duckdb.DuckDBPyConnection, name: str, value: str) -> None:
    """A field name is an identifier, quoted; whatever it holds, it names one column."""
    assume(name.lower() not in ("other", "channel", "eventid"))
    sigma_value = value.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")
    detection = {"sel": {name + "|contains": sigma_value}, "condition": "sel"}
    try:
        loaded = load(rule_text(detection))
    except Exception as error:  # pySigma's own limits on names are not under test here
        assume(False)
        raise AssertionError from error  # pragma: no cover
    compiled = compile_rule(loaded)
    events = [value, "x" + value.upper() + "y", None, "unrelated"]
    expected = {f"e{i}" for i, v in enumerate(events)
                if v is not None and simple_fold(value) in simple_fold(v)}
    found = run_case(duck, compiled, name, events)
    assert found["vectorised"] == expected
    assert found["sql"] == expected


def test_sql_fragments_stay_literals(duck: duckdb.DuckDBPyConnection) -> None:
    """The fragments themselves, as rule values of every modifier (all rules of a modifier in
    one scan), match only what the model says."""
    events = [*SQL_FRAGMENTS, *("x" + f for f in SQL_FRAGMENTS), *(f + "x" for f in SQL_FRAGMENTS),
              "x", None]
    for modifier in ("equals", "contains", "startswith", "endswith"):
        rules = {f"6f1f4b1e-0000-4000-8000-{n:012d}": Rule((Value((f,), (False,)),), modifier,
                                                             False, False, False)
                 for n, f in enumerate(SQL_FRAGMENTS)}
        compiled = [compile_rule(load(rule_text(rule.detection(), rule_id)))
                    for rule_id, rule in rules.items()]
        expected = {(rule_id, f"e{i}") for rule_id, rule in rules.items()
                    for i, v in enumerate(events) if rule.matches(v)}
        rows = {f"e{i}": ({FIELD: v} if v is not None else {}) for i, v in enumerate(events)}
        with case_table(duck, rows, columns=[FIELD]) as connection:
            for path in PATHS:
                found, stats = run(connection, compiled, path)
                assert not stats.errors
                assert found == expected, (modifier, path)
        assert connection.execute("SELECT * FROM canary ORDER BY k").fetchall() == CANARY


def test_the_model_is_the_sigma_reading_of_the_reference_cases() -> None:
    """Anchor the model itself on hand-checked cases."""
    def m(text: str, modifier: str, event: str, cased: bool = False) -> bool:
        parts: list[str] = []
        wild: list[bool] = []
        for part in re.split(r"(\*|\?)", text):
            if part:
                parts.append(part)
                wild.append(part in "*?")
        return model_matches(Value(tuple(parts), tuple(wild)), modifier, cased, event)

    assert m("0% d", "contains", "cmd /c 100% done")
    assert not m("0% d", "contains", "cmd /c 10 mod")
    assert not m("cmd_/c", "contains", "cmd /c whoami")
    assert m("C:\\Windows\\System32\\cmd.exe", "equals", "C:\\WINDOWS\\system32\\CMD.EXE")
    assert m("a*b", "equals", "a\nb")
    assert m("İSTANBUL", "equals", "istanbul")
    assert not m("abc", "equals", "ABC", cased=True)
