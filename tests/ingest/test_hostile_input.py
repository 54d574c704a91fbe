"""Every registered parser against hostile input: never raises, accounts for every record."""

from __future__ import annotations

import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import trailguard.ingest.parsers  # noqa: F401
from trailguard.ingest.base import PARSERS, ParseContext, Record, Rejected
from trailguard.ingest.pipeline import choose_parser

PARSER_NAMES = sorted(PARSERS.names())

LOG_LIKE = st.lists(
    st.sampled_from([
        '{"eventName": "x", "eventSource": "s3.amazonaws.com"}', "{", "}", "[", "]", ",",
        "type=SYSCALL msg=audit(1.1:2): a0=41", "#fields\ta\tb", "#separator \\x09",
        "Dec 10 06:55:46 host sshd[1]: Failed password for root from 1.2.3.4 port 22 ssh2",
        '1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 2326 "-" "x"',
        "<Event><System><EventID>1</EventID></System></Event>", "<!DOCTYPE x [<!ENTITY a 'b'>]>",
        "2 123 eni-1 1.1.1.1 2.2.2.2 1 2 6 1 1 1 2 ACCEPT OK", "\x00\x01", "ElfFile\x00",
        "#1700000000", ": 1700000000:0;ls", '"a","b"', "version,srcaddr", "\ud7ff", "\u2028",
    ]) | st.text(max_size=80),
    max_size=25,
).map(lambda lines: "\n".join(lines).encode("utf-8", "surrogatepass"))


def run(name: str, data: bytes) -> list[Record | Rejected]:
    cls = PARSERS.get(name)
    items = list(cls().parse(io.BytesIO(data), ParseContext("fuzz.log", reference_year=2024)))
    for item in items:
        assert isinstance(item, Record | Rejected)
        assert item.position >= 1
        if isinstance(item, Record):
            assert isinstance(item.data, dict)
            assert isinstance(item.raw, str | bytes)
    return items


@pytest.mark.parametrize("name", PARSER_NAMES)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=3000))
def test_random_bytes(name: str, data: bytes) -> None:
    run(name, data)


@pytest.mark.parametrize("name", PARSER_NAMES)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=LOG_LIKE)
def test_log_like_garbage(name: str, data: bytes) -> None:
    run(name, data)


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=4000) | LOG_LIKE)
def test_sniffers_never_raise(data: bytes) -> None:
    choose_parser(data, "fuzz.log")


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(files=st.lists(st.binary(max_size=1500) | LOG_LIKE, min_size=1, max_size=4))
def test_whole_ingest_never_crashes_and_accounts_for_everything(
    tmp_path_factory: pytest.TempPathFactory, files: list[bytes]
) -> None:
    import gzip

    from trailguard.ingest.pipeline import Ingest
    from trailguard.store.case import Case

    folder = tmp_path_factory.mktemp("evidence")
    for number, data in enumerate(files):
        (folder / f"f{number}.log").write_bytes(data)
        (folder / f"f{number}.log.gz").write_bytes(gzip.compress(data)[: max(10, len(data))])
    with Case.open(tmp_path_factory.mktemp("case"), create=True) as case:
        summary = Ingest(case, workers=1).run([folder]).to_json()
        stored = case.connection.execute("SELECT count(*) FROM events").fetchall()[0][0]
    assert summary["records"] == summary["stored"] + summary["quarantined"] + \
        summary["duplicates"]
    assert stored == summary["stored"]
