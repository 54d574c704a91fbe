"""Golden SQL: representative rules rendered for DuckDB, Spark SQL and ClickHouse.

Each rule of `RULES` is compiled (logsource ``product: windows``: one route, native field names)
and its predicate rendered with `dialects.render` for every dialect. The text must equal the
golden file ``tests/detect/golden/<rule>.<dialect>.sql`` and must parse back with
``sqlglot.parse_one(sql, read=dialect)``; the DuckDB text must also run.

To regenerate the golden files after an intended change, run

    TRAILGUARD_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/detect/test_dialects.py

and review the diff: every changed line is a change in the SQL the engines will run.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest
import sqlglot
import sqlglot.expressions as exp

from tests.detect._support import compiled, quote_identifier, rule_yaml
from trailguard.detect.dialects import DIALECTS, render

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("TRAILGUARD_UPDATE_GOLDEN") == "1"

BIG_LIST = "\n".join(f"    - 'tool{i:02d}.exe'" for i in range(40))
BIG_EQUALITIES = "\n".join(f"    - 'User{i:02d}'" for i in range(30))

RULES: dict[str, str] = {
    "equals_case_fold": r"""
sel:
  Image: 'C:\Windows\System32\cmd.exe'
condition: sel
""",
    "contains_escape": r"""
sel:
  CommandLine|contains: "0% d_x\\'q"
condition: sel
""",
    "startswith_endswith": r"""
sel:
  ParentImage|startswith: 'C:\Program Files\'
  Image|endswith:
    - '\powershell.exe'
    - '\pwsh.exe'
condition: sel
""",
    "wildcard_like": r"""
sel:
  Image: 'C:\Windows\\*\?md_%.exe'
condition: sel
""",
    "like_backslash_only": r"""
sel:
  TargetFilename: 'C:\Users\\*\AppData\Roaming\\*.lnk'
condition: sel
""",
    "cased": r"""
sel:
  ScriptBlockText|cased|contains: 'Invoke-Mimikatz'
  Hash|cased: 'A?B*'
condition: sel
""",
    "regex_flags": r"""
sel:
  CommandLine|re: '\s-[eE]nc(odedCommand)?\s'
  ScriptBlockText|re|i|m|s: '^iex.+downloadstring'
condition: sel
""",
    "cidr": r"""
sel:
  DestinationIp|cidr:
    - '10.0.0.0/8'
    - '192.168.1.0/30'
    - '2001:db8::/32'
condition: sel
""",
    "compare": r"""
sel:
  LogonCount|gt: -5
  Size|lte: 2.5
condition: sel
""",
    "exists_null": r"""
sel:
  CommandLine|exists: true
  ParentCommandLine|exists: false
  User: null
condition: sel
""",
    "fieldref": r"""
sel:
  TargetUserName|fieldref: SubjectUserName
  CommandLine|fieldref|contains: Image
condition: sel
""",
    "keywords": r"""
keywords:
  - 'rm -rf /'
  - 'a%b_c\d'
  - 4688
keywords_all:
  '|all':
    - 'truncate'
    - '-s'
condition: keywords or keywords_all
""",
    "not_filter": r"""
selection:
  Image|endswith: '.exe'
filter_main:
  CommandLine|contains: 'whoami'
filter_optional:
  User: 'SYSTEM'
condition: selection and not 1 of filter_*
""",
    "big_or": f"""
sel_images:
  Image|endswith:
{BIG_LIST}
sel_users:
  User:
{BIG_EQUALITIES}
condition: 1 of sel_*
""",
    "hostile_literals": r"""
sel:
  CommandLine:
    - "'; DROP TABLE ev_x; --"
    - "\" OR \"\" = \""
    - "a\nb\tc\r"
    - "ΑΣ İ ẞ 😀"
    - "\\\\server\\share\\"
    - '$$ /\* \*/ `x`'
condition: sel
""",
    "encodings": r"""
