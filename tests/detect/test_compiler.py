"""The detection compiler, case by case: a rule, some events, the events it must match.

Every case runs on both engine paths (the vectorised Arrow interpreter and DuckDB SQL) and both
must return exactly the expected event ids. The table starts with the reference cases of
``detection-engines.md`` §6 (1–4 and 7), then goes through Sigma's value semantics one family at a
time: case, wildcards and escapes, string modifiers, encodings, regular expressions, CIDR,
comparisons, existence and null, field references, placeholders, condition forms, keywords,
negation over missing fields, numbers, booleans and empty strings.

Events are ``{event id: {field: text}}``; a field an event lacks is NULL in its row.
"""

from __future__ import annotations

from base64 import b64encode
from collections.abc import Iterator
from dataclasses import dataclass, field

import duckdb
import numpy as np
import orjson
import pyarrow as pa
import pytest
import sqlglot.expressions as exp
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from tests.detect._support import (
    PATHS,
    SYSMON,
    Events,
    case_connection,
    case_table,
    compiled,
    load,
    matching,
    rule_yaml,
    run,
)
from trailguard.detect import vector
from trailguard.detect.compiler import Compiler, RuleRefused, fold
from trailguard.detect.dialects import render
from trailguard.detect.plan import compile_rule
from trailguard.detect.vector import Batch, evaluate, prepare


@pytest.fixture(scope="module")
def duck() -> Iterator[duckdb.DuckDBPyConnection]:
    """One in-memory DuckDB for the module; each case creates and drops its table in it."""
    with duckdb.connect() as connection:
        yield connection


@dataclass(frozen=True)
class Case:
    name: str
    detection: str
    events: Events
    expected: frozenset[str]
    logsource: str = "product: windows"
    note: str = field(default="", compare=False)
    known_bug: str = field(default="", compare=False)  # xfail (strict) until it is fixed


def case(name: str, detection: str, events: Events, expected: set[str] | frozenset[str],
         logsource: str = "product: windows", note: str = "", known_bug: str = "") -> Case:
    return Case(name, detection, events, frozenset(expected), logsource, note, known_bug)


# engine.py builds the keyword text as exp.ConcatWs(...) without coalesce=True, and sqlglot then
# renders it for DuckDB as CASE WHEN <any column> IS NULL THEN NULL ELSE CONCAT_WS(...) END: an
# event with any field missing has no full text, so keywords never match it (and NOT keywords
# always does). Fix: exp.ConcatWs(expressions=[...], coalesce=True) in engine._projection.


def b64(data: bytes) -> str:
    return b64encode(data).decode()


# The event table of detection-engines.md §6 (cases 1-4).
REFERENCE: Events = {
    "E1": {"Image": r"C:\WINDOWS\system32\CMD.EXE", "CommandLine": "cmd /c whoami",
           "User": "alice"},
    "E2": {"Image": r"C:\Windows\System32\cmd.exe", "CommandLine": "cmd /c 100% done",
           "User": "bob"},
    "E3": {"Image": r"C:\x\a.exe", "User": "carol"},
}

# Case 7: a registry value written as text in two spellings.
REGISTRY: Events = {
    "R1": {"Channel": SYSMON, "EventID": "13", "Details": "DWORD (0x00000000)",
           "TargetObject": r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System"
                           r"\EnableLUA"},
    "R2": {"Channel": SYSMON, "EventID": "13", "Details": "0",
           "TargetObject": r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System"
                           r"\EnableLUA"},
    "R3": {"Channel": SYSMON, "EventID": "13", "Details": "0",
           "TargetObject": r"HKLM\SOFTWARE\Other\EnableLUAx"},
}

NUMBERS: Events = {
    "n11": {"Count": "11"}, "n12": {"Count": " 12 "}, "n10": {"Count": "10"},
    "text": {"Count": "abc"}, "exp": {"Count": "1e2"}, "empty": {"Count": ""},
    "absent": {"Other": "x"}, "neg": {"Count": "-5"}, "frac": {"Count": "10.5"},
    "nan": {"Count": "NaN"}, "inf": {"Count": "inf"}, "mixed": {"Count": "12abc"},
    "tabbed": {"Count": "\t9\n"},
}

STRINGS: Events = {
    "lower": {"Text": "hello world"}, "upper": {"Text": "HELLO WORLD"},
    "title": {"Text": "Hello World"}, "longer": {"Text": "Hello World!"},
    "absent": {"Other": "Hello World"},
}

PING = "ping"


def utf16le(text: str) -> bytes:
    return text.encode("utf-16-le")


