"""A batch's stored field text as Arrow columns, for normalising a whole batch at once.

A parser may compute its normalised view from the batch instead of record by record (see
``SourceParser.normaliser``): it then reads each field as the text the case stores for it
(numbers as Python writes them, booleans as ``true``/``false``, lists as JSON; a field holding
a mapping is absent, its children being fields of their own), with the vector operations
below. Functions of one value that are awkward to vectorise (integer parsing, address checks)
run in Python once per *distinct* value of the batch, which keeps them exact and cheap: such
fields (event ids, process ids, channels) repeat a lot.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from trailguard.ingest.base import int_of

#: Every character Python's ``str.strip()`` removes (``str.isspace``), for ``utf8_trim``
#: (written out: finding them among all code points at import cost 38 ms; a test checks it).
PYTHON_WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
                     "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
                     "\u2028\u2029\u202f\u205f\u3000")

_NO_TEXT = pa.scalar(None, pa.string())
_TEXT = pa.string()


class BatchFields:
    """The top-level fields of one batch: ``text(name)`` is a string column of ``count`` rows
    (all null when no record of the batch has the field)."""

    def __init__(self, columns: Mapping[str, pa.Array], count: int) -> None:
        self.columns = columns
        self.count = count
        self._nulls: pa.Array | None = None

    def has(self, name: str) -> bool:
        return name in self.columns

    def text(self, name: str) -> pa.Array:
        column = self.columns.get(name)
        if column is not None:
            return column
        if self._nulls is None:
            self._nulls = pa.nulls(self.count, _TEXT)
        return self._nulls

    def value(self, name: str) -> pa.Array:
        """The field as the normalised view takes text: '' and '-' count as absent
        (:func:`trailguard.ingest.base.text_of`)."""
        return present(self.text(name))

    def first(self, *names: str) -> pa.Array:
        """The first of the fields that has a value (in the sense of :meth:`value`)."""
        arrays = [self.value(name) for name in names if name in self.columns]
        if not arrays:
            return self.text("")
        return arrays[0] if len(arrays) == 1 else pc.coalesce(*arrays)

    def flag(self, name: str, expected: str) -> pa.Array:
        """Rows whose field is exactly ``expected`` (never null)."""
        if name not in self.columns:
            return pa.nulls(self.count, pa.bool_()).fill_null(False)
        return pc.fill_null(pc.equal(self.columns[name], expected), False)


@dataclass(frozen=True, slots=True)
class Normaliser:
    """How a parser computes its normalised view from the stored field text: ``batch`` for a
    whole batch at once (vector operations), ``event`` for one event — the specification the
    batch form is tested against, and the faster of the two for a handful of events."""

    batch: Callable[[BatchFields], dict[str, pa.Array]]
    event: Callable[[Mapping[str, str]], dict[str, Any]]


def present(text: pa.Array) -> pa.Array:
    """Text with '' and '-' made null."""
    if text.null_count == len(text):
        return text
    absent = pc.is_in(text, value_set=pa.array(["", "-"]))
    return pc.if_else(absent, _NO_TEXT, text)


def per_value(text: pa.Array, function: Callable[[str], Any], arrow_type: pa.DataType) -> pa.Array:
    """``function`` of each value (null stays null), computed once per distinct value."""
    if text.null_count == len(text):
        return pa.nulls(len(text), arrow_type)
    encoded = text.dictionary_encode()
    results = [function(value) for value in encoded.dictionary.to_pylist()]
    return pa.array(results, arrow_type).take(encoded.indices)


def integer(text: pa.Array) -> pa.Array:
    """Each value as an integer (:func:`trailguard.ingest.base.int_of`), as int64."""
    return per_value(text, int_of, pa.int64())


def choose(cases: Sequence[tuple[pa.Array, pa.Array | None]], default: pa.Array | None,
           arrow_type: pa.DataType = _TEXT) -> pa.Array:
    """Per row, the value of the first case whose condition holds (conditions are never
    null), else ``default``; ``None`` stands for a null column."""
    count = len(cases[0][0])
    result = default if default is not None else pa.nulls(count, arrow_type)
    for condition, value in reversed(cases):
        if not pc.any(condition).as_py():
            continue
        result = pc.if_else(condition, value if value is not None
                            else pa.scalar(None, arrow_type), result)
    return result


def scatter(count: int, rows: list[int], values: list[Any], arrow_type: pa.DataType) -> pa.Array:
    """A column of ``count`` nulls with ``values`` at ``rows``."""
    full: list[Any] = [None] * count
    for row, value in zip(rows, values, strict=True):
        full[row] = value
    return pa.array(full, arrow_type)
