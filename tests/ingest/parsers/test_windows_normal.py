"""The Windows normalised view, computed a batch at a time, against its event-by-event
specification (:func:`oracle`, plain Python over one event's stored field text): on every
EVTX-ATTACK-SAMPLES file, on OTRF Windows datasets and on generated events."""

from __future__ import annotations

import io
import ipaddress
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.ingest.parsers.conftest import normal_mismatches
from trailguard.ingest.base import ParseContext, Record, int_of, text_of
from trailguard.ingest.parsers import _windows_normal as spec
from trailguard.ingest.parsers.evtx import EvtxParser
from trailguard.ingest.parsers.windows_json import WindowsJsonParser
from trailguard.store.encode import encode_records

# --------------------------------------------------------------------------- the specification


def oracle(data: dict[str, str]) -> dict[str, Any]:
    """The normalised view of one event, from its top-level fields' stored text."""
    get = data.get

    def first(*names: str) -> str | None:
        for name in names:
            value = text_of(get(name))
            if value is not None:
                return value
        return None

    event_id = int_of(get("EventID"))
    channel = get("Channel")
    channel_key = channel.lower() if channel is not None else ""
    sysmon = channel_key == spec._SYSMON_CHANNEL or get("Provider_Name") == spec._SYSMON_PROVIDER
    security = channel_key == "security"
    normal: dict[str, Any] = {
        "operation": None if event_id is None else str(event_id),
        "host": text_of(get("Computer")),
        "log_name": first("Channel", "Provider_Name"),
    }
    message = get("Message")
    if message is None:
        message = get("message")
    if message:
        cut = message.find("\n")
        normal["message"] = (message if cut < 0 else message[:cut]).strip()[:500]
    category = None
    if event_id is not None:
        if sysmon:
            category = spec._SYSMON_CATEGORY.get(event_id)
        elif security:
            category = spec._SECURITY_CATEGORY.get(event_id)
            if category == "file" and get("ObjectType") == "Key":
                category = "registry"
        else:
            category = spec._CHANNEL_CATEGORY.get((channel_key, event_id))
    normal["category"] = category

    def pid(name: str) -> int | None:
        return int_of(get(name)) or None

    if security and event_id == 4688:
        normal.update(process_name=text_of(get("NewProcessName")), process_pid=pid("NewProcessId"),
                      process_cmdline=text_of(get("CommandLine")),
                      process_user=first("TargetUserName", "SubjectUserName"),
                      parent_name=text_of(get("ParentProcessName")), parent_pid=pid("ProcessId"))
    elif sysmon and event_id in (8, 10):
        normal.update(process_name=text_of(get("SourceImage")), process_pid=pid("SourceProcessId"),
                      process_guid=first("SourceProcessGUID", "SourceProcessGuid"),
                      process_user=text_of(get("SourceUser")))
    else:
        normal.update(process_name=first("Image", "ProcessName"), process_pid=pid("ProcessId"),
                      process_cmdline=text_of(get("CommandLine")),
                      process_guid=text_of(get("ProcessGuid")), process_user=text_of(get("User")))
        if get("ParentImage") is not None:
            normal.update(parent_name=text_of(get("ParentImage")),
                          parent_pid=pid("ParentProcessId"),
                          parent_cmdline=text_of(get("ParentCommandLine")),
                          parent_guid=text_of(get("ParentProcessGuid")))

    def sid(name: str) -> str | None:
        value = text_of(get(name))
        return None if value == spec._NULL_SID else value

    if security and event_id in spec._LOGON_EVENTS:
        normal.update(actor_user=text_of(get("TargetUserName")),
                      actor_principal=sid("TargetUserSid"),
                      actor_session=text_of(get("TargetLogonId")))
    else:
        normal.update(actor_user=first("SubjectUserName", "User", "TargetUserName"),
                      actor_principal=sid("SubjectUserSid") or first("Security_UserID", "UserID"),
                      actor_session=first("LogonId", "SubjectLogonId", "TargetLogonId"))

    _network(normal, get)

    path = get("TargetFilename")
    if path is None and security and category == "file" and get("ObjectType") == "File":
        path = get("ObjectName")
    normal["file_path"] = text_of(path)
    resource = first("TargetObject", "ServiceName", "TaskName", "ShareName", "TargetImage")
    if resource is None and security:
        if category == "account":
            resource = first("TargetUserName", "TargetSid")
        elif category == "registry":
            resource = text_of(get("ObjectName"))
    normal["resource"] = resource

    outcome = error = None
    if security and event_id == 4625:
        outcome = "failure"
        sub_status = text_of(get("SubStatus"))
        error = sub_status if sub_status and sub_status != "0x0" else text_of(get("Status"))
    elif security and event_id == 4624:
        outcome = "success"
    elif security and event_id in (4768, 4769, 4771, 4776):
        status = first("Status", "FailureCode")
        if status is not None:
            failed = status not in ("0x0", "0", "0x00000000")
            outcome = "failure" if failed else "success"
            error = status if failed else None
    if outcome is None:
        keywords = get("Keywords")
        if keywords is None:
            keywords = get("keywords")
        outcome = None if keywords is None else spec._keywords_outcome(keywords)
    normal["outcome"] = outcome
    normal["error_code"] = error
    return {key: value for key, value in normal.items() if value is not None}


