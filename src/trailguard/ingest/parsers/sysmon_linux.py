"""Sysmon for Linux: event XML in syslog lines or in Azure Monitor NDJSON.

Sysmon for Linux (https://github.com/Sysinternals/SysmonForLinux) writes each event as one
Windows-style event XML document through syslog, so it arrives as

* a syslog line: ``May 11 18:10:20 host sysmon: <Event><System><Provider Name="Linux-Sysmon"
  …/><EventID>1</EventID>…</System><EventData><Data Name="Image">/bin/bash</Data>…</Event>``
  (the syslog header is kept under ``envelope``);
* a bare XML line (``<Event>…</Event>``), e.g. from ``sysmon -t`` or a journal export;
* an Azure Monitor ``Syslog`` row (NDJSON) whose ``SyslogMessage`` holds the XML; the other
  columns of the row are kept under ``envelope``.

Native fields follow Windows Sysmon as Sigma sees it: every ``<Data Name="X">`` of
``EventData`` is a top-level field ``X`` (``Image``, ``CommandLine``, ``ParentImage``,
``User``, ``ProcessGuid``, ``TargetFilename``, ``DestinationIp`` …). ``System`` gives
``EventID`` (an integer), ``Channel``, ``Computer``, ``Level``, ``Task``, ``Opcode``,
``Keywords``, ``Version``, ``EventRecordID``, ``TimeCreated`` (its SystemTime) and, named
``Element_Attribute`` so they never collide with EventData names in a case-insensitive
store, ``Provider_Name``, ``Provider_Guid``, ``Execution_ProcessID``, ``Execution_ThreadID``,
``Security_UserID`` and ``Correlation_ActivityID``. An EventData name that collides (ignoring
case) with one already present goes under the mapping ``EventData``.

Repairs, since real Sysmon for Linux output is not always well-formed XML: entity references
without their ``;`` (``&lt unknown process&gt``) are completed, and an event cut short by the
syslog message size limit is closed after its last data item (the cut value is kept) and
marked ``truncated: true``. Records with ``<!DOCTYPE`` or ``<!ENTITY`` are rejected before any
XML parsing.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any, ClassVar

import orjson

from trailguard.ingest.base import (
    PARSERS,
    ParseContext,
    Record,
    Rejected,
    SourceParser,
    decode,
    int_of,
    iter_lines,
    text_of,
    too_long,
)
from trailguard.ingest.parsers.syslog import parse_header
from trailguard.ingest.timeparse import parse_iso

_PROVIDER = b"Linux-Sysmon"
_EVENT_START = re.compile(r"<Event[\s>/]")
_DTD = re.compile(r"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_BARE_ENTITY = re.compile(r"&(lt|gt|amp|quot|apos)(?![;\w])")
_LONE_AMPERSAND = re.compile(r"&(?!(?:lt|gt|amp|quot|apos|#\d+|#x[0-9A-Fa-f]+);)")
_OPEN_DATA = re.compile(r'<Data Name="[^"<>]*">[^<]*$')
_NAMESPACE = re.compile(r"^\{[^}]*\}")

#: EventID → normalised category.
CATEGORIES = {1: "process", 5: "process", 3: "network", 9: "file", 11: "file", 23: "file",
              4: "service", 16: "configuration", 255: "system"}


@PARSERS.register("sysmon_linux")
class SysmonLinuxParser(SourceParser):
    NAME: ClassVar[str] = "sysmon_linux"
    TITLE: ClassVar[str] = (
        "Sysmon for Linux: event XML in syslog lines, bare XML lines, or Azure Monitor "
        "Syslog NDJSON (SyslogMessage)"
    )
    EXAMPLE: ClassVar[str] = (
        'May 11 18:10:22 UBUNTU5 sysmon: <Event><System><Provider Name="Linux-Sysmon" '
        'Guid="{ff032593-a8d3-4f13-b0d6-01fc615a0f97}"/><EventID>1</EventID>…'
        '<Computer>UBUNTU5</Computer></System><EventData><Data Name="Image">/bin/bash</Data>'
        '<Data Name="CommandLine">bash -i</Data>…</EventData></Event>'
    )

    @classmethod
    def sniff(cls, head: bytes, name: str) -> int:
        if _PROVIDER not in head:
            return 0
        lines = [line for line in head.split(b"\n")[:200] if line.strip()]
        if len(head) >= 65536 and len(lines) > 1:
            lines = lines[:-1]
        ours = sum(1 for line in lines if _PROVIDER in line and (
            b"<Event" in line or b"\\u003cEvent" in line))
        if not lines or not ours:
            return 0
        return 90 if ours / len(lines) >= 0.5 else 40

    def parse(self, stream: IO[bytes], ctx: ParseContext) -> Iterator[Record | Rejected]:
        for number, line in iter_lines(stream):
            if line is None:
                yield too_long(number)
                continue
            text = decode(line)
            stripped = text.strip()
            if not stripped:
                continue
            if stripped.startswith("{"):
                yield _json_row(number, stripped)
            else:
                yield _text_line(number, text)


def _json_row(number: int, text: str) -> Record | Rejected:
    try:
        row = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        return Rejected(number, f"invalid JSON: {error}", text)
    if not isinstance(row, dict) or not isinstance(row.get("SyslogMessage"), str):
        return Rejected(number, "JSON row without a SyslogMessage", text)
    message = row["SyslogMessage"]
    start = _EVENT_START.search(message)
    if start is None:
        return Rejected(number, "SyslogMessage holds no Sysmon <Event>", text)
    envelope = {key: value for key, value in row.items() if key != "SyslogMessage"}
    return event_record(number, message[start.start():], text, envelope)


def _text_line(number: int, text: str) -> Record | Rejected:
    start = _EVENT_START.search(text)
    if start is None:
        return Rejected(number, "no Sysmon <Event> in this line", text)
    envelope: dict[str, Any] | None = None
    prefix = text[:start.start()].strip()
    if prefix:
        envelope = parse_header(prefix) or {"prefix": prefix}
        envelope.pop("message", None)
    return event_record(number, text[start.start():], text, envelope)


def event_record(number: int, xml_text: str, raw: str,
                 envelope: dict[str, Any] | None) -> Record | Rejected:
    """One Sysmon event from its XML text (``raw`` is the whole line as read)."""
    if _DTD.search(raw) or _DTD.search(xml_text):
        return Rejected(number, "XML with a DOCTYPE/ENTITY declaration is refused", raw)
    xml_text, truncated = _repair(xml_text.strip())
    try:
        root = ET.fromstring(xml_text)  # noqa: S314  (no DTD: checked above)
    except ET.ParseError as error:
        return Rejected(number, f"invalid event XML: {error}", raw)
    if _local(root.tag) != "Event":
        return Rejected(number, f"XML root is <{_local(root.tag)}>, not <Event>", raw)
    data = event_fields(root)
    if truncated:
        data["truncated"] = True
    if envelope:
        data["envelope"] = envelope
    return Record(position=number, data=data, raw=raw, time=_time(data),
                  normal=normalise(data, envelope))


def _repair(text: str) -> tuple[str, bool]:
    """Complete bare entities and close an event cut short; report whether it was cut."""
    text = _BARE_ENTITY.sub(r"&\1;", text)
    text = _LONE_AMPERSAND.sub("&amp;", text)
    if text.endswith("</Event>"):
        return text, False
    cut = text.rfind("</Data>")
    if cut >= 0:
        head = text[:cut + len("</Data>")]
        tail = text[cut + len("</Data>"):]
        if _OPEN_DATA.match(tail):
            head += tail + "</Data>"
        return head + "</EventData></Event>", True
    cut = text.rfind("</System>")
    if cut >= 0:
        return text[:cut + len("</System>")] + "</Event>", True
    return text, False


def _local(tag: str) -> str:
    return _NAMESPACE.sub("", tag)


def event_fields(root: ET.Element) -> dict[str, Any]:
    """Native fields of an ``<Event>`` element (layout: see the module docstring)."""
    data: dict[str, Any] = {}
    taken: set[str] = set()
    system = next((child for child in root if _local(child.tag) == "System"), None)
    if system is not None:
        for child in system:
            tag = _local(child.tag)
            if child.attrib:
                for attribute, value in child.attrib.items():
                    if tag == "TimeCreated" and attribute == "SystemTime":
                        _put(data, taken, "TimeCreated", value)
                    else:
                        _put(data, taken, f"{tag}_{_attribute_name(attribute)}", value)
            elif len(child) == 0:
                value = (child.text or "").strip()
                if tag == "EventID":
                    number = int_of(value)
                    _put(data, taken, tag, number if number is not None else value)
                elif value or tag not in ("Correlation",):
                    _put(data, taken, tag, value)
    event_data = next((child for child in root if _local(child.tag) in ("EventData",
                                                                         "UserData")), None)
    if event_data is not None:
        for index, item in enumerate(event_data):
            name = item.attrib.get("Name") or f"{_local(item.tag)}_{index}"
            _put(data, taken, name, item.text or "", overflow="EventData")
    return data


def _attribute_name(attribute: str) -> str:
    """Sysmon for Linux writes ``UserId``; Windows writes ``UserID``: use one spelling."""
    return "UserID" if attribute.lower() == "userid" else _local(attribute)


def _put(data: dict[str, Any], taken: set[str], name: str, value: Any,
         overflow: str | None = None) -> None:
    """Store a field unless its name is taken, ignoring case (the store is case-blind)."""
    lowered = name.lower()
    if lowered not in taken:
        taken.add(lowered)
        data[name] = value
        return
    if overflow is None:
        return
    nested = data.setdefault(overflow, {})
    if isinstance(nested, dict) and lowered not in {key.lower() for key in nested}:
        nested[name] = value


def _time(data: dict[str, Any]) -> datetime | None:
    return parse_iso(text_of(data.get("UtcTime"))) or parse_iso(text_of(data.get("TimeCreated")))


def normalise(data: dict[str, Any], envelope: dict[str, Any] | None) -> dict[str, Any]:
    """The normalised view of one Sysmon event."""
    event_id = int_of(data.get("EventID"))
    initiated = text_of(data.get("Initiated"))
    host = text_of(data.get("Computer"))
    if host is None and envelope:
        host = text_of(envelope.get("Computer")) or text_of(envelope.get("hostname"))
    return {
        "operation": str(event_id) if event_id is not None else text_of(data.get("EventID")),
        "category": CATEGORIES.get(event_id or -1),
        "host": host,
        "process_pid": int_of(data.get("ProcessId")),
        "process_name": text_of(data.get("Image")),
        "process_cmdline": text_of(data.get("CommandLine")),
        "process_guid": text_of(data.get("ProcessGuid")),
        "process_user": text_of(data.get("User")),
        "parent_pid": int_of(data.get("ParentProcessId")),
        "parent_name": text_of(data.get("ParentImage")),
        "parent_cmdline": text_of(data.get("ParentCommandLine")),
        "parent_guid": text_of(data.get("ParentProcessGuid")),
        "file_path": text_of(data.get("TargetFilename")),
        "src_ip": text_of(data.get("SourceIp")),
        "src_port": int_of(data.get("SourcePort")),
        "dst_ip": text_of(data.get("DestinationIp")),
        "dst_port": int_of(data.get("DestinationPort")),
        "protocol": (text_of(data.get("Protocol")) or "").lower() or None,
        "direction": None if initiated is None else ("out" if initiated == "true" else "in"),
    }
