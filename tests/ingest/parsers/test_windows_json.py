"""Windows JSON parser: every export shape, Sigma names, hostile input, and the public data."""

from __future__ import annotations

import io
import json
import zipfile
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.ingest.parsers.conftest import with_stored_normal
from trailguard.ingest.base import ParseContext, Record, Rejected
from trailguard.ingest.parsers.evtx import EvtxParser
from trailguard.ingest.parsers.windows_json import WindowsJsonParser

SYSMON = "Microsoft-Windows-Sysmon/Operational"
OTRF = "otrf/datasets"
SHAPES = ("winlogbeat8.ndjson", "winlogbeat6.ndjson", "nxlog_flat.ndjson", "evtx_dump.json",
          "log_analytics.ndjson", "get_winevent.json")


def fixture_bytes(fixtures: Path, name: str) -> bytes:
    return (fixtures / "windows_json" / name).read_bytes()


# --------------------------------------------------------------------------- sniffing




def test_first_document_longer_than_the_sniff_window(sniff):
    event = {"@timestamp": "2023-08-15T09:53:59.757Z", "Channel": "Security", "EventID": 4104,
             "SourceName": "Microsoft-Windows-PowerShell", "Hostname": "WS01",
             "ScriptBlockText": "A" * 70000}
    data = json.dumps(event).encode() + b"\n"
    assert WindowsJsonParser.sniff(data[:65536], "big.json") == 60
    assert sniff(data, "big.json") == "windows_json"


@pytest.mark.parametrize("head", [
    # CloudTrail delivery file and JSON Lines
    b'{"Records": [{"eventVersion": "1.08", "eventTime": "2024-03-01T10:00:00Z", '
    b'"eventSource": "iam.amazonaws.com", "eventName": "CreateAccessKey", "eventID": "x"}]}',
    b'{"eventVersion": "1.08", "eventSource": "s3.amazonaws.com", "eventName": "GetObject"}\n',
    # Kubernetes audit
    b'{"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": "a1",'
    b' "stage": "ResponseComplete", "verb": "get", "requestURI": "/api/v1/pods"}\n',
    # Azure Monitor Syslog row carrying Sysmon-for-Linux XML
    b'{"TenantId": "t", "SourceSystem": "Linux", "TimeGenerated": "2022-05-11T18:10:20.4Z", '
    b'"Computer": "UBUNTU5", "Facility": "user", "SeverityLevel": "info", "SyslogMessage": '
    b'"<Event><System><Provider Name=\\"Linux-Sysmon\\"/><EventID>5</EventID></System></Event>",'
    b' "Type": "Syslog"}\n',
    # Azure AD audit row
    b'{"TenantId": "t", "TimeGenerated": "2021-08-02T13:09:20Z", "OperationName": '
    b'"Add service principal", "Category": "ApplicationManagement", "Type": "AuditLogs"}\n',
    # Zeek JSON conn log
    b'{"ts": 1591367999.305988, "uid": "CMdzit1AMNsmfAIiQc", "id.orig_h": "192.168.4.76", '
    b'"id.orig_p": 36844, "id.resp_h": "192.168.4.1", "id.resp_p": 53, "proto": "udp"}\n',
    b"Mar  1 10:00:00 host sshd[42]: Accepted password for alice from 203.0.113.7 port 22\n",
    b"ElfFile\x00" + b"\x00" * 100,
    b"",
])
def test_other_families_are_not_claimed(head):
    assert WindowsJsonParser.sniff(head, "events.json") == 0


# --------------------------------------------------------------------------- shapes


