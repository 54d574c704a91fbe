"""The Windows normalised view, computed a batch at a time, against its event-by-event
specification (``normalise_event``, plain Python over one event's stored field text): on every
EVTX-ATTACK-SAMPLES file, on OTRF Windows datasets and on generated events."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.ingest.parsers.conftest import normal_mismatches
from trailguard.ingest.base import ParseContext, Record
from trailguard.ingest.parsers import _windows_normal as spec
from trailguard.ingest.parsers.evtx import EvtxParser
from trailguard.ingest.parsers.windows_json import WindowsJsonParser
from trailguard.store.encode import EVENT_NORMALISE_BELOW, encode_records


def _records(parser: Any, data: bytes, name: str) -> list[Record]:
    items = parser().parse(io.BytesIO(data), ParseContext(name))
    return [item for item in items if isinstance(item, Record)]


def assert_same(records: list[Record]) -> None:
    count, examples = normal_mismatches(WindowsJsonParser, records)
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
def test_generated_events_agree_with_the_event_form(batch):
    assert_same([Record(position=index, data=data, raw="{}")
                 for index, data in enumerate(batch)])


@pytest.mark.parametrize("count", [1, EVENT_NORMALISE_BELOW])
def test_no_event_fields_at_all(count):
    records = [Record(position=1, data={"Other": "x"}, raw="{}")] * count
    batch = encode_records("windows_json", records, "t:", 0, spec.NORMALISER)
    assert batch.normal.column_names == ["uid", "source_type", "record", "time"]


def test_small_and_large_batches_store_the_same_view():
    records = [Record(position=index, data={"EventID": 4688, "Channel": "Security",
                                            "NewProcessName": f"C:\\p{index}.exe"}, raw="{}")
               for index in range(EVENT_NORMALISE_BELOW)]
    small = encode_records("windows_json", records[:3], "t:", 0, spec.NORMALISER).normal
    large = encode_records("windows_json", records, "t:", 0, spec.NORMALISER).normal
    assert small.to_pylist() == large.slice(0, 3).to_pylist()


@pytest.mark.slow
def test_evtx_attack_samples_agree_with_the_event_form(shared_data):
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
def test_otrf_windows_datasets_agree_with_the_event_form(shared_data, relative):
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
