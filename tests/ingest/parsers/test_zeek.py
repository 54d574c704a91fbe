"""Zeek parser: TSV and JSON fixtures, the OTRF LSASS campaign Zeek logs, sniffing, fuzzing."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.ingest.parsers.conftest import Parsed
from trailguard.ingest.base import ParseContext, Record, Rejected
from trailguard.ingest.parsers.zeek import ZeekParser, kind_from_file_name, unescape
from trailguard.store.schema import INTEGER_COLUMNS, NORMAL_COLUMNS

ParseFixture = Callable[..., Parsed]
SniffFixture = Callable[..., "str | None"]

CAMPAIGNS = {
    "LSASS_campaign_01": "metasploit_logonpasswords_lsass_memory_dump_zeek_logs.zip",
    "LSASS_campaign_02": "metasploit_procdump_lsass_memory_dump_zeek_logs.zip",
}
HEADER = (
    "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n"
    "#path\t{path}\n#fields\t{fields}\n#types\t{types}\n"
)


def _fixture(fixtures: Path, name: str) -> bytes:
    return (fixtures / "zeek" / name).read_bytes()


def _tsv(path: str, fields: str, types: str, *rows: str) -> bytes:
    return (HEADER.format(path=path, fields=fields.replace(" ", "\t"),
                          types=types.replace(" ", "\t"))
            + "".join(row.replace(" ", "\t") + "\n" for row in rows)).encode()


def _check_normal(record: Record) -> None:
    for column, value in record.normal.items():
        assert column in NORMAL_COLUMNS
        assert isinstance(value, int if column in INTEGER_COLUMNS else str), column


def test_conn_tsv_typed_values_and_normalised_view(parse: ParseFixture, fixtures: Path) -> None:
    parsed = parse("zeek", _fixture(fixtures, "conn.log"), name="conn.log")
    assert not parsed.rejected
    assert [r.position for r in parsed.records] == [9, 10, 11, 12]  # header lines are skipped
    ssl, dns, rdp, icmp = parsed.records
    for record in parsed.records:
        _check_normal(record)
        assert record.data["_path"] == "conn"
        assert record.normal["category"] == "network"
        assert record.key is None
    assert ssl.time == datetime(2024, 3, 1, 10, 0, 0, 123456)
    assert ssl.data["id.orig_h"] == "10.0.0.15"
    assert ssl.data["id.resp_p"] == 443
    assert ssl.data["duration"] == pytest.approx(12.503021)
    assert ssl.data["local_orig"] is True
    assert ssl.data["tunnel_parents"] == []  # (empty) set
    assert ssl.normal == {
        "category": "network", "src_ip": "10.0.0.15", "src_port": 49733,
        "dst_ip": "203.0.113.80", "dst_port": 443, "protocol": "tcp", "operation": "conn",
        "bytes": 1532 + 48211, "packets": 64, "outcome": "success", "direction": "out",
    }
    assert "tunnel_parents" not in dns.data  # unset (-) fields are left out, as in Zeek JSON
    assert rdp.normal["outcome"] == "failure"
    assert rdp.normal["error_code"] == "S0"
    assert rdp.normal["direction"] == "in"
    assert "bytes" not in rdp.normal
    assert icmp.data["tunnel_parents"] == ["Cfoo", "Cbar"]
    assert str(icmp.raw).startswith("1709287206.250000\tCmES5u32sYpV7JYN\t")


def test_http_tsv_escapes_vectors_and_no_close(parse: ParseFixture, fixtures: Path) -> None:
    parsed = parse("zeek", _fixture(fixtures, "http.log"), name="http.log")
    assert not parsed.rejected
    download, post = parsed.records
    assert download.normal["operation"] == "http GET"
    assert download.normal["url"] == "updates.example.net/payload.exe"
    assert "WindowsPowerShell" in download.normal["user_agent"]
    assert download.data["resp_mime_types"] == ["application/x-dosexec"]
    assert post.data["uri"] == "/gate.php?id=1\tx"  # \x09 decoded
    assert post.data["user_agent"] == "curl/8.5.0\tevil"
    assert post.data["resp_mime_types"] == ["text/html", "text/plain"]
    assert post.normal["outcome"] == "failure"
    assert post.normal["error_code"] == "404"
    assert post.normal["actor_user"] == "admin"


def test_json_lines_with_kind_from_file_name_and_iso_ts(parse: ParseFixture,
                                                         fixtures: Path) -> None:
    parsed = parse("zeek", _fixture(fixtures, "dns.json"), name="dns.json")
    assert not parsed.rejected
    mining, exfil, srv = parsed.records
    assert [r.data["_path"] for r in parsed.records] == ["dns", "dns", "dns"]
    assert mining.normal["operation"] == "dns A"
    assert mining.normal["url"] == "xmr.pool.example.org"
    assert mining.data["answers"] == ["198.51.100.77"]
    assert mining.time == datetime(2024, 3, 1, 10, 3, 20, 250000)
    assert exfil.normal["outcome"] == "failure"
    assert exfil.normal["error_code"] == "NXDOMAIN"
    assert srv.time == datetime(2024, 3, 1, 10, 3, 25, 500000)
    assert srv.normal["protocol"] == "tcp"


def test_json_kind_guessed_from_fields_without_a_useful_name(parse: ParseFixture) -> None:
    line = (b'{"ts":1.5,"uid":"C1","id.orig_h":"10.0.0.1","id.orig_p":1,"id.resp_h":"10.0.0.2",'
            b'"id.resp_p":80,"proto":"tcp","conn_state":"REJ"}\n[1]\n{"uid":"C2"}\n{bad\n')
    parsed = parse("zeek", line, name="evidence.log")
    assert parsed.records[0].data["_path"] == "conn"
    assert parsed.records[0].normal["outcome"] == "failure"
    assert [r.position for r in parsed.rejected] == [2, 3, 4]


def test_bad_lines_and_header_blocks(parse: ParseFixture) -> None:
    data = (
        b"1700000000.0\tC0\n"  # before any header
        + _tsv("conn", "ts uid id.orig_h", "time string addr", "1700000000.5 C1 10.0.0.1",
               "1700000001.5 C2", "1700000002.5 C3 10.0.0.3 extra")
        + _tsv("weird", "ts name addl", "time string string",
               "1700000003.0 bad_TCP_checksum -")
        + b"#close\t2023-11-14-22-13-23\n"
    )
    parsed = parse("zeek", data, name="mixed.log")
    assert [(r.position, r.data["_path"]) for r in parsed.records] == [(9, "conn"), (19, "weird")]
    assert [r.position for r in parsed.rejected] == [1, 10, 11]
    assert "before any #fields" in parsed.rejected[0].reason
    assert "2 fields, #fields declares 3" in parsed.rejected[1].reason
    assert parsed.records[1].normal["operation"] == "weird bad_TCP_checksum"


def test_custom_separators_from_the_header(parse: ParseFixture) -> None:
    data = (b"#separator \\x7c\n#set_separator|;\n#empty_field|EMPTY\n#unset_field|NONE\n"
            b"#path|dns\n#fields|ts|query|answers|rcode_name\n#types|time|string|vector[string]|"
            b"string\n1700000000.0|a\\x7cb.example|1.1.1.1;2.2.2.2|NONE\n"
            b"1700000001.0|EMPTY|EMPTY|NOERROR\n")
    first, second = parse("zeek", data).records
    assert first.data["query"] == "a|b.example"
    assert first.data["answers"] == ["1.1.1.1", "2.2.2.2"]
    assert "rcode_name" not in first.data
    assert second.data["query"] == ""
    assert second.data["answers"] == []


def test_json_sniff_uses_the_file_name_only_as_a_tie_breaker() -> None:
    line = b'{"ts":1692163735.003071,"node":"zeek","filter":"ip or not ip","init":true}\n'
    assert ZeekParser.sniff(line, "packet_filter.log") == 40
    assert ZeekParser.sniff(line, "evidence.json") == 0


def test_unescape_and_file_names() -> None:
    assert unescape("a\\x09b") == "a\tb"
    assert unescape("caf\\xc3\\xa9") == "café"
    assert unescape("bad\\xff") == "bad\\xff"
    assert unescape("plain\\") == "plain\\"
    assert kind_from_file_name("smb_mapping.log") == "smb_mapping"
    assert kind_from_file_name("/logs/conn.09:00:00-10:00:00.log.gz") == "conn"
    assert kind_from_file_name("http_eth0.json") == "http"
    assert kind_from_file_name("evidence.log") is None




@pytest.mark.parametrize("sample", [
    b'{"eventVersion": "1.08", "eventSource": "iam.amazonaws.com", "eventName": "X"}',
    b'{"timestamp": "2024-03-01T10:00:00Z", "event_type": "alert", "src_ip": "1.2.3.4"}',
    b'{"kind": "Event", "apiVersion": "audit.k8s.io/v1", "verb": "get"}',
    b'1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 2326',
    b"#Software: Microsoft Internet Information Services 10.0\n#Fields: date time cs-method\n",
    b"# comment\nversion,srcaddr\n",
])
def test_other_formats_not_claimed(sample: bytes) -> None:
    assert ZeekParser.sniff(sample, "conn.log") == 0


@pytest.mark.parametrize("campaign", sorted(CAMPAIGNS))
def test_otrf_lsass_campaign_zeek_logs(parse: ParseFixture, shared_data: Path,
                                       campaign: str) -> None:
    archive = shared_data / "otrf" / "datasets" / "compound" / campaign / CAMPAIGNS[campaign]
    counts: dict[str, int] = {}
    with zipfile.ZipFile(archive) as zipped:
        for member in zipped.namelist():
            data = zipped.read(member)
            expected = sum(1 for line in data.split(b"\n") if line and not line.startswith(b"#"))
            assert ZeekParser.sniff(data[:65536], member) >= 90
            parsed = parse("zeek", data, name=member)
            assert not parsed.rejected, member
            assert len(parsed.records) == expected, member
            kind = member.removesuffix(".log")
            assert all(r.data["_path"] == kind for r in parsed.records)
            assert all(r.time is not None for r in parsed.records)
            for record in parsed.records:
                _check_normal(record)
            counts[kind] = len(parsed.records)
            if campaign == "LSASS_campaign_01" and kind == "kerberos":
                users = {r.normal.get("actor_user") for r in parsed.records}
                assert "stevie.marie/PANDALAB.COM" in users
            if kind == "conn":
                assert {r.normal["protocol"] for r in parsed.records} <= {"tcp", "udp", "icmp"}
                assert any(r.normal.get("dst_port") == 445 for r in parsed.records) or \
                    campaign == "LSASS_campaign_02"
    expected_counts = {
        "LSASS_campaign_01": {"conn": 112, "dns": 96, "kerberos": 10, "weird": 22},
        "LSASS_campaign_02": {"conn": 119, "dns": 147, "weird": 6},
    }[campaign]
    assert {kind: counts[kind] for kind in expected_counts} == expected_counts


def _run(data: bytes, name: str = "fuzz.log") -> list[Record | Rejected]:
    items = list(ZeekParser().parse(io.BytesIO(data), ParseContext(name)))
    for item in items:
        assert isinstance(item, Record | Rejected)
        assert item.position >= 1
        if isinstance(item, Record):
            _check_normal(item)
    return items


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_random_bytes_never_raise(data: bytes) -> None:
    _run(data)
    _run(b"#separator \\x09\n#fields\tts\tid.orig_h\n#types\ttime\taddr\n" + data)
    ZeekParser.sniff(data, "conn.log")


ZEEK_TYPES = ["time", "string", "addr", "port", "count", "int", "double", "interval", "bool",
              "enum", "set[string]", "vector[count]", "table[addr]"]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(ZEEK_TYPES), min_size=1, max_size=6),
       st.lists(st.lists(st.text(max_size=12) | st.sampled_from(["-", "(empty)", "T", "1.5",
                                                                 "\\x09", "a,b", "1e400"]),
                         max_size=7), max_size=8))
def test_typed_fields_with_hostile_values_never_raise(types: list[str],
                                                      rows: list[list[str]]) -> None:
    fields = ["ts", "id.orig_h", "id.orig_p", "id.resp_h", "orig_bytes", "query"][:len(types)]
    data = HEADER.format(path="conn", fields="\t".join(fields), types="\t".join(types))
    data += "".join("\t".join(value.replace("\n", " ") for value in row) + "\n" for row in rows)
    items = _run(data.encode("utf-8", "surrogatepass"))
    assert len(items) <= len(rows)


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(["conn.log", "http.log", "dns.json"]), st.floats(0, 1))
def test_truncated_fixtures_never_raise(name: str, fraction: float) -> None:
    data = (Path(__file__).resolve().parents[2] / "fixtures" / "zeek" / name).read_bytes()
    _run(data[: int(len(data) * fraction)], name)