CASES: list[Case] = [
    # --- detection-engines.md §6 ---------------------------------------------------------------
    case("ref1_equals_is_case_insensitive",
         r"""
selection:
  Image: 'C:\Windows\System32\cmd.exe'
condition: selection
""", REFERENCE, {"E1", "E2"}),
    case("ref2_contains_percent_is_literal",
         """
selection:
  CommandLine|contains: '0% d'
condition: selection
""", {**REFERENCE, "E4": {"CommandLine": "cmd /c 10 mod"}}, {"E2"},
         note="'%' stays literal: E4 would match if it were a LIKE wildcard"),
    case("ref3_contains_underscore_is_literal",
         """
selection:
  CommandLine|contains: 'cmd_/c'
condition: selection
""", REFERENCE, set()),
    case("ref4_not_over_missing_field_is_true",
         """
selection:
  Image|endswith: '.exe'
filter:
  CommandLine|contains: 'whoami'
condition: selection and not filter
""", REFERENCE, {"E2", "E3"}),
    case("ref7_number_against_text_column",
         r"""
selection:
  TargetObject|endswith: '\EnableLUA'
  Details: 0
condition: selection
""", REGISTRY, {"R2"}, logsource="product: windows\ncategory: registry_set"),
    # --- case ----------------------------------------------------------------------------------
    case("equals_folds_both_sides", "sel:\n  Text: 'hELLO wORLD'\ncondition: sel", STRINGS,
         {"lower", "upper", "title"}),
    case("cased_equals", "sel:\n  Text|cased: 'Hello World'\ncondition: sel", STRINGS,
         {"title"}),
    case("cased_contains", "sel:\n  Text|contains|cased: 'World'\ncondition: sel", STRINGS,
         {"title", "longer"}),
    case("cased_wildcards", "sel:\n  Text|cased: 'H*W?rld'\ncondition: sel",
         {**STRINGS, "x": {"Text": "HxWorld"}, "y": {"Text": "HWorld"}, "z": {"Text": "HWrld"}},
         {"title", "x", "y"}),
    case("unicode_letters_fold", "sel:\n  Text: 'ΑΣ'\ncondition: sel",
         {"upper": {"Text": "ΑΣ"}, "lower": {"Text": "ασ"}, "mixed": {"Text": "Ασ"},
          "other": {"Text": "ΑΒ"}}, {"upper", "lower", "mixed"},
         note="a final capital sigma folds to σ as in every engine, not to ς as str.lower does"),
    case("dotted_capital_i_folds_to_i", "sel:\n  Text|startswith: 'İSTANBUL'\ncondition: sel",
         {"dotted": {"Text": "İstanbul"}, "plain": {"Text": "istanbul"},
          "upper": {"Text": "ISTANBUL"}, "other": {"Text": "Ankara"}},
         {"dotted", "plain", "upper"},
         note="simple lowercase mapping: İ -> i (str.lower gives i + U+0307)"),
    case("non_ascii_contains", "sel:\n  Text|contains: 'ÄÖÜ'\ncondition: sel",
         {"a": {"Text": "xäöüx"}, "b": {"Text": "ÄÖÜ"}, "c": {"Text": "aou"}}, {"a", "b"}),
    # --- wildcards and escapes ------------------------------------------------------------------
    case("star_wildcard_after_escaped_backslash",
         r"sel:" "\n" r"  Image: 'C:\Windows\\*\cmd.exe'" "\ncondition: sel",
         {"sub": {"Image": r"C:\Windows\System32\cmd.exe"},
          "star": {"Image": r"C:\Windows\*\cmd.exe"},
          "other": {"Image": r"D:\Windows\System32\cmd.exe"}}, {"sub", "star"}),
    case("escaped_star_is_literal",
         r"sel:" "\n" r"  Image: 'C:\Windows\*\cmd.exe'" "\ncondition: sel",
         {"sub": {"Image": r"C:\Windows\System32\cmd.exe"},
          "star": {"Image": r"C:\Windows*\cmd.exe"},
          "backslash_star": {"Image": r"C:\Windows\*\cmd.exe"}}, {"star"},
         note="\\* is an escaped star: the backslash is consumed (Sigma spec, pySigma)"),
    case("question_wildcard_is_one_character", "sel:\n  Text: 'c?d'\ncondition: sel",
         {"a": {"Text": "cmd"}, "b": {"Text": "CXD"}, "c": {"Text": "cd"}, "d": {"Text": "cmmd"},
          "e": {"Text": "céd"}, "f": {"Text": "c\nd"}, "g": {"Text": "c😀d"}},
         {"a", "b", "e", "f", "g"}),
    case("escaped_question_is_literal", r"sel:" "\n" r"  Text: 'a\?c'" "\ncondition: sel",
         {"a": {"Text": "a?c"}, "b": {"Text": "abc"}}, {"a"}),
    case("double_backslash_is_one_backslash", r"sel:" "\n" r"  Text: 'a\\b'" "\ncondition: sel",
         {"one": {"Text": "a\\b"}, "two": {"Text": "a\\\\b"}, "none": {"Text": "ab"}}, {"one"}),
    case("single_backslash_is_literal", r"sel:" "\n" r"  Text: 'a\b'" "\ncondition: sel",
         {"one": {"Text": "a\\b"}, "two": {"Text": "a\\\\b"}, "none": {"Text": "ab"}}, {"one"}),
    case("trailing_backslash", r"sel:" "\n" r"  Text|endswith: 'dir\'" "\ncondition: sel",
         {"a": {"Text": "C:\\dir\\"}, "b": {"Text": "C:\\dir"}}, {"a"}),
    case("escaped_backslash_before_wildcard",
         r"sel:" "\n" r"  Text: 'x\\?%'" "\ncondition: sel",
         {"a": {"Text": "x\\y%"}, "b": {"Text": "x\\yz"}, "c": {"Text": "xy%"},
          "d": {"Text": "x\\yy%"}}, {"a"}),
    case("like_specials_stay_literal_in_patterns", "sel:\n  Text: 'a_b?%'\ncondition: sel",
         {"a": {"Text": "a_bx%"}, "b": {"Text": "axbx%"}, "c": {"Text": "a_bxy"},
          "d": {"Text": "a_bxx%"}}, {"a"}),
    case("percent_equals", "sel:\n  Text: '100%'\ncondition: sel",
         {"a": {"Text": "100%"}, "b": {"Text": "1000"}, "c": {"Text": "100"}}, {"a"}),
    case("underscore_startswith", "sel:\n  Text|startswith: 'a_b'\ncondition: sel",
         {"a": {"Text": "a_bc"}, "b": {"Text": "axbc"}}, {"a"}),
    case("star_alone_matches_any_present_value", "sel:\n  Text: '*'\ncondition: sel",
         {"a": {"Text": "x"}, "b": {"Text": ""}, "c": {"Other": "x"}}, {"a", "b"}),
    case("wildcards_span_newlines", "sel:\n  Text: 'a*b'\ncondition: sel",
         {"a": {"Text": "a\nb"}, "b": {"Text": "a\r\n\r\nB"}, "c": {"Text": "a\nc"}}, {"a", "b"}),
    # --- contains / startswith / endswith / all --------------------------------------------------
    case("contains_all", "sel:\n  CommandLine|contains|all:\n    - cmd\n    - whoami\n"
         "condition: sel",
         {"a": {"CommandLine": "cmd /c whoami"}, "b": {"CommandLine": "cmd /c dir"},
          "c": {"CommandLine": "WHOAMI"}}, {"a"}),
    case("startswith", "sel:\n  CommandLine|startswith: 'CMD /C'\ncondition: sel",
         {"a": {"CommandLine": "cmd /c whoami"}, "b": {"CommandLine": "xcmd /c"},
          "c": {"CommandLine": "CMD /Cx"}}, {"a", "c"}),
    case("endswith_with_wildcard", "sel:\n  Image|endswith: '.e?e'\ncondition: sel",
         {"a": {"Image": "x.exe"}, "b": {"Image": "x.EXE"}, "c": {"Image": "x.ex"},
          "d": {"Image": "x.exe.bak"}}, {"a", "b"}),
    case("contains_with_inner_wildcard", "sel:\n  CommandLine|contains: 'net*user'\n"
         "condition: sel",
         {"a": {"CommandLine": "net user x"}, "b": {"CommandLine": "NET1 USER"},
          "c": {"CommandLine": "user net"}}, {"a", "b"}),
    case("list_is_or", "sel:\n  Image|endswith:\n    - '\\cmd.exe'\n    - '\\a.exe'\n"
         "condition: sel", REFERENCE, {"E1", "E2", "E3"}),
    case("many_contains_alternatives",
         "sel:\n  CommandLine|contains:\n    - alpha\n    - beta\n    - gamma\n    - delta\n"
         "    - '%'\ncondition: sel",
         {"a": {"CommandLine": "x ALPHA y"}, "b": {"CommandLine": "delta"},
          "c": {"CommandLine": "epsilon"}, "d": {"Other": "alpha"},
          "e": {"CommandLine": "50% off"}}, {"a", "b", "e"}),
    case("mixed_anchor_alternatives",
         "sel:\n  - CommandLine|startswith: ['ab', 'cd']\n"
         "  - CommandLine|endswith: ['yz', 'wx']\n  - CommandLine: 'exact'\ncondition: sel",
         {"a": {"CommandLine": "abXX"}, "b": {"CommandLine": "XXwx"},
          "c": {"CommandLine": "EXACT"}, "d": {"CommandLine": "xabx"},
          "e": {"CommandLine": "exactly"}}, {"a", "b", "c"}),
    case("equality_list", "sel:\n  User: [alice, BOB, carol, dave]\ncondition: sel",
         {"a": {"User": "Alice"}, "b": {"User": "bob"}, "c": {"User": "eve"},
          "d": {"User": "alice "}}, {"a", "b"}),
    # --- encodings ------------------------------------------------------------------------------
    case("base64_contains", "sel:\n  CommandLine|base64|contains: 'whoami'\ncondition: sel",
         {"a": {"CommandLine": "powershell -e " + b64(b"whoami")},
          "b": {"CommandLine": "whoami"}, "c": {"CommandLine": b64(b"xwhoami")}}, {"a"}),
    case("base64offset", "sel:\n  CommandLine|base64offset|contains: 'whoami'\n"
         "condition: sel",
         {"o0": {"CommandLine": "-e " + b64(b"whoami /all")},
          "o1": {"CommandLine": "-e " + b64(b"xwhoami /all")},
          "o2": {"CommandLine": "-e " + b64(b"xxwhoami /all")},
          "no": {"CommandLine": "-e " + b64(b"whoareyou")},
          "plain": {"CommandLine": "whoami"}}, {"o0", "o1", "o2"}),
    case("wide_base64offset", "sel:\n  CommandLine|wide|base64offset|contains: 'ping'\n"
         "condition: sel",
         {"a": {"CommandLine": "-enc " + b64(utf16le("cmd ping x"))},
          "b": {"CommandLine": "-enc " + b64(utf16le("xping"))},
          "c": {"CommandLine": "-enc " + b64(utf16le("xxping"))},
          "utf8": {"CommandLine": "-enc " + b64(b"cmd ping x")}}, {"a", "b", "c"}),
    case("utf16be_base64", "sel:\n  CommandLine|utf16be|base64|contains: 'ping'\n"
         "condition: sel",
         {"be": {"CommandLine": "x " + b64(PING.encode("utf-16-be")) + " y"},
          "le": {"CommandLine": "x " + b64(utf16le(PING)) + " y"}}, {"be"}),
    case("utf16_with_bom_base64offset",
         "sel:\n  CommandLine|utf16|base64offset|contains: 'ping'\ncondition: sel",
         {"bom": {"CommandLine": "-enc " + b64(b"\xff\xfe" + utf16le("ping x"))},
          "le": {"CommandLine": "-enc " + b64(b"A" + utf16le("ping x"))}}, {"bom"}),
    case("windash", "sel:\n  CommandLine|windash|contains: ' -enc '\ncondition: sel",
         {"dash": {"CommandLine": "ps -enc x"}, "slash": {"CommandLine": "ps /enc x"},
          "en": {"CommandLine": "ps –enc x"}, "em": {"CommandLine": "ps —enc x"},
          "bar": {"CommandLine": "ps ―enc x"}, "none": {"CommandLine": "ps enc x"}},
         {"dash", "slash", "en", "em", "bar"}),
    # --- regular expressions --------------------------------------------------------------------
    case("re_is_case_sensitive_by_default", "sel:\n  CommandLine|re: 'who.mi$'\ncondition: sel",
         {"a": {"CommandLine": "cmd /c whoami"}, "b": {"CommandLine": "cmd /c WHOAMI"},
          "c": {"CommandLine": "whoami x"}}, {"a"}),
    case("re_i", "sel:\n  CommandLine|re|i: 'who.mi$'\ncondition: sel",
         {"a": {"CommandLine": "cmd /c whoami"}, "b": {"CommandLine": "cmd /c WHOAMI"},
          "c": {"CommandLine": "whoami x"}}, {"a", "b"}),
    case("re_m", "sel:\n  CommandLine|re|m: '^dir'\ncondition: sel",
         {"a": {"CommandLine": "cmd\ndir"}, "b": {"CommandLine": "cmd dir"},
          "c": {"CommandLine": "dir"}}, {"a", "c"}),
    case("re_without_m", "sel:\n  CommandLine|re: '^dir'\ncondition: sel",
         {"a": {"CommandLine": "cmd\ndir"}, "b": {"CommandLine": "cmd dir"},
          "c": {"CommandLine": "dir"}}, {"c"}),
    case("re_s", "sel:\n  CommandLine|re|s: 'cmd.dir'\ncondition: sel",
         {"a": {"CommandLine": "cmd\ndir"}, "b": {"CommandLine": "cmdxdir"},
          "c": {"CommandLine": "cmd\n\ndir"}}, {"a", "b"}),
    case("re_without_s", "sel:\n  CommandLine|re: 'cmd.dir'\ncondition: sel",
         {"a": {"CommandLine": "cmd\ndir"}, "b": {"CommandLine": "cmdxdir"}}, {"b"}),
    case("re_with_quote_and_escapes", "sel:\n  CommandLine|re: '''\\d{3}\\\\'\ncondition: sel",
         {"a": {"CommandLine": "x '123\\ y"}, "b": {"CommandLine": "'12\\"},
          "c": {"CommandLine": "123\\"}}, {"a"}),
    # --- CIDR -----------------------------------------------------------------------------------
    case("cidr_ipv4", "sel:\n  SourceIp|cidr: '10.0.0.0/8'\ncondition: sel",
         {"a": {"SourceIp": "10.1.2.3"}, "b": {"SourceIp": "110.1.2.3"},
          "c": {"SourceIp": "10.0.0.0"}, "d": {"SourceIp": "11.0.0.1"},
          "e": {"SourceIp": "10.255.255.255"}}, {"a", "c", "e"}),
    case("cidr_ipv4_not_octet_aligned", "sel:\n  SourceIp|cidr: '192.168.1.0/25'\n"
         "condition: sel",
         {"a": {"SourceIp": "192.168.1.5"}, "b": {"SourceIp": "192.168.1.127"},
          "c": {"SourceIp": "192.168.1.128"}, "d": {"SourceIp": "192.168.1.50"},
          "e": {"SourceIp": "192.168.1.200"}, "f": {"SourceIp": "192.168.1.1277"}},
         {"a", "b", "d"}),
    case("cidr_list", "sel:\n  SourceIp|cidr:\n    - '10.0.0.0/8'\n    - '172.16.0.0/12'\n"
         "condition: sel",
         {"a": {"SourceIp": "172.31.0.1"}, "b": {"SourceIp": "172.32.0.1"},
          "c": {"SourceIp": "10.9.9.9"}, "d": {"SourceIp": "172.16.0.0"}}, {"a", "c", "d"}),
    case("cidr_ipv6", "sel:\n  SourceIp|cidr: '2001:db8::/32'\ncondition: sel",
         {"a": {"SourceIp": "2001:db8::1"}, "b": {"SourceIp": "2001:DB8:0:0:0:0:0:1"},
          "c": {"SourceIp": "2001:db9::1"}, "d": {"SourceIp": "2001:db80::1"},
          "e": {"SourceIp": "::1"}}, {"a", "b"}),
    case("cidr_ipv6_64", "sel:\n  SourceIp|cidr: '2001:db8:1:2::/64'\ncondition: sel",
         {"a": {"SourceIp": "2001:db8:1:2::5"}, "b": {"SourceIp": "2001:db8:1:2:a:b:c:d"},
          "c": {"SourceIp": "2001:db8:1:3::5"}}, {"a", "b"}),
    # --- comparisons ----------------------------------------------------------------------------
    case("gt", "sel:\n  Count|gt: 10\ncondition: sel", NUMBERS,
         {"n11", "n12", "exp", "frac", "inf"},
         note="'NaN' is not a number and does not compare; padded numeric text does"),
    case("gte", "sel:\n  Count|gte: 10\ncondition: sel", NUMBERS,
         {"n10", "n11", "n12", "exp", "frac", "inf"}),
    case("lt", "sel:\n  Count|lt: 10\ncondition: sel", NUMBERS, {"neg", "tabbed"}),
    case("lte_negative", "sel:\n  Count|lte: -5\ncondition: sel",
         {"a": {"Count": "-5"}, "b": {"Count": "-6"}, "c": {"Count": "-4"},
          "d": {"Count": "-inf"}}, {"a", "b", "d"}),
    case("lt_fraction", "sel:\n  Count|lt: 0.5\ncondition: sel",
         {"a": {"Count": ".25"}, "b": {"Count": "0.5"}, "c": {"Count": "1"},
          "d": {"Count": "+0.4e0"}}, {"a", "d"}),
    case("not_gt_matches_non_numbers", "sel:\n  Count|gt: 10\ncondition: not sel", NUMBERS,
         {"n10", "text", "empty", "absent", "neg", "nan", "mixed", "tabbed"}),
    # --- existence and null ---------------------------------------------------------------------
    case("exists_true", "sel:\n  CommandLine|exists: true\ncondition: sel",
         {**REFERENCE, "E5": {"CommandLine": ""}}, {"E1", "E2", "E5"}),
    case("exists_false", "sel:\n  CommandLine|exists: false\ncondition: sel",
         {**REFERENCE, "E5": {"CommandLine": ""}}, {"E3"}),
    case("null", "sel:\n  CommandLine: null\ncondition: sel",
         {**REFERENCE, "E5": {"CommandLine": ""}}, {"E3"}),
    case("not_null", "sel:\n  CommandLine: null\ncondition: not sel",
         {**REFERENCE, "E5": {"CommandLine": ""}}, {"E1", "E2", "E5"}),
    # --- field references -----------------------------------------------------------------------
    case("fieldref_equals", "sel:\n  User|fieldref: TargetUser\ncondition: sel",
         {"a": {"User": "alice", "TargetUser": "ALICE"},
          "b": {"User": "alice", "TargetUser": "bob"}, "c": {"User": "alice"}}, {"a"}),
    case("fieldref_startswith", "sel:\n  CommandLine|fieldref|startswith: Image\n"
         "condition: sel",
         {"a": {"Image": "cmd.exe", "CommandLine": "CMD.EXE /c x"},
          "b": {"Image": "cmd.exe", "CommandLine": '"cmd.exe" /c'},
          "c": {"Image": "a_b", "CommandLine": "axb"}, "d": {"CommandLine": "x"}}, {"a"}),
    case("fieldref_endswith", "sel:\n  CommandLine|fieldref|endswith: Image\ncondition: sel",
         {"a": {"Image": "x.EXE", "CommandLine": "run x.exe"},
          "b": {"Image": "x.exe", "CommandLine": "x.exe run"}}, {"a"}),
    case("fieldref_contains", "sel:\n  CommandLine|fieldref|contains: Image\ncondition: sel",
         {"a": {"Image": "x.exe", "CommandLine": "run X.exe now"},
          "b": {"Image": "100%", "CommandLine": "run 1000 now"},
          "c": {"Image": "a_b", "CommandLine": "x axb y"}}, {"a"},
         note="the referenced field's % and _ are literal"),
    case("not_fieldref_with_missing_field", "sel:\n  User|fieldref: TargetUser\n"
         "condition: not sel",
         {"a": {"User": "alice", "TargetUser": "ALICE"},
          "b": {"User": "alice", "TargetUser": "bob"}, "c": {"User": "alice"}}, {"b", "c"}),
    # --- placeholders (|expand) -----------------------------------------------------------------
    case("unresolved_placeholder_matches_any_value",
         r"sel:" "\n" r"  Image|expand: '%systemroot%\cmd.exe'" "\ncondition: sel",
         {"a": {"Image": r"C:\Windows\cmd.exe"}, "b": {"Image": r"D:\cmd.exe"},
          "c": {"Image": "cmd.exe"}, "d": {"Image": r"C:\Windows\notepad.exe"}}, {"a", "b"},
         note="documented: a placeholder no pipeline resolved stands for any text"),
    case("unresolved_whole_value_placeholder", "sel:\n  User|expand: '%admins%'\n"
         "condition: sel",
         {"a": {"User": "alice"}, "b": {"User": ""}, "c": {"Other": "x"}}, {"a", "b"}),
    # --- condition forms ------------------------------------------------------------------------
    case("one_of_selection_star",
         "selection_a:\n  User: alice\nselection_b:\n  User: bob\nfilter:\n  Image: x\n"
         "condition: 1 of selection_* and not filter",
         {"a": {"User": "alice"}, "b": {"User": "bob", "Image": "y"},
          "c": {"User": "bob", "Image": "x"}, "d": {"User": "carol"}}, {"a", "b"}),
    case("all_of_selection_star",
         "selection_a:\n  User: alice\nselection_b:\n  Image|endswith: '.exe'\n"
         "condition: all of selection_*",
         {"a": {"User": "alice", "Image": "a.exe"}, "b": {"User": "alice"},
          "c": {"User": "bob", "Image": "a.exe"}}, {"a"}),
    case("all_of_them",
         "sel1:\n  User: alice\nsel2:\n  Image|endswith: '.exe'\ncondition: all of them",
         {"a": {"User": "alice", "Image": "a.exe"}, "b": {"User": "alice"}}, {"a"}),
    case("one_of_them",
         "sel1:\n  User: alice\nsel2:\n  Image|endswith: '.exe'\ncondition: 1 of them",
         {"a": {"User": "alice"}, "b": {"Image": "b.EXE"}, "c": {"User": "bob"}}, {"a", "b"}),
    case("list_of_maps_is_or", "sel:\n  - User: alice\n  - Image: x\ncondition: sel",
         {"a": {"User": "alice"}, "b": {"Image": "X"}, "c": {"User": "x"}}, {"a", "b"}),
    case("condition_list_is_or", "a:\n  User: alice\nb:\n  Image: x\ncondition:\n  - a\n  - b",
         {"a": {"User": "alice"}, "b": {"Image": "X"}, "c": {"User": "x"}}, {"a", "b"}),
    case("nested_not", "a:\n  User: alice\nb:\n  Image: x\nc:\n  Other: y\n"
         "condition: not (a and not (b or c))",
         {"a": {"User": "alice"}, "b": {"User": "alice", "Image": "x"},
          "c": {"User": "bob"}, "d": {"Other": "z"}}, {"b", "c", "d"}),
    case("neq", "sel:\n  EventID|neq: 4688\ncondition: sel",
         {"a": {"EventID": "4624"}, "b": {"EventID": "4688"}, "c": {"Other": "x"}}, {"a", "c"}),
    # --- keywords -------------------------------------------------------------------------------
    case("keywords_are_an_or_of_substrings",
         "keywords:\n  - whoami\n  - 'net user'\ncondition: keywords",
         {"a": {"CommandLine": "cmd /c WHOAMI", "User": "a"},
          "b": {"CommandLine": "x", "User": "x NET USER y"},
          "c": {"CommandLine": "netuser", "User": "c"}}, {"a", "b"}),
    case("keywords_on_rows_with_missing_fields",
         "keywords:\n  - whoami\n  - 'net user'\ncondition: keywords",
         {"a": {"CommandLine": "cmd /c WHOAMI"}, "b": {"User": "x NET USER y"},
          "c": {"CommandLine": "netuser"}}, {"a", "b"}),
    case("keywords_all", "keywords:\n  '|all':\n    - cmd\n    - whoami\ncondition: keywords",
         {"a": {"Image": "x", "CommandLine": "cmd /c whoami"},
          "b": {"Image": "cmd.exe", "CommandLine": "whoami"},
          "c": {"Image": "x", "CommandLine": "cmd"}}, {"a", "b"},
         note="an |all keyword list matches across fields of one event"),
    case("keyword_wildcards", "keywords:\n  - 'cmd*who?mi'\ncondition: keywords",
         {"a": {"CommandLine": "CMD /c whoAmi"}, "b": {"CommandLine": "cmd /c whomi"}}, {"a"}),
    case("keyword_literal_percent", "keywords:\n  - '0%_d'\ncondition: keywords",
         {"a": {"CommandLine": "100%_done"}, "b": {"CommandLine": "100x done"}}, {"a"}),
    case("keyword_regex", "keywords:\n  '|re': 'who.mi\\b'\ncondition: keywords",
         {"a": {"CommandLine": "cmd /c whoami", "User": "x"},
          "b": {"CommandLine": "cmd /c WHOAMI", "User": "x"},
          "c": {"CommandLine": "cmd", "User": "whoamix"}}, {"a"},
         note="a keyword regex is case-sensitive, as a field's"),
    case("keywords_folded_letters",
         "keywords:\n  - mimikatz\n  - 'kerberos::'\ncondition: keywords",
         {"a": {"X": "M\u0130M\u0130KATZ"}, "b": {"X": "\u212aERBEROS::ptt"},
          "c": {"X": "mimi katz", "Y": "kerberos:"}, "d": {"X": "\u03a3", "Y": "MiMiKaTz"}},
         {"a", "b", "d"},
         note="the rows scanned are found by a case-insensitive RE2 pass that must miss no "
              "text the engines' lower-casing matches (dotted capital I, Kelvin sign)"),
    case("keywords_hostile_literal",
         "keywords:\n  - \"it's 100%_'); DROP TABLE x; --\"\ncondition: keywords",
         {"a": {"X": "say IT'S 100%_'); drop table x; -- now"},
          "b": {"X": "it's 100%x'); DROP TABLE x; --"}, "c": {"X": "it''s 100%_"}}, {"a"}),
    case("keywords_cased",
         "keywords:\n  '|cased':\n    - 'SeKuRlSa::'\ncondition: keywords",
         {"a": {"X": "SeKuRlSa::x"}, "b": {"X": "sekurlsa::x"}}, {"a"}),
    case("keywords_negated_alone", "keywords:\n  - whoami\ncondition: not keywords",
         {"a": {"X": "whoami"}, "b": {"X": "id"}}, {"b"},
         note="no literal is required: every row is scanned"),
    case("keyword_number", "keywords:\n  - 4688\ncondition: keywords",
         {"a": {"EventID": "4688", "Message": "x"}, "b": {"EventID": "1", "Message": "e 14688"},
          "c": {"EventID": "4624", "Message": "x"}}, {"a", "b"}),
    case("keywords_with_fields",
         "selection:\n  Image|endswith: '.exe'\nkeywords:\n  - whoami\n"
         "condition: selection and keywords",
         {**REFERENCE, "E4": {"Image": "b.bin", "CommandLine": "whoami", "User": "d"}}, {"E1"}),
    case("keywords_negated",
         "selection:\n  Image|endswith: '.exe'\nkeywords:\n  - whoami\n  - carol\n"
         "condition: selection and not keywords",
         {"E1": REFERENCE["E1"], "E2": REFERENCE["E2"],
          "E3": {**REFERENCE["E3"], "CommandLine": "x"}}, {"E2"}),
    case("keywords_negated_on_rows_with_missing_fields",
         "selection:\n  Image|endswith: '.exe'\nkeywords:\n  - whoami\n  - carol\n"
         "condition: selection and not keywords", REFERENCE, {"E2"}),
    case("keywords_mixed_like_binary_padding",
         "selection:\n  type: EXECVE\nkeywords_truncate:\n  '|all':\n    - truncate\n    - '-s'\n"
         "keywords_dd:\n  '|all':\n    - dd\n    - if=\nkeywords_filter:\n  - 'if=/dev/null'\n"
         "  - 'if=/dev/zero'\n"
         "condition: selection and (keywords_truncate or (keywords_dd and not keywords_filter))",
         {"t": {"type": "EXECVE", "a0": "truncate", "a1": "-s", "a2": "+1"},
          "d": {"type": "EXECVE", "a0": "dd", "a1": "if=/bin/x", "a2": "of=/bin/y"},
          "z": {"type": "EXECVE", "a0": "dd", "a1": "if=/dev/zero", "a2": "of=x"},
          "o": {"type": "SYSCALL", "a0": "truncate", "a1": "-s", "a2": "1"}}, {"t", "d"},
         note="lnx_auditd_binary_padding.yml's condition shape"),
    # --- negation and missing fields ------------------------------------------------------------
    case("field_missing_from_table", "sel:\n  NoSuchField: x\ncondition: sel", REFERENCE, set()),
    case("not_field_missing_from_table", "sel:\n  NoSuchField: x\ncondition: not sel",
         REFERENCE, {"E1", "E2", "E3"}),
    case("missing_field_exists_false", "sel:\n  NoSuchField|exists: false\ncondition: sel",
         REFERENCE, {"E1", "E2", "E3"}),
    case("missing_field_is_null", "sel:\n  NoSuchField: null\ncondition: sel", REFERENCE,
         {"E1", "E2", "E3"}),
    case("missing_field_in_and",
         "sel:\n  User: alice\n  NoSuchField|contains: x\nother:\n  User: bob\n"
         "condition: sel or other", REFERENCE, {"E2"}),
    case("field_names_ignore_case",
         "a:\n  commandline: whoami\nb:\n  COMMANDLINE|contains: '/C D'\ncondition: a or b",
         {"a": {"CommandLine": "WHOAMI"}, "b": {"CommandLine": "cmd /c dir"},
          "c": {"CommandLine": "x"}}, {"a", "b"},
         note="native tables resolve field names case-insensitively (logsources)"),
    # --- numbers, booleans, empty strings -------------------------------------------------------
    case("number_matches_its_text", "sel:\n  EventID: 4688\ncondition: sel",
         {"a": {"EventID": "4688"}, "b": {"EventID": "04688"}, "c": {"EventID": "4688 "},
          "d": {"EventID": "4624"}}, {"a"}),
    case("number_and_string_list", "sel:\n  EventID:\n    - 4688\n    - '4624'\ncondition: sel",
         {"a": {"EventID": "4688"}, "b": {"EventID": "04688"}, "d": {"EventID": "4624"}},
         {"a", "d"}),
    case("negative_and_fractional_numbers",
         "a:\n  Value: -1\nb:\n  Value: 2.5\ncondition: a or b",
         {"m1": {"Value": "-1"}, "p1": {"Value": "1"}, "f": {"Value": "2.5"},
          "g": {"Value": "2.50"}}, {"m1", "f"}),
    case("boolean_true", "sel:\n  Enabled: true\ncondition: sel",
         {"a": {"Enabled": "true"}, "b": {"Enabled": "True"}, "c": {"Enabled": "1"},
          "d": {"Enabled": "false"}, "e": {"Enabled": "0"}, "f": {"Enabled": "yes"},
          "g": {"Other": "true"}}, {"a", "b", "c"}),
    case("boolean_false", "sel:\n  Enabled: false\ncondition: sel",
         {"a": {"Enabled": "true"}, "d": {"Enabled": "FALSE"}, "e": {"Enabled": "0"},
          "g": {"Other": "false"}}, {"d", "e"}),
    case("empty_string_equals", "sel:\n  CommandLine: ''\ncondition: sel",
         {"a": {"CommandLine": ""}, "b": {"CommandLine": "x"}, "c": {"Other": "x"}}, {"a"}),
    case("not_empty_string", "sel:\n  CommandLine: ''\ncondition: not sel",
         {"a": {"CommandLine": ""}, "b": {"CommandLine": "x"}, "c": {"Other": "x"}},
         {"b", "c"}),
    case("contains_empty_string_matches_present_values",
         "sel:\n  CommandLine|contains: ''\ncondition: sel",
         {"a": {"CommandLine": ""}, "b": {"CommandLine": "x"}, "c": {"Other": "x"}},
         {"a", "b"}),
    case("empty_string_in_list", "sel:\n  CommandLine:\n    - ''\n    - x\ncondition: sel",
         {"a": {"CommandLine": ""}, "b": {"CommandLine": "X"}, "c": {"Other": "x"},
          "d": {"CommandLine": "y"}}, {"a", "b"}),
    # --- logsource routes -----------------------------------------------------------------------
    case("process_creation_reads_only_its_rows",
         r"sel:" "\n" r"  Image|endswith: '\cmd.exe'" "\ncondition: sel",
         {"s1": {"Channel": SYSMON, "EventID": "1", "Image": r"C:\Windows\cmd.exe"},
          "s3": {"Channel": SYSMON, "EventID": "3", "Image": r"C:\Windows\cmd.exe"},
          "sec": {"Channel": "Security", "EventID": "4688",
                  "NewProcessName": r"C:\Windows\CMD.EXE"},
          "sec4624": {"Channel": "Security", "EventID": "4624",
                      "NewProcessName": r"C:\Windows\cmd.exe"}},
         {"s1", "sec"}, logsource="product: windows\ncategory: process_creation",
         note="Security 4688 serves process_creation under its own field names"),
]


