"""The encoder stores every field of every record once: in its column or in the overflow."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from trailguard.ingest.base import Record
from trailguard.store.encode import (
    OVERFLOW,
    SYSTEM_SLOTS,
    UID,
    _text,
    encode_records,
    raw_array,
)

KEYS = st.sampled_from(["a", "b", "A", "c.d", "_uid", "", "x" * 300, "tab\tkey", "é"])
SCALARS = st.none() | st.booleans() | st.integers(-10, 10**20) | st.floats(allow_nan=False) \
    | st.text(max_size=5) | st.lists(st.integers(), max_size=2)
VALUES = st.recursive(SCALARS, lambda inner: st.dictionaries(KEYS, inner, max_size=3),
                      max_leaves=6)
RECORDS = st.lists(st.dictionaries(KEYS, VALUES, max_size=4), max_size=12)


def leaves(data: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """Every (dotted path, stored text) of a record, repeated paths included."""
    for key, value in data.items():
        if isinstance(value, dict):
            yield from leaves(value, f"{prefix}{key}.")
        elif value is not None:
            yield f"{prefix}{key}", _text(value)


@settings(max_examples=300, deadline=None)
@given(RECORDS)
def test_every_field_is_stored_once(datas: list[dict[str, Any]]) -> None:
    records = [Record(position + 1, data, raw="{}") for position, data in enumerate(datas)]
    batch = encode_records("t", records, "u:")
    native = batch.native.to_pydict()
    assert native[UID] == [f"u:{index:x}" for index in range(len(records))]
    for index, data in enumerate(datas):
        stored = [(name, values[index]) for name, values in native.items()
                  if name not in SYSTEM_SLOTS and values[index] is not None]
        overflow = native[OVERFLOW][index]
        stored += list(orjson.loads(overflow).items()) if overflow else []
        assert sorted(stored) == sorted(leaves(data))
    assert batch.normal.column("uid").to_pylist() == native[UID]


def test_values_become_text() -> None:
    records = [Record(n, {"EventID": n, "Image": f"c:\\\\{n}.exe", "Flag": n % 2 == 0,
                          "Gone": None, "List": [n]}, raw="{}") for n in range(1, 4)]
    native = encode_records("t", records, "u:").native.to_pydict()
    assert native["EventID"] == ["1", "2", "3"]
    assert native["Flag"] == ["false", "true", "false"]
    assert native["List"] == ["[1]", "[2]", "[3]"]
    assert "Gone" not in native


def test_a_repeated_dotted_path_goes_to_the_overflow() -> None:
    records = [Record(1, {"c": {"d": "nested"}, "c.d": "top"}, raw="{}")]
    native = encode_records("t", records, "u:").native.to_pydict()
    assert native["c.d"] == ["top"]
    assert orjson.loads(native[OVERFLOW][0]) == {"c.d": "nested"}


def test_raw_records_are_kept_exactly_and_bad_bytes_escaped() -> None:
    good: list[str | bytes] = [b'{"a": "\xc3\xa9"}', b"", b"x" * 5000,
                               "caf\u00e9 \u2603".encode()]
    assert raw_array(good).to_pylist() == [
        value.decode() if isinstance(value, bytes) else value for value in good]  # one buffer
    assert raw_array([b"ok", b"\xff\xfe", b"z"]).to_pylist() == ["ok", "\\xff\\xfe", "z"]
    assert raw_array(["text", b"bytes"]).to_pylist() == ["text", "bytes"]
    assert raw_array([]).to_pylist() == []
    assert raw_array(["only", "text"]).to_pylist() == ["only", "text"]


@given(st.lists(st.binary(max_size=40), max_size=30))
@settings(max_examples=200, deadline=None)
def test_raw_bytes_are_stored_as_read_or_escaped(values: list[bytes]) -> None:
    expected = [value.decode("utf-8", "backslashreplace") for value in values]
    assert raw_array(list(values)).to_pylist() == expected


def test_a_failing_normaliser_costs_no_record(caplog) -> None:
    """A batch normaliser that raises is replaced by the event form; an event that still
    fails keeps an empty normalised view. Every record is encoded all the same."""
    import pyarrow as pa

    from trailguard.ingest.columns import BatchFields, Normaliser
    from trailguard.store.encode import EVENT_NORMALISE_BELOW

    def batch(fields: BatchFields) -> dict[str, pa.Array]:
        raise ValueError("a bug")

    def event(text: Mapping[str, str]) -> dict[str, Any]:
        if text.get("name") == "bad":
            raise KeyError("another bug")
        return {"operation": text.get("name")}

    normaliser = Normaliser(batch, event)
    names = ["bad" if index == 3 else f"op{index}" for index in range(EVENT_NORMALISE_BELOW)]
    records = [Record(index, {"name": name}, raw="{}") for index, name in enumerate(names)]
    encoded = encode_records("t", records, "u:", 0, normaliser)
    assert encoded.native.num_rows == len(records)
    operations = encoded.normal.column("operation").to_pylist()
    assert operations == [None if name == "bad" else name for name in names]
    assert "normalising a batch of t failed" in caplog.text
    assert "normalising a t event failed" in caplog.text
