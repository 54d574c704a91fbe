from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st

from trailguard.ingest.base import Rejected
from trailguard.ingest.jsonstream import JsonDoc, iter_json, sniff_json_values


def docs(data: bytes) -> list[tuple[int, object]]:
    return [(d.position, d.value if isinstance(d, JsonDoc) else "REJECTED")
            for d in iter_json(io.BytesIO(data))]


def test_json_lines_positions_are_line_numbers() -> None:
    assert docs(b'{"a":1}\n\n{"b":2}\r\n') == [(1, {"a": 1}), (3, {"b": 2})]


def test_concatenated_pretty_documents() -> None:
    data = b'\n{\n  "a": 1\n}\n{\n  "b": [1,\n 2]\n}\n'
    assert docs(data) == [(2, {"a": 1}), (5, {"b": [1, 2]})]


def test_array_elements_streamed_with_numbers() -> None:
    assert docs(b' [ {"a":1} , {"b":2} ] ') == [(1, {"a": 1}), (2, {"b": 2})]


def test_bad_line_is_rejected_and_reading_resumes() -> None:
    expected = [(1, {"a": 1}), (2, "REJECTED"), (3, {"c": 3})]
    assert docs(b'{"a":1}\n{"a": "bro\n{"c":3}\n') == expected


def test_truncated_array_reports_the_rest() -> None:
    result = list(iter_json(io.BytesIO(b'[{"a":1}, {"b":')))
    assert isinstance(result[0], JsonDoc)
    assert isinstance(result[1], Rejected)


def test_array_larger_than_the_read_chunk() -> None:
    items = [{"n": i, "pad": "x" * 500} for i in range(5000)]
    import json

    data = json.dumps(items).encode()
    assert len(data) > 2 * 1024 * 1024
    out = [d.value for d in iter_json(io.BytesIO(data)) if isinstance(d, JsonDoc)]
    assert out == items


def test_utf8_split_across_chunks() -> None:
    import json

    items = [{"v": "é" * 700_000}]
    data = json.dumps(items, ensure_ascii=False).encode()
    out = [d.value for d in iter_json(io.BytesIO(data)) if isinstance(d, JsonDoc)]
    assert out == items


def test_byte_order_mark_and_empty_input() -> None:
    assert docs(b"\xef\xbb\xbf{\"a\":1}") == [(1, {"a": 1})]
    assert docs(b"") == []
    assert docs(b"  \n\n ") == []


def test_sniff_values_from_truncated_head() -> None:
    assert sniff_json_values(b'[{"a":1},{"b":2},{"c":') == [{"a": 1}, {"b": 2}]
    assert sniff_json_values(b'{"a":1}\n{"b":') == [{"a": 1}]


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_never_raise_and_every_item_is_accounted(data: bytes) -> None:
    for item in iter_json(io.BytesIO(data)):
        assert isinstance(item, JsonDoc | Rejected)
        assert item.position >= 1


@settings(max_examples=100, deadline=None)
@given(st.lists(st.dictionaries(st.text(max_size=8),
                                st.integers(-(2**63), 2**63 - 1) | st.text(max_size=20)),
                max_size=20))
def test_json_lines_roundtrip(values: list[dict[str, object]]) -> None:
    import json

    data = "\n".join(json.dumps(v) for v in values).encode()
    assert [d.value for d in iter_json(io.BytesIO(data)) if isinstance(d, JsonDoc)] == values


def test_deeply_nested_json_is_rejected_not_a_crash() -> None:
    deep = b"[" * 5000 + b"]" * 5000
    lines = b'{"a": 1}\n' + b'{"x": ' + deep + b"}\n" + b'{"b": 2}\n'
    out = docs(lines)
    assert out[0] == (1, {"a": 1})
    assert out[-1] == (3, {"b": 2})
    assert all(item[1] == "REJECTED" for item in out[1:-1])
    assert docs(b"[" + deep + b"]")[0][1] == "REJECTED"


def test_encoder_survives_values_too_deep_for_json() -> None:
    from trailguard.ingest.base import Record
    from trailguard.store.encode import encode_records

    value: list[object] = []
    for _ in range(3000):
        value = [value]
    batch = encode_records("t", [Record(1, {"deep": value}, raw="{}")], "k:")
    assert "too deeply" in batch.native.column("deep")[0].as_py()


def test_json_line_with_bytes_that_are_not_utf8_is_kept() -> None:
    out = list(iter_json(io.BytesIO(b'{"eventName": "Bad\xff\xfe", "n": 1}\n')))
    assert isinstance(out[0], JsonDoc)
    assert out[0].value["n"] == 1
    from trailguard.store.encode import text_array

    assert text_array([out[0].value["eventName"]]).to_pylist() == ["Bad\\xff\\xfe"]
