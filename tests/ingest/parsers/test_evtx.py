"""EVTX parser: sniffing, flattening to Sigma names, damaged files, and the public corpora."""

from __future__ import annotations

import io
import json
import struct
from datetime import datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trailguard.ingest.base import ParseContext, Record, Rejected
from trailguard.ingest.parsers import evtx as evtx_module
from trailguard.ingest.parsers.evtx import EvtxParser

ATTACK_SAMPLES = "evtx-attack-samples"
REGRESSION = "sigma/regression_data"
SYSMON = "Microsoft-Windows-Sysmon/Operational"


def declared_records(data: bytes) -> int:
    """Independent count: sum of (last - first + 1) record ids over every chunk header."""
    total = 0
    for offset in range(4096, len(data) - 511, 65536):
        if data[offset:offset + 8] == b"ElfChnk\x00":
            first, last = struct.unpack_from("<QQ", data, offset + 24)
            total += last - first + 1
    return total


def evtx_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*.evtx") if path.is_file())


def sample(shared_data: Path, relative: str) -> bytes:
    return (shared_data / ATTACK_SAMPLES / relative).read_bytes()


def by_record_id(records: list[Record]) -> dict[int, Record]:
    return {record.data["EventRecordID"]: record for record in records}


# --------------------------------------------------------------------------- sniffing


def test_sniff_claims_the_evtx_magic_only(sniff):
    head = b"ElfFile\x00" + b"\x00" * 4088
    assert EvtxParser.sniff(head, "Security.evtx") == 100
    assert sniff(head, "whatever.bin") == "evtx"
    assert EvtxParser.sniff(b'{"Event": {"System": {}}}', "x.evtx") == 0
    assert EvtxParser.sniff(b"ElfChnk\x00" + b"\x00" * 100, "x.evtx") == 0
    assert EvtxParser.sniff(b"", "Security.evtx") == 0


def test_other_families_are_not_claimed():
    samples = [
        b'{"Records": [{"eventVersion": "1.08", "eventSource": "iam.amazonaws.com"}]}',
        b"Mar  1 10:00:00 host sshd[42]: Accepted password for alice from 203.0.113.7",
        b'{"kind": "Event", "apiVersion": "audit.k8s.io/v1", "verb": "get"}',
        b"\x1f\x8b\x08\x00",
        b"PK\x03\x04",
    ]
    for head in samples:
        assert EvtxParser.sniff(head, "sample.evtx") == 0


# --------------------------------------------------------------------------- damaged input


def test_header_only_file_is_one_rejection(parse):
    parsed = parse("evtx", b"ElfFile\x00" + b"\x00" * 120, name="broken.evtx")
    assert parsed.records == []
    assert len(parsed.rejected) == 1
    assert "unreadable EVTX" in parsed.rejected[0].reason


def test_empty_input(parse):
    parsed = parse("evtx", b"", name="empty.evtx")
    assert parsed.records == []
    assert len(parsed.rejected) == 1


def test_truncated_chunk_saves_what_it_can_and_reports_the_rest(parse, shared_data):
    data = sample(shared_data, "AutomatedTestingTools/Malware/"
                  "DE_timestomp_and_dll_sideloading_and_RunPersist.evtx")
    declared = declared_records(data)
    assert declared == 23
    parsed = parse("evtx", data[:30000], name="cut.evtx")
    # The package reads nothing from the cut chunk; the retry (zero-padded) saves 21 records.
    assert len(parsed.records) == 21
    assert len(parsed.records) + len(parsed.rejected) == declared
    assert all("lost" in item.reason for item in parsed.rejected)
    positions = [item.position for item in parsed.records + parsed.rejected]
    assert sorted(positions) == list(range(1, declared + 1))


def test_chunk_that_makes_the_package_loop_is_cut_off(parse, shared_data, monkeypatch):
    """evtx-rs loops forever on this one-byte damage when checksums are not checked."""
    monkeypatch.setattr(evtx_module, "RECOVERY_SECONDS", 1.0)
    data = bytearray(sample(shared_data,
                            "Credential Access/CA_4624_4625_LogonType2_LogonProc_chrome.evtx"))
    data[4925] = 172
    parsed = parse("evtx", bytes(data), name="loop.evtx")
    assert parsed.records == []
    assert len(parsed.rejected) == declared_records(bytes(data)) == 4
    assert "did not finish" in parsed.rejected[0].reason


def test_garbled_template_name_is_recovered(parse, shared_data):
    original = sample(shared_data, "AutomatedTestingTools/PanacheSysmon_vs_AtomicRedTeam01.evtx")
    data = bytearray(original)
    data[4096 + 600] ^= 0xFF  # inside the first chunk's template: "Event" is misspelt
    parsed = parse("evtx", bytes(data), name="garbled.evtx")
    assert len(parsed.records) + len(parsed.rejected) == declared_records(original)
    assert len(parsed.records) == declared_records(original)
    assert all("EventID" in record.data for record in parsed.records)


