"""Windows events exported as JSON: JSON Lines, arrays or concatenated documents.

Shapes recognised per record (a file may mix them):

* **evtx-rs / evtx_dump** (``{"Event": {"System": …, "EventData": …}}``, as in SigmaHQ's
  ``regression_data`` .json files; also ``{"System": …}`` without the wrapper and the
  xmltodict rendering with ``@Name`` attributes). Flattened exactly like the ``evtx`` parser.
* **Flat (NXLog ``im_msvistalog`` → Logstash, OTRF Security-Datasets)**: ``EventID``,
  ``Channel``, ``Hostname``, ``SourceName``, ``@timestamp``, ``Message`` and the event's own
  fields (``Image``, ``CommandLine`` …) at the top level. Stored as is.
* **Winlogbeat 7/8** (``winlog.event_data.*``, ``winlog.channel``, ``winlog.event_id``,
  ``winlog.computer_name``, ``winlog.provider_name``, ``event.code``, ``@timestamp``) and
  **Winlogbeat 6** (``event_data.*``, ``log_name``, ``event_id``, ``computer_name``,
  ``source_name``).
* **Azure Monitor / Log Analytics Windows tables** (``Type`` ``SecurityEvent``, ``Event`` or
  ``WindowsEvent``): ``EventData`` is an XML string, a JSON string or an object;
  ``EventData_dynamic`` a JSON array of unnamed values.
* **PowerShell** ``Get-WinEvent | ConvertTo-Json`` (``Id``, ``LogName``, ``ProviderName``,
  ``MachineName``, ``RecordId``, ``Properties``).

Field names (the choice, and why): native names are kept, and every shape is made to expose the
Sigma names of :mod:`trailguard.ingest.parsers._windows` at the top level, so one compiled
Sigma rule matches the same event whatever exported it. For Winlogbeat the ``event_data``
fields are *moved* to the top level (not duplicated: they are most of the event; a name already
taken stays nested under its original path), ``user_data`` stays nested and its scalar fields
are also copied up, and the ``winlog.*`` system fields are also copied to their Sigma names
(``EventID``, ``Channel``, ``Provider_Name``, ``Computer``, ``EventRecordID`` …). For the flat
shape, ``Provider_Name`` (from ``SourceName``) and ``Computer`` (from ``Hostname``) are added
when absent. Added names never clash with an existing one in another letter case (SQL column
names ignore case: Winlogbeat 6's ``task`` gets no ``Task`` copy). ``Record.raw`` always holds
the record exactly as read.

A JSON value that is none of these (no event id anywhere) is Rejected, never skipped.
References: Elastic Winlogbeat exported-fields documentation; NXLog ``im_msvistalog`` fields;
OTRF Security-Datasets; Microsoft Azure Monitor ``SecurityEvent``/``Event``/``WindowsEvent``
table references; evtx-rs JSON output.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
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
    text_of,
)
from trailguard.ingest.columns import Normaliser
from trailguard.ingest.jsonstream import iter_json, sniff_json_values
from trailguard.ingest.parsers._windows import (
    add_unnamed_data,
    add_user_data,
    event_id_of,
    flatten_event,
    scalar,
)
from trailguard.ingest.parsers._windows_normal import NORMALISER
from trailguard.ingest.timeparse import from_epoch, parse_iso

#: Log Analytics tables that hold Windows events.
_LOG_ANALYTICS_TABLES = frozenset({"SecurityEvent", "Event", "WindowsEvent"})
_LOG_ANALYTICS_MARKS = ("TenantId", "_ResourceId", "SourceSystem", "TimeGenerated")
_DOTNET_DATE = re.compile(r"/Date\((-?\d+)[^)]*\)/")

#: Winlogbeat ``winlog.*`` (7/8) system fields → Sigma names.
_WINLOG_SYSTEM = (
    ("channel", "Channel"),
    ("provider_name", "Provider_Name"),
    ("provider_guid", "Provider_Guid"),
    ("computer_name", "Computer"),
    ("record_id", "EventRecordID"),
    ("task", "Task"),
    ("opcode", "Opcode"),
    ("keywords", "Keywords"),
    ("version", "Version"),
    ("activity_id", "Correlation_ActivityID"),
    ("related_activity_id", "Correlation_RelatedActivityID"),
)
#: Winlogbeat 6 top-level system fields → Sigma names (``task``, ``opcode``, ``keywords``,
#: ``version`` already exist in another letter case and are left as they are).
_BEAT6_SYSTEM = (
    ("log_name", "Channel"),
    ("source_name", "Provider_Name"),
    ("computer_name", "Computer"),
    ("record_number", "EventRecordID"),
    ("process_id", "Execution_ProcessID"),
    ("thread_id", "Execution_ThreadID"),
    ("activity_id", "Correlation_ActivityID"),
)


@PARSERS.register("windows_json")
class WindowsJsonParser(SourceParser):
    NAME: ClassVar[str] = "windows_json"
    TITLE: ClassVar[str] = (
        "Windows events as JSON/NDJSON: evtx_dump ({\"Event\": {\"System\": …}}), NXLog/OTRF "
        "flat events, Winlogbeat 6/7/8, Azure Monitor SecurityEvent/WindowsEvent rows, "
        "Get-WinEvent | ConvertTo-Json"
    )
    EXAMPLE: ClassVar[str] = (
        '{"@timestamp": "2023-08-15T09:58:12.345Z", "Channel": '
        '"Microsoft-Windows-Sysmon/Operational", "EventID": 1, "Hostname": '
        '"MKT01.pandalab.com", "SourceName": "Microsoft-Windows-Sysmon", "Image": '
        '"C:\\\\Windows\\\\System32\\\\cmd.exe", "CommandLine": "cmd.exe /c whoami", '
        '"ParentImage": "C:\\\\Windows\\\\explorer.exe", "ProcessId": "4242"}'
    )

    @classmethod
    def normaliser(cls) -> Normaliser:
        return NORMALISER

    @classmethod
    def sniff(cls, head: bytes, name: str) -> int:
        values = sniff_json_values(head)
        if values:
            best = 0
            for value in values:
                if isinstance(value, dict):
                    best = max(best, _shape_score(value))
            return best
        # A first document longer than the sniff window: decide on the key names alone.
        if b'"SyslogMessage"' in head or b'"eventSource"' in head:
            return 0
        if b'"System"' in head and b'"EventID"' in head and b'"Provider"' in head:
            return 60
        if b'"winlog"' in head and (b'"event_id"' in head or b'"channel"' in head):
            return 60
        if b'"EventID"' in head and (b'"Channel"' in head or b'"SourceName"' in head):
            return 60
        return 0

    def parse(self, stream: IO[bytes], ctx: ParseContext) -> Iterator[Record | Rejected]:
        for doc in iter_json(stream):
            if isinstance(doc, Rejected):
                yield doc
                continue
            value = doc.value
            if not isinstance(value, dict):
                yield Rejected(doc.position, "not a Windows event (not a JSON object)", doc.raw)
                continue
            try:
                data = _flatten(value)
            except (ValueError, TypeError, RecursionError, ElementTree.ParseError) as error:
                yield Rejected(doc.position, f"unreadable Windows event: {error}", doc.raw)
                continue
            if data is None:
                yield Rejected(doc.position, "not a Windows event (no EventID, Event.System or "
                               "winlog)", doc.raw)
                continue
            yield Record(position=doc.position, data=data, raw=doc.raw, time=_time(data))


# --------------------------------------------------------------------------- sniffing


def _shape_score(value: dict[str, Any]) -> int:
    """How surely one decoded JSON object is a Windows event (0 = not one)."""
    if "SyslogMessage" in value or "eventSource" in value:
        return 0
    event = value.get("Event")
    if isinstance(event, dict) and isinstance(event.get("System"), dict):
        return 90
    system = value.get("System")
    if isinstance(system, dict) and "EventID" in system:
        return 80
    winlog = value.get("winlog")
    if isinstance(winlog, dict) and ("event_id" in winlog or "channel" in winlog):
        return 90
    if isinstance(value.get("event_data"), dict) and "event_id" in value and (
            "log_name" in value or "source_name" in value):
        return 85
    if "EventID" in value:
        if value.get("Type") in _LOG_ANALYTICS_TABLES and any(
                mark in value for mark in _LOG_ANALYTICS_MARKS):
            return 75
        if "Channel" in value and ("SourceName" in value or "Hostname" in value
                                   or "ProviderGuid" in value):
            return 85
        if "Channel" in value or "SourceName" in value:
            return 60
    if "Id" in value and "LogName" in value and "ProviderName" in value:
        return 70
    return 0


# --------------------------------------------------------------------------- flattening


def _flatten(value: dict[str, Any]) -> dict[str, Any] | None:
    """The Sigma-named flat form of one record, or None when it is not a Windows event."""
    event = value.get("Event")
    if isinstance(event, dict) and isinstance(event.get("System"), dict):
        return flatten_event(event)
    if "EventID" in value:
        if value.get("Type") in _LOG_ANALYTICS_TABLES and (
                "EventData" in value or "EventData_dynamic" in value):
            return _log_analytics(value)
        return _flat(value)
    winlog = value.get("winlog")
    if isinstance(winlog, dict) and ("event_id" in winlog or "channel" in winlog):
        return _winlogbeat(value, winlog)
    if "event_id" in value and ("log_name" in value or "event_data" in value):
        return _winlogbeat6(value)
    if isinstance(value.get("System"), dict):
        return flatten_event(value)
    if "Id" in value and "LogName" in value:
        return _powershell(value)
    return None


def _flat(value: dict[str, Any]) -> dict[str, Any]:
    """NXLog/OTRF flat events: stored as read, plus the Sigma names they lack."""
    if "Provider_Name" not in value:
        provider = value.get("SourceName")
        if provider is None:
            provider = value.get("ProviderName")
        if provider is not None:
            value["Provider_Name"] = provider
    if "Computer" not in value:
        host = value.get("Hostname")
        if host is not None:
            value["Computer"] = host
    event_id = value["EventID"]
    if not isinstance(event_id, int):
        value["EventID"] = event_id_of(event_id)
    return value


def _move_fields(out: dict[str, Any], fields: Any, nest: tuple[str, ...]) -> None:
    """Move event fields to the top level; a name already taken stays under ``nest``.

    Names are compared case-insensitively: SQL column names are (``type`` vs ``Type``).
    """
    if not isinstance(fields, dict):
        if fields is not None:
            _nest(out, nest, fields)
        return
    taken = {name.lower() for name in out}
    kept: dict[str, Any] = {}
    for name, item in fields.items():
        lowered = str(name).lower()
        if lowered in taken:
            kept[name] = item
        else:
            out[name] = scalar(item)
            taken.add(lowered)
    if kept:
        _nest(out, nest, kept)


def _copy_leaves(out: dict[str, Any], fields: dict[str, Any]) -> None:
    """Copy UserData's scalar fields to the top level where the name is free (any case)."""
    taken = {name.lower() for name in out}
    for name, item in fields.items():
        if not isinstance(item, dict | list) and str(name).lower() not in taken:
            out[name] = scalar(item)
            taken.add(str(name).lower())


