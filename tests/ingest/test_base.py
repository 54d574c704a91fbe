from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st

import trailguard.ingest.base as base
from trailguard.ingest.base import int_of, iter_lines, text_of


def reference_lines(data: bytes, limit: int) -> list[tuple[int, bytes | None]]:
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [(number, None if len(line) > limit else line.removesuffix(b"\r"))
            for number, line in enumerate(lines, 1)]


@settings(max_examples=300, deadline=None)
@given(data=st.lists(st.sampled_from([b"a", b"bb" * 20, b"\n", b"\r\n", b"\r", b""]),
                     max_size=40).map(b"".join),
       limit=st.integers(1, 60), chunk=st.integers(1, 70))
def test_chunked_lines_equal_a_plain_split(data: bytes, limit: int, chunk: int) -> None:
    saved = base._LINE_CHUNK
    base._LINE_CHUNK = chunk
    try:
        assert list(iter_lines(io.BytesIO(data), limit)) == reference_lines(data, limit)
    finally:
        base._LINE_CHUNK = saved


def test_value_helpers() -> None:
    assert text_of("-") is None and text_of(True) == "true" and text_of(5) == "5"
    assert int_of("0x1f") == 31 and int_of("12.7") == 12 and int_of(2**64) is None
    assert int_of(True) is None and int_of("x") is None