def test_winlogbeat8(parse, fixtures):
    parsed = parse("windows_json", fixture_bytes(fixtures, "winlogbeat8.ndjson"))
    assert not parsed.rejected
    process, failed, cleared = parsed.records
    event = process.data
    # Sigma names at the top level …
    assert event["EventID"] == 1
    assert event["Channel"] == SYSMON
    assert event["Provider_Name"] == "Microsoft-Windows-Sysmon"
    assert event["Computer"] == "WS01.corp.example"
    assert event["Image"] == "C:\\Windows\\System32\\cmd.exe"
    assert event["CommandLine"] == "cmd.exe /c whoami /all"
    assert event["Execution_ProcessID"] == 2944
    # … event_data moved (not duplicated), native system fields kept.
    assert "event_data" not in event["winlog"]
    assert event["winlog"]["event_id"] == "1"
    assert event["event"]["code"] == "1"
    assert process.time == datetime(2024, 3, 1, 10, 0, 1, 250000)
    assert process.position == 1
    assert process.normal["process_pid"] == 4242
    assert process.normal["parent_name"] == "C:\\Windows\\explorer.exe"
    assert process.normal["category"] == "process"

    assert failed.data["EventID"] == 4625
    assert failed.normal["outcome"] == "failure"
    assert failed.normal["error_code"] == "0xc000006a"
    assert failed.normal["actor_user"] == "administrator"
    assert failed.normal["src_ip"] == "203.0.113.50"
    assert failed.normal["src_port"] == 51234
    assert "process_pid" not in failed.normal  # "0x0" is no process

    assert cleared.data["SubjectUserName"] == "Administrator"
    assert cleared.data["winlog"]["user_data"]["SubjectUserName"] == "Administrator"
    assert cleared.normal["category"] == "audit"
    assert cleared.normal["outcome"] == "success"


def test_winlogbeat6(parse, fixtures):
    logon, network = parse("windows_json", fixture_bytes(fixtures, "winlogbeat6.ndjson")).records
    assert logon.data["EventID"] == 4624
    assert logon.data["Channel"] == "Security"
    assert logon.data["TargetUserName"] == "bob"
    assert "event_data" not in logon.data
    assert logon.normal["actor_session"] == "0x5c1d2e"
    assert logon.normal["process_pid"] == 0x2A4
    assert logon.normal["outcome"] == "success"
    assert network.normal["dst_ip"] == "203.0.113.80"
    assert network.normal["dst_port"] == 443
    assert network.normal["direction"] == "out"
    assert network.normal["protocol"] == "tcp"
    assert network.data["Security_UserID"] == "S-1-5-18"


def test_nxlog_flat_keeps_native_names_and_adds_sigma_ones(parse, fixtures):
    parsed = parse("windows_json", fixture_bytes(fixtures, "nxlog_flat.ndjson"))
    process, logon, sql = parsed.records
    assert process.data["SourceName"] == process.data["Provider_Name"] == "Microsoft-Windows-Sysmon"
    assert process.data["Hostname"] == process.data["Computer"] == "WS03.corp.example"
    assert process.normal["process_cmdline"].startswith("tool.exe privilege::debug")
    assert process.normal["parent_pid"] == 5812
    # Lower-case channel name still counts as the Security log.
    assert logon.data["Channel"] == "security"
    assert logon.normal["category"] == "authentication"
    assert logon.normal["outcome"] == "success"
    assert logon.normal["src_ip"] == "198.51.100.7"  # IPv4-mapped IPv6 unwrapped
    assert logon.time == datetime(2020, 6, 10, 2, 50, 54)  # @timestamp, not local EventTime
    assert sql.normal["outcome"] == "failure"  # audit-failure bit of the classic keywords