sel_b64:
  CommandLine|base64offset|contains: 'whoami'
sel_wide:
  CommandLine|wide|base64|contains: 'ping'
sel_dash:
  CommandLine|windash|contains: ' -enc '
condition: 1 of sel_*
""",
    "numbers_booleans": r"""
sel:
  EventID:
    - 4688
    - 1
  Enabled: true
  Value: ''
condition: sel
""",
}


def golden_path(name: str, dialect: str) -> Path:
    return GOLDEN / f"{name}.{dialect}.sql"


def rendered(name: str, dialect: str) -> str:
    rule = compiled(rule_yaml(RULES[name]))
    (route,) = rule.routes
    assert route.predicate is not None
    return render(route.predicate, dialect)


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("name", sorted(RULES))
def test_golden(name: str, dialect: str) -> None:
    sql = rendered(name, dialect)
    path = golden_path(name, dialect)
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_bytes((sql + "\n").encode())  # bytes: a literal's \r must survive
    assert path.is_file(), f"no golden file {path.name}; set TRAILGUARD_UPDATE_GOLDEN=1"
    assert path.read_bytes().decode() == sql + "\n"


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("name", sorted(RULES))
def test_rendering_parses_back(name: str, dialect: str) -> None:
    sql = rendered(name, dialect)
    parsed = sqlglot.parse_one(sql, read=dialect)
    assert parsed is not None
    assert parsed.sql(dialect=dialect) == sql  # and reads back as the same text


@pytest.mark.parametrize("name", sorted(RULES))
def test_duckdb_rendering_runs(name: str) -> None:
    """The DuckDB text runs over a table of the rule's columns (NULL and non-NULL rows)."""
    rule = compiled(rule_yaml(RULES[name]))
    (route,) = rule.routes
    columns = sorted(route.columns) or ["x"]
    with duckdb.connect() as connection:
        definition = ", ".join(f"{quote_identifier(c)} VARCHAR" for c in columns)
        connection.execute(f"CREATE TABLE t ({definition})")
        connection.execute(f"INSERT INTO t VALUES ({', '.join('NULL' for _ in columns)})")
        connection.execute(f"INSERT INTO t VALUES ({', '.join(repr('x') for _ in columns)})")
        sql = f"SELECT count(*) FROM t WHERE {rendered(name, 'duckdb')}"
        connection.execute(sql).fetchall()


def test_no_stale_golden_files() -> None:
    expected = {golden_path(n, d).name for n in RULES for d in DIALECTS}
    assert {p.name for p in GOLDEN.glob("*.sql")} == expected


def test_hostile_literals_stay_literals_in_every_dialect() -> None:
    """Parsed back, each dialect's text holds exactly the rule's values as string literals."""
    values = {"'; drop table ev_x; --", '" or "" = "', "a\nb\tc\r", "ασ i ß 😀",
              "\\server\\share\\", "$$ /* */ `x`"}
    for dialect in DIALECTS:
        parsed = sqlglot.parse_one(rendered("hostile_literals", dialect), read=dialect)
        literals = {node.this for node in parsed.find_all(exp.Literal) if node.is_string}
        assert literals == values, dialect


def test_unknown_dialect() -> None:
    with pytest.raises(ValueError, match="unknown dialect"):
        render(exp.true(), "oracle")


def test_clickhouse_folds_inside_like() -> None:
    """A LIKE's column is lower-cased with lowerUTF8 (ClickHouse's lower is ASCII-only)."""
    sql = rendered("wildcard_like", "clickhouse")
    assert "lowerUTF8(" in sql and "LOWER(" not in sql.upper().replace("LOWERUTF8(", "")


def test_spark_keeps_try_cast() -> None:
    """Spark's plain CAST raises on text under ANSI mode; the comparison must use TRY_CAST."""
    assert rendered("compare", "spark").count("TRY_CAST(") == 2