def params(cases: list[Case]) -> list[object]:
    return [
        pytest.param(c, id=c.name, marks=[pytest.mark.xfail(strict=True, reason=c.known_bug)]
                     if c.known_bug else [])
        for c in cases
    ]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("spec", params(CASES))
def test_case(duck: duckdb.DuckDBPyConnection, spec: Case, path: str) -> None:
    rule = compiled(rule_yaml(spec.detection, spec.logsource))
    with case_table(duck, spec.events) as connection:
        assert matching(connection, rule, path) == spec.expected, spec.note


def test_the_vectorised_path_really_is_vectorised() -> None:
    """Only field references fall back to SQL; every other case is interpreted over Arrow, so the
    two paths of `test_case` are two independent evaluations."""
    fallback = {c.name for c in CASES
                if any(route.vector_program() is None
                       for route in compiled(rule_yaml(c.detection, c.logsource)).routes)}
    assert fallback == {c.name for c in CASES if "fieldref" in c.detection}


def test_case_names_are_unique() -> None:
    names = [c.name for c in CASES]
    assert len(names) == len(set(names))


# --- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "detection",
    [
        "sel:\n  EventTime|hour: 5\ncondition: sel",
        "sel:\n  EventTime|minute|gt: 30\ncondition: sel",
        "sel:\n  EventTime|year|neq: 2024\ncondition: sel",
    ],
    ids=["hour", "minute_gt", "year_neq"],
)
def test_timestamp_parts_are_refused_not_guessed(detection: str) -> None:
    """A timestamp-part modifier is a number to pySigma; comparing the raw field text with it
    would silently match the wrong events, so the rule is refused."""
    with pytest.raises(RuleRefused):
        compile_rule(load(rule_yaml(detection)))