def _network(normal: dict[str, Any], get: Any) -> None:
    source, source_port = get("IpAddress"), get("IpPort")
    if source is None:
        source = get("SourceIp") if get("SourceIp") is not None else get("SourceAddress")
        source_port = get("SourcePort")
    if source is not None:
        normal["src_ip"] = _ip(source)
    if source_port is not None:
        normal["src_port"] = _port(source_port)
    destination, destination_port = get("DestinationIp"), get("DestinationPort")
    if destination is None:
        destination, destination_port = get("DestAddress"), get("DestPort")
    if destination is not None:
        normal["dst_ip"] = _ip(destination)
    if destination_port is not None:
        normal["dst_port"] = _port(destination_port)
    protocol = get("Protocol")
    if protocol is not None and (source is not None or destination is not None):
        normal["protocol"] = spec._PROTOCOLS.get(protocol.lower(), protocol.lower())
    if get("Initiated") is not None:
        normal["direction"] = "out" if get("Initiated").lower() == "true" else "in"
    elif get("Direction") is not None:
        normal["direction"] = spec._WFP_DIRECTION.get(get("Direction"))
    if get("QueryName") is not None:
        normal["url"] = text_of(get("QueryName"))


def _ip(value: str) -> str | None:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return value


def _port(value: str) -> int | None:
    port = int_of(value)
    return port if port and 0 < port < 65536 else None


# --------------------------------------------------------------------------- comparing


def _records(parser: Any, data: bytes, name: str) -> list[Record]:
    items = parser().parse(io.BytesIO(data), ParseContext(name))
    return [item for item in items if isinstance(item, Record)]


def assert_same(records: list[Record]) -> None:
    count, examples = normal_mismatches(WindowsJsonParser, records, oracle)
    assert count == 0, "\n".join(examples)


# --------------------------------------------------------------------------- tests


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    texts = st.sampled_from(["", "-", "0", "0x0", "0x1a4", "4688", " 12 ", "1e3", "12.5",
                             "S-1-0-0", "S-1-5-18", "Key", "File", "security", "SECURITY",
                             "10.0.0.1", "::ffff:198.51.100.7", "fe80::1", "6", "17",
                             "true", "%%14592", "0x8020000000000000", "-9214364837600034816",
                             '["Audit Failure"]', "[", "line one\n  line two", " padded \t",
                             "Microsoft-Windows-Sysmon", "Microsoft-Windows-Sysmon/Operational",
                             "İ", "\u2028x\u2028"])
    names = st.sampled_from(sorted({
        "EventID", "Channel", "Provider_Name", "Computer", "Message", "message", "ObjectType",
        "NewProcessName", "NewProcessId", "CommandLine", "TargetUserName", "SubjectUserName",
        "ParentProcessName", "ProcessId", "SourceImage", "SourceProcessId", "SourceProcessGUID",
        "SourceProcessGuid", "SourceUser", "Image", "ProcessName", "ProcessGuid", "User",
        "ParentImage", "ParentProcessId", "ParentCommandLine", "ParentProcessGuid",
        "TargetUserSid", "TargetLogonId", "SubjectUserSid", "Security_UserID", "UserID",
        "LogonId", "SubjectLogonId", "TargetFilename", "ObjectName", "TargetObject",
        "ServiceName", "TaskName", "ShareName", "TargetImage", "TargetSid", "SubStatus",
        "Status", "FailureCode", "Keywords", "keywords", *spec._NETWORK_FIELDS}))
    event_ids = st.sampled_from([1, 3, 8, 10, 13, 4624, 4625, 4656, 4657, 4688, 4720, 4768,
                                 4776, 7045, 4104, 2**70, True])
    data: dict[str, Any] = draw(st.dictionaries(names, st.one_of(texts, st.integers(), st.none(),
                                                                 st.booleans()), max_size=14))
    data["EventID"] = draw(st.one_of(event_ids, texts))
    return data


@settings(max_examples=300, deadline=None)
@given(st.lists(events(), min_size=1, max_size=8))
def test_generated_events_agree_with_the_oracle(batch):
    assert_same([Record(position=index, data=data, raw="{}")
                 for index, data in enumerate(batch)])


def test_no_event_fields_at_all():
    records = [Record(position=1, data={"Other": "x"}, raw="{}")]
    batch = encode_records("windows_json", records, "t:", 0, spec.normalise_batch)
    assert batch.normal.column_names == ["uid", "source_type", "record", "time"]


@pytest.mark.slow
def test_evtx_attack_samples_agree_with_the_oracle(shared_data):
    records: list[Record] = []
    for path in sorted((shared_data / "evtx-attack-samples").rglob("*.evtx")):
        records += _records(EvtxParser, path.read_bytes(), path.name)
    assert len(records) == 8_255
    assert_same(records)


@pytest.mark.slow
@pytest.mark.parametrize("relative", [
    "compound/LSASS_campaign_01/metasploit_logonpasswords_lsass_memory_dump.zip",
    "atomic/windows/lateral_movement/host/covenant_wmi_remote_event_subscription_ActiveScriptEventConsumers.zip",
    "atomic/windows/credential_access/host/empire_mimikatz_logonpasswords.zip",
    "atomic/windows/defense_evasion/host/cmd_disable_eventlog_service_startuptype_modification_via_registry.zip",
])
def test_otrf_windows_datasets_agree_with_the_oracle(shared_data, relative):
    path: Path = shared_data / "otrf" / "datasets" / relative
    if not path.exists():
        pytest.skip(f"{relative} is not in this copy of the OTRF datasets")
    records: list[Record] = []
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            if member.endswith(".json") and not member.startswith("__MACOSX"):
                records += _records(WindowsJsonParser, archive.read(member), member)
    assert records
    assert_same(records)