def test_corrupt_record_bytes_are_rejected_not_raised(parse, shared_data):
    data = bytearray(sample(shared_data, "AutomatedTestingTools/Malware/"
                            "DE_timestomp_and_dll_sideloading_and_RunPersist.evtx"))
    data[4096 + 512 + 100:4096 + 512 + 104] = b"\xff\xff\xff\xff"
    parsed = parse("evtx", bytes(data), name="corrupt.evtx")
    assert parsed.rejected
    assert len(parsed.records) + len(parsed.rejected) == 23


def test_non_seekable_stream_is_spooled(shared_data):
    data = sample(shared_data, "AutomatedTestingTools/Malware/"
                  "DE_timestomp_and_dll_sideloading_and_RunPersist.evtx")

    class Pipe(io.RawIOBase):
        def __init__(self, payload: bytes) -> None:
            self._inner = io.BytesIO(payload)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:
            return self._inner.readinto(buffer)

    items = list(EvtxParser().parse(io.BufferedReader(Pipe(data)), ParseContext("pipe.evtx")))
    assert len(items) == 23
    assert all(isinstance(item, Record) for item in items)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=6000))
def test_random_bytes_never_raise(payload):
    for data in (payload, b"ElfFile\x00" + payload):
        items = list(EvtxParser().parse(io.BytesIO(data), ParseContext("fuzz.evtx")))
        for item in items:
            assert isinstance(item, Record | Rejected)
            assert item.position > 0


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_mutated_real_file_never_raises(shared_data, data):
    original = sample(shared_data, "AutomatedTestingTools/Malware/"
                      "DE_timestomp_and_dll_sideloading_and_RunPersist.evtx")
    mutated = bytearray(original)
    for _ in range(data.draw(st.integers(1, 8))):
        offset = data.draw(st.integers(4096, len(mutated) - 1))
        mutated[offset] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(4096, len(mutated)))
    items = list(EvtxParser().parse(io.BytesIO(bytes(mutated[:cut])), ParseContext("m.evtx")))
    for item in items:
        assert isinstance(item, Record | Rejected)
        assert item.position > 0


# --------------------------------------------------------------------------- flattening


def test_sysmon_process_creation_is_flattened_to_sigma_names(parse, shared_data):
    data = sample(shared_data, "AutomatedTestingTools/Malware/"
                  "DE_timestomp_and_dll_sideloading_and_RunPersist.evtx")
    parsed = parse("evtx", data, name="x.evtx")
    assert len(parsed.records) == 23
    record = by_record_id(parsed.records)[6577]
    event = record.data
    assert event["EventID"] == 1
    assert event["Channel"] == SYSMON
    assert event["Provider_Name"] == "Microsoft-Windows-Sysmon"
    assert event["Provider_Guid"] == "5770385F-C22A-43E0-BF4C-06F5698FFBD9"
    assert event["Computer"] == "IEWIN7"
    assert event["Execution_ProcessID"] == 1912
    assert event["Security_UserID"] == "S-1-5-18"
    assert event["TimeCreated"] == "2019-04-27T15:57:53.368863Z"
    assert event["Image"] == "C:\\Users\\IEUser\\Downloads\\Flash_update.exe"
    assert event["ParentImage"] == "C:\\Windows\\explorer.exe"
    assert "System" not in event
    assert "EventData" not in event
    assert record.time == datetime(2019, 4, 27, 15, 57, 53, 368863)
    assert json.loads(record.raw)["Event"]["System"]["EventRecordID"] == 6577
    normal = record.normal
    assert normal["operation"] == "1"
    assert normal["category"] == "process"
    assert normal["host"] == "IEWIN7"
    assert normal["log_name"] == SYSMON
    assert normal["process_name"] == event["Image"]
    assert normal["process_pid"] == 2680
    assert normal["process_guid"] == "365ABB72-7C01-5CC4-0000-00102B3E0C00"
    assert normal["process_user"] == "IEWIN7\\IEUser"
    assert normal["parent_pid"] == 2772
    assert normal["parent_cmdline"] == "C:\\Windows\\Explorer.EXE"
    assert record.key is None


def test_failed_logon(parse, shared_data):
    data = sample(shared_data, "Credential Access/CA_4624_4625_LogonType2_LogonProc_chrome.evtx")
    parsed = parse("evtx", data, name="x.evtx")
    failed = [r for r in parsed.records if r.data["EventID"] == 4625]
    assert failed
    normal = failed[0].normal
    assert normal["outcome"] == "failure"
    assert normal["category"] == "authentication"
    assert normal["actor_user"] == "IEUser"
    assert normal["error_code"] == "0xc000006a"
    assert "actor_principal" not in normal  # the NULL SID S-1-0-0 is no principal