def test_evtx_dump_json_matches_the_evtx_flattening(parse, fixtures):
    process, sql, rdp = parse("windows_json", fixture_bytes(fixtures, "evtx_dump.json")).records
    assert [process.position, sql.position, rdp.position] == [1, 60, 102]
    assert process.data["Image"] == "C:\\Windows\\System32\\certutil.exe"
    assert process.data["Execution_ThreadID"] == 3900
    assert "Correlation_ActivityID" not in process.data
    assert sql.data["EventID"] == 18456
    assert sql.data["EventID_Qualifiers"] == 49152
    assert sql.data["Data"] == ("sa\n Reason: Password did not match that for the login "
                                "provided.\n [CLIENT: 203.0.113.9]")
    assert sql.data["Binary"] == "184800000E000000"
    assert rdp.data["Param3"] == "203.0.113.77"
    assert rdp.data["UserData"] == {"EventXML": {"Param1": "administrator", "Param2": "CORP",
                                                 "Param3": "203.0.113.77"}}
    assert rdp.data["Correlation_ActivityID"] == "F420D1E4-73B1-4B1C-9F1A-6E1C1B2A0000"
    assert json.loads(rdp.raw)["Event"]["System"]["EventID"] == 1149


def test_log_analytics_rows(parse, fixtures):
    parsed = parse("windows_json", fixture_bytes(fixtures, "log_analytics.ndjson"))
    wfp, sysmon, adfs = parsed.records
    assert wfp.data["SourceAddress"] == "203.0.113.5"  # from the EventData XML
    assert "EventData" not in wfp.data
    assert wfp.normal["direction"] == "in"
    assert wfp.normal["protocol"] == "tcp"
    assert wfp.normal["dst_port"] == 8080
    assert sysmon.data["CommandLine"] == "powershell.exe -nop -w hidden -enc SQBFAFgA"
    assert sysmon.data["Provider_Name"] == "Microsoft-Windows-Sysmon"
    assert sysmon.normal["parent_name"] == "C:\\tools\\tomcat9.exe"
    assert adfs.data["EventData"]["Data"][1].startswith("http://schemas.microsoft.com")
    assert adfs.time == datetime(2024, 3, 2, 9, 0, 0, 40000)


def test_log_analytics_xml_with_a_doctype_is_rejected(parse):
    row = {"TenantId": "t", "Type": "SecurityEvent", "EventID": 4624, "Channel": "Security",
           "Computer": "WS", "EventData": '<!DOCTYPE x [<!ENTITY a "b">]><EventData>'
                                          '<Data Name="x">&a;</Data></EventData>'}
    parsed = parse("windows_json", json.dumps(row).encode())
    assert not parsed.records
    assert "DOCTYPE" in parsed.rejected[0].reason


def test_get_winevent_json(parse, fixtures):
    service, script = parse("windows_json", fixture_bytes(fixtures, "get_winevent.json")).records
    assert service.data["EventID"] == 7045
    assert service.data["Channel"] == "System"
    assert service.data["Data"].split("\n")[0] == "PSEXESVC"
    assert service.data["Security_UserID"] == "S-1-5-21-1111111111-2222222222-3333333333-500"
    assert service.time == datetime(2024, 3, 1, 10, 0, 0)
    assert service.normal["category"] == "service"
    assert script.normal["category"] == "script"
    assert script.position == 2


def test_non_windows_json_is_rejected_never_skipped(parse, fixtures):
    parsed = parse("windows_json", fixture_bytes(fixtures, "mixed_bad.ndjson"))
    assert [record.position for record in parsed.records] == [1, 5]
    assert [item.position for item in parsed.rejected] == [2, 3, 4]
    assert "not a Windows event" in parsed.rejected[0].reason
    assert "eventSource" in str(parsed.rejected[0].raw)


# --------------------------------------------------------------------------- hostile input


@settings(max_examples=80, deadline=None)
@given(st.binary(max_size=3000))
def test_random_bytes_never_raise(payload):
    for item in WindowsJsonParser().parse(io.BytesIO(payload), ParseContext("fuzz.json")):
        assert isinstance(item, Record | Rejected)
        assert item.position > 0


@settings(max_examples=80, deadline=None)
@given(st.lists(st.text(max_size=200), max_size=20))
def test_random_text_lines_never_raise(lines):
    data = "\n".join(lines).encode("utf-8", "surrogatepass")
    for item in WindowsJsonParser().parse(io.BytesIO(data), ParseContext("fuzz.json")):
        assert isinstance(item, Record | Rejected)
        assert item.position > 0


