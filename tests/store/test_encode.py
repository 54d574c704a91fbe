"""The encoder's two paths (flat records by columns, nested ones one by one) agree."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from trailguard.ingest.base import Record
from trailguard.store.encode import (
    OVERFLOW,
    SYSTEM_SLOTS,
    UID,
    _nested_group,
    encode_records,
)

KEYS = st.sampled_from(["a", "b", "A", "c.d", "_uid", "", "x" * 300, "tab\tkey", "é"])
SCALARS = st.none() | st.booleans() | st.integers(-10, 10**20) | st.floats(allow_nan=False) \
    | st.text(max_size=5) | st.lists(st.integers(), max_size=2)
VALUES = st.recursive(SCALARS, lambda inner: st.dictionaries(KEYS, inner, max_size=3),
                      max_leaves=6)
RECORDS = st.lists(st.dictionaries(KEYS, VALUES, max_size=4), max_size=12)


def rows(table: Any, uids: list[str]) -> dict[str, dict[str, Any]]:
    """uid -> {column: value} without nulls, for comparing tables in any row order."""
    data = table.to_pydict()
    out: dict[str, dict[str, Any]] = {}
    for index, uid in enumerate(uids):
        out[uid] = {name: values[index] for name, values in data.items()
                    if name not in SYSTEM_SLOTS and values[index] is not None}
        out[uid][OVERFLOW] = data[OVERFLOW][index] if OVERFLOW in data else None
    return out


@settings(max_examples=300, deadline=None)
@given(RECORDS)
def test_flat_and_nested_paths_store_the_same_fields(datas: list[dict[str, Any]]) -> None:
    records = [Record(position + 1, data, raw="{}") for position, data in enumerate(datas)]
    batch = encode_records("t", records, "u:")
    uids = batch.native.column(UID).to_pylist()
    assert sorted(uids) == sorted(f"u:{index:x}" for index in range(len(records)))
    reference = _nested_group(records)
    expected = rows(reference, [f"u:{index:x}" for index in range(len(records))])
    assert rows(batch.native, uids) == expected
    assert batch.normal.column("uid").to_pylist() == uids


def test_records_of_one_shape_become_columns_at_once() -> None:
    records = [Record(n, {"EventID": n, "Image": f"c:\\\\{n}.exe", "Flag": n % 2 == 0,
                          "Gone": None}, raw="{}") for n in range(1, 4)]
    native = encode_records("t", records, "u:").native.to_pydict()
    assert native["EventID"] == ["1", "2", "3"]
    assert native["Flag"] == ["false", "true", "false"]
    assert "Gone" not in native