def test_a_rule_on_an_unserved_logsource_is_refused() -> None:
    with pytest.raises(RuleRefused):
        compiled(rule_yaml("sel:\n  x: y\ncondition: sel", "product: nosuchproduct"))


def test_pysigma_has_no_utf16le_modifier() -> None:
    """The Sigma specification lists ``utf16le``; pySigma 2.0.1 knows it only as ``wide``."""
    with pytest.raises(SigmaError, match="utf16le"):
        SigmaRule.from_yaml(rule_yaml("sel:\n  x|utf16le|base64: ping\ncondition: sel"))


def test_an_invalid_regex_is_rejected_by_pysigma() -> None:
    with pytest.raises(SigmaError):
        SigmaRule.from_yaml(rule_yaml("sel:\n  x|re: '(unclosed'\ncondition: sel"))


# --- the vectoriser's special paths agree with SQL ------------------------------------------


def both_paths(events: Events, detection: str, logsource: str = "product: windows") -> set[str]:
    rule = compiled(rule_yaml(detection, logsource))
    with case_connection(events) as connection:
        found = {path: matching(connection, rule, path) for path in PATHS}
    assert found["vectorised"] == found["sql"]
    return found["sql"]


def test_long_texts_use_the_literal_index(monkeypatch: pytest.MonkeyPatch) -> None:
    """Over 1 MiB of distinct text the vectoriser finds literals with one Aho-Corasick pass."""
    built: list[int] = []

    class CountedIndex(vector.LiteralIndex):
        def __init__(self, values: pa.Array, needles: set[str], lowered: bool = False) -> None:
            built.append(len(needles))
            super().__init__(values, needles, lowered)

    monkeypatch.setattr(vector, "LiteralIndex", CountedIndex)
    filler = "x" * 400_000
    events: Events = {
        "a": {"Script": filler + "Invoke-Mimikatz" + filler},
        "b": {"Script": "invoke-mimikatz" + filler + "1"},
        "c": {"Script": filler + "2" + "-ENCODEDCOMMAND"},
        "d": {"Script": filler + "3"},
        "e": {"Script": "Get-Process"},
    }
    detection = (
        "sel:\n  - Script|contains:\n      - invoke-mimikatz\n      - 'sekurlsa::'\n"
        "      - 'kerberos::'\n  - Script|startswith: ['get-process', 'nothing']\n"
        "  - Script|endswith: ['-encodedcommand', 'zzz']\ncondition: sel"
    )
    assert both_paths(events, detection) == {"a", "b", "c", "e"}
    assert built == [7]  # one index over the script text, for all seven literals