_SAMPLE_LINES = [
    line for name in ("winlogbeat8.ndjson", "winlogbeat6.ndjson", "nxlog_flat.ndjson",
                      "log_analytics.ndjson")
    for line in (Path(__file__).resolve().parents[2] / "fixtures" / "windows_json" / name)
    .read_bytes().splitlines()
]


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(_SAMPLE_LINES), st.data())
def test_truncated_and_mangled_records_never_raise(line, data):
    cut = data.draw(st.integers(0, len(line)))
    junk = data.draw(st.binary(max_size=20))
    payload = line[:cut] + junk + b"\n" + line + b"\n"
    items = list(WindowsJsonParser().parse(io.BytesIO(payload), ParseContext("t.json")))
    assert items
    for item in items:
        assert isinstance(item, Record | Rejected)
        assert item.position > 0


@settings(max_examples=60, deadline=None)
@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["Event", "System", "EventData", "UserData", "Data",
                                       "#attributes", "#text", "@Name", "Name", "EventID",
                                       "winlog", "event_data", "Channel", "Type", "Id",
                                       "LogName", "EventData_dynamic", "Keywords", "x"]),
                      children, max_size=5),
    max_leaves=25))
def test_hostile_structures_never_raise(value):
    for shape in (value, {"Event": {"System": value, "EventData": value, "UserData": value}},
                  {"EventID": 1, "Channel": "Security", "Type": "SecurityEvent",
                   "EventData": value}, {"winlog": {"event_id": 1, "event_data": value}}):
        data = json.dumps(shape).encode()
        for item in WindowsJsonParser().parse(io.BytesIO(data), ParseContext("h.json")):
            assert isinstance(item, Record | Rejected)


@pytest.mark.parametrize("template", [
    '{"Event": {"System": {"EventID": 1}, "UserData": %s}}',
    '{"Event": {"System": {"EventID": 1}, "EventData": {"Data": %s}}}',
    '{"EventID": 1, "Channel": "Security", "Type": "SecurityEvent", "EventData": %s}',
    '{"winlog": {"event_id": 1, "event_data": {"x": %s}}}',
])
def test_deep_nesting_is_kept_as_text_not_a_crash(parse, template):
    depth = 900
    for nested in ('{"a": ' * depth + "1" + "}" * depth, "[" * depth + "1" + "]" * depth):
        parsed = parse("windows_json", (template % nested).encode())
        assert len(parsed.records) == 1
        assert not parsed.rejected


def test_added_sigma_names_never_clash_in_letter_case(parse, fixtures):
    for name in SHAPES:
        for record in parse("windows_json", fixture_bytes(fixtures, name)).records:
            top = [key.lower() for key in record.data]
            assert len(top) == len(set(top)), (name, record.position)


# --------------------------------------------------------------------------- public data