def test_user_data_leaves_and_qualified_event_id(parse, shared_data):
    data = sample(shared_data, "Command and Control/"
                  "DE_RDP_Tunneling_TerminalServices-RemoteConnectionManagerOperational_1149.evtx")
    parsed = parse("evtx", data, name="x.evtx")
    logons = [r for r in parsed.records if r.data["EventID"] == 1149]
    assert logons
    event = logons[0].data
    assert event["Param1"] == event["UserData"]["EventXML"]["Param1"]
    assert "xmlns" not in event["UserData"]["EventXML"]
    assert logons[0].normal["category"] == "authentication"

    exit_monitor = parse("evtx", sample(
        shared_data,
        "Credential Access/LsassSilentProcessExit_process_exit_monitor_3001_lsass.evtx"),
        name="x.evtx").records[0].data
    assert exit_monitor["EventID"] == 3001
    assert exit_monitor["EventID_Qualifiers"] == 16384
    assert exit_monitor["param1"] == "C:\\Windows\\System32\\lsass.exe"
    assert exit_monitor["EventData"] == {"Name": "EVENT_PROCESSTERMINATION_CROSSPROCESS"}


def test_unnamed_event_data_becomes_data(parse, shared_data):
    data = sample(shared_data, "Credential Access/MSSQL_multiple_failed_logon_EventID_18456.evtx")
    first = parse("evtx", data, name="x.evtx").records[0]
    assert first.data["EventID"] == 18456
    assert first.data["Data"].split("\n")[0] == "sa"
    assert "Reason: Password did not match" in first.data["Data"]
    assert first.data["EventData"]["Data"][0] == "sa"
    assert first.normal["outcome"] == "failure"  # audit-failure keyword bit


def test_etw_capture_without_channel_is_accepted(parse, shared_data):
    parsed = parse("evtx", sample(shared_data, "Credential Access/etw_rpc_zerologon.evtx"),
                   name="x.evtx")
    assert len(parsed.records) == 415
    assert not parsed.rejected
    assert all("Channel" not in record.data for record in parsed.records)
    assert parsed.records[0].normal["log_name"] == "Microsoft-Windows-RPC"


# --------------------------------------------------------------------------- public corpora


def test_every_attack_sample_parses_completely(shared_data):
    files = evtx_files(shared_data / ATTACK_SAMPLES)
    assert len(files) == 277
    total = 0
    for path in files:
        data = path.read_bytes()
        with path.open("rb") as handle:
            items = list(EvtxParser().parse(handle, ParseContext(str(path))))
        rejected = [item for item in items if isinstance(item, Rejected)]
        assert not rejected, (path, rejected[:3])
        assert len(items) == declared_records(data), path
        assert [item.position for item in items] == list(range(1, len(items) + 1))
        total += len(items)
    assert total == 8255


def _json_twin(path: Path) -> list[dict[str, Any]]:
    """The .json twin, decoded here independently of the project's JSON reader."""
    text = path.read_text(encoding="utf-8-sig")
    decoder = json.JSONDecoder()
    documents: list[dict[str, Any]] = []
    index = 0
    while True:
        while index < len(text) and text[index].isspace():
            index += 1
        if index >= len(text):
            return documents
        document, index = decoder.raw_decode(text, index)
        documents.append(document)


def _clean(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


def test_sigma_regression_evtx_matches_json_twins(shared_data):
    files = evtx_files(shared_data / REGRESSION)
    assert len(files) == 202
    total = multi = 0
    for path in files:
        with path.open("rb") as handle:
            items = list(EvtxParser().parse(handle, ParseContext(str(path))))
        assert all(isinstance(item, Record) for item in items), path
        twins = _json_twin(path.with_suffix(".json"))
        multi += len(twins) > 1
        assert len(items) == len(twins) == declared_records(path.read_bytes()), path
        for record, twin in zip(items, twins, strict=True):
            assert isinstance(record, Record)
            system = twin["Event"]["System"]
            event_id = system["EventID"]
            if isinstance(event_id, dict):
                event_id = event_id["#text"]
            assert record.data["EventID"] == event_id
            assert record.data.get("Channel") == system.get("Channel")
            assert record.data["Computer"] == system["Computer"]
            event_data = twin["Event"].get("EventData") or {}
            for field in ("Image", "CommandLine", "TargetFilename", "TargetObject", "User"):
                if field in event_data:
                    assert _clean(record.data[field]) == _clean(event_data[field]), (path, field)
        total += len(items)
    assert total == 238
    assert multi == 13