def test_the_literal_index_prefilter_misses_no_folded_match() -> None:
    """The index reads only values an RE2 alternation finds; on text that is not ASCII the
    engines' lower-casing (dotted capital I, Kelvin sign, final sigma) decides, as in SQL."""
    filler = "y" * 300_000
    events: Events = {
        "dotted": {"Script": filler + "M\u0130M\u0130KATZ"},  # lower → "mimikatz"
        "kelvin": {"Script": filler + "\u212aerberos::ptt"},  # Kelvin sign → "k"
        "sigma": {"Script": "\u03a3ekurlsa::" + filler},
        "ascii": {"Script": filler + "SeKuRlSa::LogonPasswords"},
        "anchored": {"Script": "KERBEROS::" + filler + "tail"},
        "none": {"Script": filler + "mimi kat"},
        "other": {"Script": filler + "\u00e9t\u00e9"},
    }
    detection = (
        "sel:\n  - Script|contains: ['mimikatz', 'sekurlsa::logon', 'kerberos::p']\n"
        "  - Script|startswith: 'kerberos::'\n  - Script|endswith: 'katz'\n"
        "  - Script|contains|cased: 'SeKuRlSa::'\ncondition: sel"
    )
    assert both_paths(events, detection) == {"dotted", "kelvin", "ascii", "anchored"}