def _nest(out: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    target = out
    for step in path[:-1]:
        child = target.get(step)
        if not isinstance(child, dict):
            child = {}
            target[step] = child
        target = child
    target[path[-1]] = value


def _alias(out: dict[str, Any], source: dict[str, Any], names: tuple[tuple[str, str], ...]) \
        -> None:
    """Copy native fields to their Sigma names, unless the name is taken (in any letter case)."""
    taken = {name.lower() for name in out}
    for native, sigma in names:
        item = source.get(native)
        if item is not None and sigma.lower() not in taken:
            out[sigma] = item
            taken.add(sigma.lower())


def _winlogbeat(value: dict[str, Any], winlog: dict[str, Any]) -> dict[str, Any]:
    out = dict(value)
    winlog = dict(winlog)
    event_data = winlog.pop("event_data", None)
    user_data = winlog.pop("user_data", None)
    out["winlog"] = winlog
    event_id = winlog.get("event_id")
    if event_id is None:
        event_id = _dig(value, "event", "code")
    if event_id is not None and "EventID" not in out:
        out["EventID"] = event_id_of(event_id)
    _alias(out, winlog, _WINLOG_SYSTEM)
    process = winlog.get("process")
    if isinstance(process, dict):
        _alias(out, process, (("pid", "Execution_ProcessID"),))
        _alias(out, _dict(process.get("thread")), (("id", "Execution_ThreadID"),))
    _alias(out, _dict(winlog.get("user")), (("identifier", "Security_UserID"),))
    _move_fields(out, event_data, ("winlog", "event_data"))
    if isinstance(user_data, dict):
        nested = {str(key): scalar(item) for key, item in user_data.items()}
        out["winlog"]["user_data"] = nested
        _copy_leaves(out, nested)
    return out


def _winlogbeat6(value: dict[str, Any]) -> dict[str, Any]:
    out = dict(value)
    event_data = out.pop("event_data", None)
    user_data = out.get("user_data")
    out["EventID"] = event_id_of(value.get("event_id"))
    _alias(out, value, _BEAT6_SYSTEM)
    _alias(out, _dict(value.get("user")), (("identifier", "Security_UserID"),))
    _move_fields(out, event_data, ("event_data",))
    if isinstance(user_data, dict):
        _copy_leaves(out, user_data)
    return out


def _log_analytics(value: dict[str, Any]) -> dict[str, Any]:
    """Azure Monitor ``SecurityEvent`` / ``Event`` / ``WindowsEvent`` rows."""
    out = dict(value)
    event_data = out.pop("EventData", None)
    dynamic = out.pop("EventData_dynamic", None)
    out["EventID"] = event_id_of(value.get("EventID"))
    _alias(out, value, (("EventSourceName", "Provider_Name"), ("Provider", "Provider_Name"),
                        ("Source", "Provider_Name"), ("EventLog", "Channel"),
                        ("EventRecordId", "EventRecordID")))
    if isinstance(event_data, str):
        text = event_data.strip()
        if text.startswith("<"):
            _xml_event_data(out, text)
        elif text.startswith(("{", "[")):
            event_data = orjson.loads(text)
        elif text:
            add_unnamed_data(out, [text])
    if isinstance(event_data, dict):
        if isinstance(event_data.get("UserData"), dict) and len(event_data) == 1:
            add_user_data(out, {str(k): scalar(v) for k, v in event_data["UserData"].items()})
        else:
            _move_fields(out, event_data, ("EventData",))
    elif isinstance(event_data, list):
        add_unnamed_data(out, event_data)
    if isinstance(dynamic, str) and dynamic.strip():
        dynamic = orjson.loads(dynamic)
    if isinstance(dynamic, list):
        add_unnamed_data(out, dynamic)
    elif isinstance(dynamic, dict):
        _move_fields(out, dynamic, ("EventData_dynamic",))
    return out


def _xml_event_data(out: dict[str, Any], text: str) -> None:
    """``<EventData><Data Name="…">…</Data></EventData>`` (or ``<UserData>``) as fields."""
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise ValueError("EventData XML with a DOCTYPE or ENTITY declaration")
    root = ElementTree.fromstring(text)  # noqa: S314  (no DTD: checked above)
    tag = root.tag.rsplit("}", 1)[-1]
    if tag == "UserData":
        nested: dict[str, Any] = {}
        for element in root:
            fields = {child.tag.rsplit("}", 1)[-1]: child.text or "" for child in element}
            nested[element.tag.rsplit("}", 1)[-1]] = fields
        add_user_data(out, nested)
        return
    unnamed: list[Any] = []
    for element in root:
        local = element.tag.rsplit("}", 1)[-1]
        name = element.get("Name")
        value = element.text or ""
        if local == "Data" and name:
            if name not in out:
                out[name] = value
        elif local == "Data":
            unnamed.append(value)
        elif local not in out:
            out[local] = value
    if unnamed:
        add_unnamed_data(out, unnamed)


def _powershell(value: dict[str, Any]) -> dict[str, Any]:
    """``Get-WinEvent | ConvertTo-Json``: EventLogRecord properties."""
    out = dict(value)
    out["EventID"] = event_id_of(value.get("Id"))
    _alias(out, value, (("LogName", "Channel"), ("ProviderName", "Provider_Name"),
                        ("ProviderId", "Provider_Guid"), ("MachineName", "Computer"),
                        ("RecordId", "EventRecordID"), ("ProcessId", "Execution_ProcessID"),
                        ("ThreadId", "Execution_ThreadID")))
    user = value.get("UserId")
    if isinstance(user, dict):  # a serialised SecurityIdentifier object
        user = user.get("Value")
    if user is not None and "Security_UserID" not in out:
        out["Security_UserID"] = user
    properties = out.pop("Properties", None)
    if isinstance(properties, list):
        items = [item.get("Value") if isinstance(item, dict) else item for item in properties]
        add_unnamed_data(out, items)
    when = value.get("TimeCreated")
    if isinstance(when, str) and (match := _DOTNET_DATE.search(when)):
        moment = from_epoch(int(match.group(1)) / 1000)
        if moment is not None:
            out["TimeCreated"] = moment.isoformat() + "Z"
    return out


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dig(value: dict[str, Any], *path: str) -> Any:
    current: Any = value
    for step in path:
        if not isinstance(current, dict):
            return None
        current = current.get(step)
    return current


# --------------------------------------------------------------------------- time

#: Time fields in order of trust: the event time in UTC first, collection times last.
#: (NXLog's ``EventTime`` is local time without a zone and is deliberately not used.)
_TIME_FIELDS = ("TimeCreated", "@timestamp", "TimeGenerated", "UtcTime", "timestamp")


def _time(data: dict[str, Any]) -> datetime | None:
    for name in _TIME_FIELDS:
        when = data.get(name)
        if isinstance(when, str) and when:
            moment = parse_iso(when)
            if moment is not None:
                return moment
    created = data.get("winlog")
    if isinstance(created, dict):
        return parse_iso(text_of(created.get("time_created")))
    return None
