"""Rendering compiled rule trees as SQL for each engine.

The compiler builds one tree per rule in a neutral form (case folding with ``lower``, LIKE
patterns escaped with a backslash and an explicit ``ESCAPE '\\'``, ``TRY_CAST`` for numbers). Each
dialect gets the same tree through a short table of rewrites for what its engine spells
differently — as sqlglot's own dialects do — and then sqlglot's generator:

* DuckDB: its LIKE has no escape character by default, and an explicit ``ESCAPE`` costs about ten
  times as much per row, so a pattern whose only escapes are doubled backslashes is unescaped and
  the clause dropped. Patterns with a literal ``%`` or ``_`` keep it.
* ClickHouse: LIKE always escapes with a backslash and has no ``ESCAPE`` clause; ``lower`` is
  ASCII-only, ``lowerUTF8`` folds every letter; ``CAST(… AS Nullable(Float64))`` throws on text,
  ``toFloat64OrNull`` does not.
* Spark SQL: ``TRY_CAST`` keeps non-numbers NULL under ANSI mode too.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlglot.expressions as exp

DIALECTS = ("duckdb", "spark", "clickhouse")

Rewrite = Callable[[exp.Expr], exp.Expr]


def _only_backslash_escapes(pattern: str) -> str | None:
    """The pattern without its escapes when every escape is a doubled backslash, else None."""
    out = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            following = pattern[index + 1 : index + 2]
            if following != "\\":
                return None
            out.append("\\")
            index += 2
            continue
        out.append(char)
        index += 1
    return "".join(out)


def _duckdb(node: exp.Expr) -> exp.Expr:
    if isinstance(node, exp.Escape) and isinstance(node.this, exp.Like):
        pattern = node.this.expression
        if isinstance(pattern, exp.Literal):
            plain = _only_backslash_escapes(pattern.this)
            if plain is not None:
                return exp.Like(this=node.this.this, expression=exp.Literal.string(plain))
    return node


def _clickhouse(node: exp.Expr) -> exp.Expr:
    if isinstance(node, exp.Escape) and isinstance(node.this, exp.Like):
        # transform() does not descend into a replacement: rewrite the LIKE's operands here, or
        # its ``lower`` would stay ASCII-only.
        return node.this.transform(_clickhouse, copy=False)
    if isinstance(node, exp.Lower):
        return exp.Anonymous(this="lowerUTF8", expressions=[node.this])
    if isinstance(node, exp.TryCast):
        return exp.Anonymous(this="toFloat64OrNull", expressions=[node.this])
    return node


def _spark(node: exp.Expr) -> exp.Expr:
    if isinstance(node, exp.TryCast) and not node.args.get("safe"):
        # sqlglot writes a TryCast without `safe` as a plain CAST for Spark, which raises on
        # text under ANSI mode (Spark 4's default).
        return exp.TryCast(this=node.this, to=node.args["to"], safe=True)
    return node


REWRITES: dict[str, Rewrite] = {"duckdb": _duckdb, "clickhouse": _clickhouse, "spark": _spark}


def render(tree: exp.Expr, dialect: str = "duckdb") -> str:
    """The SQL text of a compiled tree for one engine."""
    rewrite = REWRITES.get(dialect)
    if rewrite is None:
        raise ValueError(f"unknown dialect {dialect!r}; known: {', '.join(DIALECTS)}")
    return tree.copy().transform(rewrite, copy=False).sql(dialect=dialect)