def test_keyword_rules_name_the_literals_a_matching_row_holds() -> None:
    """The keyword pass scans only rows whose text holds a literal every rule requires."""
    from trailguard.detect.plan import FULLTEXT
    from trailguard.detect.vector import required_literals, superset_pattern

    def required(detection: str) -> set[str] | None:
        program = compiled(rule_yaml(detection)).routes[0].vector_program()
        assert program is not None
        return required_literals(program, FULLTEXT)

    assert required("keywords:\n  - whoami\n  - 'net user'\ncondition: keywords") == \
        {"whoami", "net user"}
    assert required("sel:\n  Image|endswith: '.exe'\nkeywords:\n  - whoami\n"
                    "condition: sel and keywords") == {"whoami"}
    assert required("keywords:\n  - whoami\ncondition: not keywords") is None
    assert required("keywords:\n  - 'cmd*who?mi'\ncondition: keywords") is None  # a pattern
    assert superset_pattern({"mimi.x", "a|b"}, {"i": "\u0130"}) == \
        "(?i)a\\|b|m(?:i|\u0130)m(?:i|\u0130)\\.x"


def test_few_rows_left_over_many_distinct_values() -> None:
    """An AND that leaves few rows tests only those rows' values (the subset path)."""
    events: Events = {f"e{i}": {"User": "alice" if i % 50 == 0 else "bob",
                                "CommandLine": f"run {i} {'whoami' if i % 100 == 0 else ''}"}
                      for i in range(400)}
    detection = "sel:\n  User: alice\n  CommandLine|contains: whoami\ncondition: sel"
    assert both_paths(events, detection) == {f"e{i}" for i in range(0, 400, 100)}


