"""The vector helpers parsers normalise whole batches with."""

from __future__ import annotations

import pyarrow as pa

from trailguard.ingest.columns import (
    PYTHON_WHITESPACE,
    BatchFields,
    choose,
    integer,
    per_value,
    present,
    scatter,
)


def test_python_whitespace_is_every_character_str_strip_removes():
    stripped = "".join(chr(code) for code in range(0x110000) if chr(code).isspace())
    assert stripped == PYTHON_WHITESPACE


def test_per_value_calls_the_function_once_per_distinct_value_and_keeps_nulls():
    calls: list[str] = []

    def upper(text: str) -> str:
        calls.append(text)
        return text.upper()

    result = per_value(pa.array(["a", None, "b", "a", "a"]), upper, pa.string())
    assert result.to_pylist() == ["A", None, "B", "A", "A"]
    assert sorted(calls) == ["a", "b"]
    assert per_value(pa.nulls(3, pa.string()), upper, pa.int64()).to_pylist() == [None] * 3


def test_integer_is_int_of():
    values = ["12", " 7 ", "0x1f", "12.9", "1e3", "x", None, "9007199254740993"]
    assert integer(pa.array(values)).to_pylist() == [12, 7, 31, 12, 1000, None, None,
                                                     9007199254740993]


def test_present_drops_empty_and_dash():
    assert present(pa.array(["", "-", "x", None, " - "])).to_pylist() == [
        None, None, "x", None, " - "]


def test_first_skips_missing_and_absent_fields():
    fields = BatchFields({"a": pa.array(["", "x", None]), "b": pa.array(["y", "z", "-"])}, 3)
    assert fields.first("missing", "a", "b").to_pylist() == ["y", "x", None]
    assert fields.first("missing").to_pylist() == [None] * 3
    assert fields.flag("b", "z").to_pylist() == [False, True, False]
    assert fields.flag("missing", "z").to_pylist() == [False] * 3


def test_choose_takes_the_first_case_that_holds():
    first = pa.array([True, False, True, False])
    second = pa.array([True, True, False, False])
    chosen = choose([(first, pa.array(["1"] * 4)), (second, None)], pa.array(["d"] * 4))
    assert chosen.to_pylist() == ["1", None, "1", "d"]


def test_scatter_places_values_at_rows():
    assert scatter(4, [1, 3], [5, 6], pa.int32()).to_pylist() == [None, 5, None, 6]