def _zip_json(path: Path) -> tuple[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        names = [name for name in archive.namelist()
                 if name.endswith(".json") and not name.startswith("__MACOSX/")]
        assert len(names) == 1
        return names[0], archive.read(names[0])


def _parse_all(name: str, data: bytes) -> tuple[list[Record], list[Rejected]]:
    records: list[Record] = []
    rejected: list[Rejected] = []
    for item in WindowsJsonParser().parse(io.BytesIO(data), ParseContext(name)):
        (records if isinstance(item, Record) else rejected).append(item)  # type: ignore[arg-type]
    return with_stored_normal(WindowsJsonParser, records), rejected


@pytest.mark.parametrize(("relative", "lowercase_security"), [
    ("atomic/windows/credential_access/host/cmd_lsass_memory_dumpert_syscalls.zip", False),
    ("atomic/windows/execution/host/cmd_sharpview_pcre_net.zip", True),
])
def test_small_otrf_atomics(shared_data, sniff, relative, lowercase_security):
    name, data = _zip_json(shared_data / OTRF / relative)
    expected = sum(1 for line in data.split(b"\n") if line.strip())
    assert sniff(data, name) == "windows_json"
    records, rejected = _parse_all(name, data)
    assert not rejected
    assert len(records) == expected
    security = [record for record in records if record.normal.get("log_name", "").lower()
                == "security"]
    assert security
    assert any(record.data["Channel"] == "security" for record in security) == lowercase_security
    assert all(record.time is not None for record in records)


def test_otrf_zip_with_macos_resource_forks(shared_data):
    path = (shared_data / OTRF / "atomic/windows/defense_evasion/host/"
            "reg_disable_eventlog_service_startuptype_modification_via_registry.zip")
    with zipfile.ZipFile(path) as archive:
        assert any(name.startswith("__MACOSX/") for name in archive.namelist())
    name, data = _zip_json(path)
    records, rejected = _parse_all(name, data)
    assert not rejected
    assert len(records) == data.count(b"\n") + (not data.endswith(b"\n"))


#: Channel counts documented for the LSASS campaigns (reference/datasets.md §3.5).
LSASS = {
    "LSASS_campaign_01/metasploit_logonpasswords_lsass_memory_dump.zip": (53698, {
        SYSMON: 47906, "Microsoft-Windows-PowerShell/Operational": 3081, "Security": 2153,
        "Windows PowerShell": 472, "Application": 82, "System": 4}),
    "LSASS_campaign_02/metasploit_procdump_lsass_memory_dump.zip": (42482, {
        SYSMON: 37592, "Microsoft-Windows-PowerShell/Operational": 3075, "Security": 1181,
        "Windows PowerShell": 461, "Application": 143, "System": 30}),
}


@pytest.mark.slow
@pytest.mark.parametrize("relative", sorted(LSASS))
def test_otrf_lsass_campaigns(shared_data, relative):
    total, channels = LSASS[relative]
    name, data = _zip_json(shared_data / OTRF / "compound" / relative)
    assert sum(1 for line in data.split(b"\n") if line.strip()) == total
    records, rejected = _parse_all(name, data)
    assert not rejected
    assert len(records) == total
    assert Counter(record.normal["log_name"] for record in records) == channels
    assert all(record.time is not None for record in records)
    process_creations = [r for r in records if r.data["EventID"] == 1
                         and r.data["Channel"] == SYSMON]
    assert process_creations
    assert all(r.normal["process_guid"] == r.data["ProcessGuid"] for r in process_creations)
    assert all(r.normal["category"] == "process" for r in process_creations)
    if "procdump" in relative:
        assert any("procdump" in r.data.get("CommandLine", "").lower() for r in process_creations)


def test_sigma_json_twins_equal_the_evtx_records(shared_data):
    """The SigmaHQ .json twins (evtx-rs JSON, 13 with several documents) flatten like the EVTX."""
    root = shared_data / "sigma" / "regression_data"
    twins = sorted(root.rglob("*.json"))
    assert len(twins) == 202
    total = multi = 0
    for path in twins:
        records, rejected = _parse_all(path.name, path.read_bytes())
        assert not rejected, path
        with path.with_suffix(".evtx").open("rb") as handle:
            originals = list(EvtxParser().parse(handle, ParseContext(str(path))))
        assert len(records) == len(originals), path
        multi += len(records) > 1
        total += len(records)
        for record, original in zip(records, originals, strict=True):
            assert isinstance(original, Record)
            assert record.data.keys() == original.data.keys(), path
            assert record.time == original.time
            for key, value in record.data.items():
                if key == "TimeCreated":
                    continue
                other = original.data[key]
                if isinstance(value, str) and isinstance(other, str):
                    # Two twins were edited by hand (trailing blanks, letter case).
                    assert value.strip().casefold() == other.strip().casefold(), (path, key)
                else:
                    assert value == other, (path, key)
    assert total == 238
    assert multi == 13