def test_thousands_of_alternatives() -> None:
    """Long value lists stay shallow trees (no recursion limit in sqlglot, DuckDB or the
    vectoriser) and one regular-expression pass in the vectoriser."""
    events: Events = {f"e{i}": {"Image": f"tool{i}.exe", "User": f"u{i}"} for i in range(60)}
    images = "\n".join(f"    - 'ol{i}.e'" for i in range(1500))
    users = "\n".join(f"    - 'U{i}'" for i in range(0, 1500, 2))
    detection = (f"sel:\n  Image|contains:\n{images}\nfilter:\n  User:\n{users}\n"
                 "condition: sel and not filter")
    assert both_paths(events, detection) == {f"e{i}" for i in range(1, 60, 2)}


def test_thousands_of_keywords() -> None:
    """A keyword list too long for one prefilter pattern is scanned whole, with equal results."""
    events: Events = {f"e{i}": {"CommandLine": f"run tool{i}.exe"} for i in range(40)}
    keywords = "\n".join(f"  - 'ol{i}.e'" for i in range(1, 1500, 2))
    assert both_paths(events, f"keywords:\n{keywords}\ncondition: keywords") == \
        {f"e{i}" for i in range(1, 40, 2)}


NUMERIC_TEXTS = [
    "1_000", "1__000", "_1", "1_", "1._5", "1.5_5", "1e1_0", "1e_10", "-1_0", "0x10", "1,5",
    "inf", "-Infinity", "+INF", "nan", "-nan", " NaN ", "\v7", "7\v", "\f7\r", "\u00a07", "١٢",
    "１２", "1.", ".5", ".", "+.", "1e", "1E+2", "1.e5", ".e5", "00012", "1e400", "-1e400",
    "5d", "0b1", "1 2",
]


@pytest.mark.parametrize("operator", ["gt", "gte", "lt", "lte"])
def test_numeric_text_reads_alike_on_both_paths(operator: str) -> None:
    events: Events = {f"v{i}": {"Count": text} for i, text in enumerate(NUMERIC_TEXTS)}
    found = both_paths(events, f"sel:\n  Count|{operator}: 5\ncondition: sel")
    nan = {f"v{i}" for i, text in enumerate(NUMERIC_TEXTS) if "nan" in text.lower()}
    assert not found & nan, "NaN is not a number and never compares"


def test_case_folding_agrees_everywhere() -> None:
    """Rule values are folded by `compiler.fold`, event values by DuckDB's ``lower`` or by the
    vectoriser: all three must agree on every code point, or a case-insensitive match would
    depend on the engine path."""
    chars = [chr(c) for c in range(1, 0x30000) if not 0xD800 <= c < 0xE000]
    samples = [*chars, "ΑΣ", "ΣΑΣ Σ", "İstanbul", "ẞ", "ǅ"]
    with duckdb.connect() as connection:
        engine = [
            row[0] for row in connection.execute(
                "SELECT lower(v) FROM (SELECT unnest(?) AS v, generate_subscripts(?, 1) AS i) "
                "ORDER BY i", [samples, samples]
            ).fetchall()
        ]
    batch = Batch(pa.table({"v": pa.array(samples)}))
    values, codes = batch.encoded(("lower", "v"))
    vector = np.asarray(values.to_pylist(), dtype=object)[codes]
    compiler = [fold(s) for s in samples]
    assert [s for s, e, c in zip(samples, engine, compiler, strict=True) if e != c] == []
    assert [s for s, e, v in zip(samples, engine, vector, strict=True) if e != v] == []


def test_all_cases_in_one_scan() -> None:
    """Every same-logsource case's rule batched into one scan over the union of their events
    (one table, many columns): each rule still matches exactly its expected events."""
    # Keyword rules stay out: in the union every row holds the other cases' fields too, so
    # the full text (every field of the row) is not the text of the case's own event.
    specs = [c for c in CASES if c.logsource == "product: windows" and not c.known_bug
             and "keywords" not in c.detection]
    compiled_rules = [compiled(rule_yaml(c.detection, c.logsource, n))
                      for n, c in enumerate(specs, start=1)]
    rules = {rule.loaded.id: c for rule, c in zip(compiled_rules, specs, strict=True)}
    events: Events = {f"{c.name}/{uid}": fields for c in specs for uid, fields in c.events.items()}
    expected = {(rule_id, f"{c.name}/{uid}") for rule_id, c in rules.items() for uid in c.expected}
    with case_connection(events) as connection:
        for path in PATHS:
            found, stats = run(connection, compiled_rules, path)
            assert not stats.errors
            own = {(rule_id, uid) for rule_id, uid in found
                   if uid.startswith(rules[rule_id].name + "/")}
            assert own == expected, path


# --- fields holding a JSON list (auditd's record types) -------------------------------------
# Tested on the compiler itself (which fields hold lists is the logsource catalogue's business):
# the predicate runs as DuckDB SQL and through the vectoriser over the same rows.


class ListResolver:
    """Every field a column of its own name; `type` holds a JSON list."""

    def column(self, field: str) -> exp.Expr | None:
        return exp.column(field, quoted=True)

    def is_list(self, field: str) -> bool:
        return field == "type"

    def fulltext(self) -> exp.Expr:
        raise AssertionError("no keywords here")


TYPES = {
    "execve": '["SYSCALL","EXECVE","PROCTITLE"]',
    "path": '["SYSCALL","PATH"]',
    "longer": '["EXECVEX"]',
    "quoted": '["we\\"ird","back\\\\slash","ünï"]',
    "none": None,
}


@pytest.mark.parametrize(("detection", "expected"), [
    ("sel:\n  type: EXECVE\ncondition: sel", {"execve"}),
    ("sel:\n  type: execve\ncondition: not sel", {"path", "longer", "quoted", "none"}),
    ("sel:\n  type: 'EXEC*'\ncondition: sel", {"execve", "longer"}),
    ("sel:\n  type|contains: 'xec'\ncondition: sel", {"execve", "longer"}),
    ("sel:\n  type: 'P?TH'\ncondition: sel", {"path"}),
    ("sel:\n  type: 'we\"ird'\ncondition: sel", {"quoted"}),
    ("sel:\n  type: 'back\\\\slash'\ncondition: sel", {"quoted"}),
    ("sel:\n  type: 'ÜNÏ'\ncondition: sel", {"quoted"}),
    ("sel:\n  type|cased: 'execve'\ncondition: sel", set()),
], ids=["equals", "not", "wildcard", "contains", "single", "quote", "backslash", "unicode",
        "cased"])
def test_list_members_compare_one_by_one(detection: str, expected: set[str]) -> None:
    predicate = Compiler(ListResolver()).rule(SigmaRule.from_yaml(rule_yaml(detection)))
    uids, types = list(TYPES), list(TYPES.values())
    table = pa.table({"_uid": pa.array(uids, pa.string()), "type": pa.array(types, pa.string())})
    with duckdb.connect() as connection:
        connection.register("rows", table)
        sql = f"SELECT _uid FROM rows WHERE {render(predicate, 'duckdb')}"
        assert {row[0] for row in connection.execute(sql).fetchall()} == expected
    hits = evaluate(prepare(predicate), Batch(table))
    assert {uids[i] for i in hits.tolist()} == expected


@pytest.mark.parametrize(("detection", "members"), [
    ("sel:\n  type: 'x*'\ncondition: sel", ['a"xb']),
    ("sel:\n  type: execve\ncondition: sel", ['q","execve']),
], ids=["wildcard", "plain"])
def test_list_member_boundaries_with_quotes(detection: str, members: list[str]) -> None:
    predicate = Compiler(ListResolver()).rule(SigmaRule.from_yaml(rule_yaml(detection)))
    table = pa.table({"type": pa.array([orjson.dumps(members).decode()], pa.string())})
    with duckdb.connect() as connection:
        connection.register("rows", table)
        sql = f"SELECT count(*) FROM rows WHERE {render(predicate, 'duckdb')}"
        assert connection.execute(sql).fetchall() == [(0,)]
