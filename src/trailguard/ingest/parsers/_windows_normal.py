"""The normalised view of Windows events (EVTX and Windows JSON), a batch at a time.

It reads an event's top-level fields as the case stores them (:mod:`trailguard.ingest.columns`)
— the Sigma-named flat form both Windows parsers produce — so that every source shape shares
it. Per column, in words (``first`` = the first of the fields with a value; '' and '-' are no
value):

* ``operation`` the event id as a number's text; ``host`` ``Computer``; ``log_name`` the
  channel, else the provider; ``message`` the first line of ``Message``, stripped, at most 500
  characters.
* ``category`` by channel (case-insensitive: OTRF files say ``security``) and event id: Sysmon
  (its channel or provider), Security, and a table of other common channels.
* Process: Security 4688 names the new process (``NewProcessName``/``NewProcessId``, parent
  ``ParentProcessName``/``ProcessId``); Sysmon 8 and 10 the source process; otherwise ``first
  (Image, ProcessName)``, ``ProcessId``, ``CommandLine``, ``ProcessGuid``, ``User`` and, when the
  event has a ``ParentImage``, the ``Parent*`` fields. Process id 0 (``0x0``) is no process.
* Actor: for Security logon events the *target* account (the subject is the service that
  asked); otherwise ``first(SubjectUserName, User, TargetUserName)``, the subject SID (unless
  the null SID) or the system's ``Security_UserID``, and ``first(LogonId, SubjectLogonId,
  TargetLogonId)``.
* Network fields (rare: logons, Sysmon 3 and 22, WFP) are read event by event, in Python.
* ``file_path`` ``TargetFilename`` (Security object access: ``ObjectName`` of a file);
  ``resource`` ``first(TargetObject, ServiceName, TaskName, ShareName, TargetImage)``, else for
  Security account events the target account and for registry events the object name.
* ``outcome``/``error_code``: Security 4625 fails (``SubStatus`` unless ``0x0``, else
  ``Status``), 4624 succeeds, Kerberos/NTLM 4768/4769/4771/4776 by ``Status``; otherwise the
  audit bits of ``Keywords`` (a 64-bit mask as number or hex, or a list of keyword names).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from trailguard.ingest.base import int_of, text_of
from trailguard.ingest.columns import (
    PYTHON_WHITESPACE,
    BatchFields,
    Normaliser,
    choose,
    integer,
    per_value,
    present,
    scatter,
)

#: Audit keyword bits of the ``Keywords`` mask (Security log).
_AUDIT_FAILURE = 0x10000000000000
_AUDIT_SUCCESS = 0x20000000000000

_SYSMON_CHANNEL = "microsoft-windows-sysmon/operational"
_SYSMON_PROVIDER = "Microsoft-Windows-Sysmon"

_SYSMON_CATEGORY: dict[int, str] = {
    1: "process", 5: "process", 8: "process", 10: "process", 25: "process",
    3: "network", 22: "network",
    2: "file", 11: "file", 15: "file", 23: "file", 26: "file", 27: "file", 28: "file",
    29: "file",
    12: "registry", 13: "registry", 14: "registry",
    6: "driver", 7: "module", 17: "pipe", 18: "pipe",
    19: "wmi", 20: "wmi", 21: "wmi", 4: "config", 16: "config",
}

#: Security events whose *target* account is the one logging on.
_LOGON_EVENTS = frozenset({4624, 4625, 4634, 4647, 4768, 4769, 4770, 4771, 4776, 4778, 4779})
_AUTHENTICATION = _LOGON_EVENTS | {4648, 4672, 4964}

_SECURITY_CATEGORY: dict[int, str] = {
    **dict.fromkeys(_AUTHENTICATION, "authentication"),
    4688: "process", 4689: "process", 4696: "process",
    **dict.fromkeys((5154, 5155, 5156, 5157, 5158, 5159), "network"),
    **dict.fromkeys((5140, 5142, 5143, 5144, 5145, 5168), "file"),
    **dict.fromkeys((4656, 4658, 4660, 4663, 4670), "file"),
    4657: "registry",
    **dict.fromkeys(range(4720, 4768), "account"),
    4781: "account", 4794: "account", 5136: "directory", 5137: "directory", 5141: "directory",
    4697: "service",
    **dict.fromkeys((4698, 4699, 4700, 4701, 4702), "scheduled_task"),
    1100: "audit", 1102: "audit", 4719: "audit", 4906: "audit", 4907: "audit", 4912: "audit",
}

#: (channel in lower case, event id) → category for the other common channels.
_CHANNEL_CATEGORY: dict[tuple[str, int], str] = {
    **{("system", eid): "service" for eid in (7034, 7035, 7036, 7040, 7045)},
    ("system", 104): "audit",
    **{("microsoft-windows-powershell/operational", eid): "script"
       for eid in (4100, 4103, 4104, 4105, 4106)},
    **{("windows powershell", eid): "script" for eid in (400, 403, 600, 800)},
    **{("microsoft-windows-taskscheduler/operational", eid): "scheduled_task"
       for eid in (106, 140, 141, 200, 201)},
    **{("microsoft-windows-windows defender/operational", eid): "malware"
       for eid in (1006, 1015, 1116, 1117)},
    **{("microsoft-windows-windows defender/operational", eid): "config"
       for eid in (5001, 5007, 5010, 5012)},
    **{("microsoft-windows-terminalservices-remoteconnectionmanager/operational", eid):
       "authentication" for eid in (1149,)},
    **{("microsoft-windows-terminalservices-localsessionmanager/operational", eid):
       "authentication" for eid in (21, 22, 23, 24, 25)},
    **{("microsoft-windows-bits-client/operational", eid): "network" for eid in (3, 59, 60)},
    **{("microsoft-windows-wmi-activity/operational", eid): "wmi" for eid in (5857, 5860, 5861)},
}

_NULL_SID = "S-1-0-0"
_PROTOCOLS = {"6": "tcp", "17": "udp", "1": "icmp", "58": "ipv6-icmp"}
_WFP_DIRECTION = {"%%14592": "in", "%%14593": "out"}
_KERBEROS_EVENTS = (4768, 4769, 4771, 4776)
_SUCCESS_STATUS = ("0x0", "0", "0x00000000")

_TEXT = pa.string()
_NUMBER = pa.int64()


def normalise_batch(fields: BatchFields) -> dict[str, pa.Array]:
    """The normalised columns of a batch of Windows events (columns no event fills are left
    out)."""
    event_text = fields.text("EventID")
    event_id = integer(event_text)
    channel = per_value(fields.text("Channel"), str.lower, _TEXT)
    sysmon = pc.or_(_equal(channel, _SYSMON_CHANNEL),
                    fields.flag("Provider_Name", _SYSMON_PROVIDER))
    security = _equal(channel, "security")

    def security_event(*ids: int) -> pa.Array:
        return pc.and_(security, _one_of(event_id, ids))

    category = _category(fields, event_text, channel, sysmon, security)
    normal: dict[str, pa.Array] = {
        "operation": per_value(event_text, _operation, _TEXT),
        "host": fields.value("Computer"),
        "log_name": fields.first("Channel", "Provider_Name"),
        "message": _first_line(pc.coalesce(fields.text("Message"), fields.text("message"))),
        "category": category,
    }

    created = security_event(4688)
    accessing = pc.and_(sysmon, _one_of(event_id, (8, 10)))
    parent = pc.is_valid(fields.text("ParentImage"))
    normal["process_name"] = choose(
        [(created, fields.value("NewProcessName")), (accessing, fields.value("SourceImage"))],
        fields.first("Image", "ProcessName"))
    normal["process_pid"] = choose(
        [(created, _pid(fields, "NewProcessId")), (accessing, _pid(fields, "SourceProcessId"))],
        _pid(fields, "ProcessId"), _NUMBER)
    normal["process_cmdline"] = choose([(accessing, None)], fields.value("CommandLine"))
    normal["process_guid"] = choose(
        [(created, None), (accessing, fields.first("SourceProcessGUID", "SourceProcessGuid"))],
        fields.value("ProcessGuid"))
    normal["process_user"] = choose(
        [(created, fields.first("TargetUserName", "SubjectUserName")),
         (accessing, fields.value("SourceUser"))],
        fields.value("User"))
    for column, field, new_process in (("parent_name", "ParentImage", "ParentProcessName"),
                                       ("parent_cmdline", "ParentCommandLine", None),
                                       ("parent_guid", "ParentProcessGuid", None)):
        normal[column] = choose(
            [(created, fields.value(new_process) if new_process else None), (accessing, None),
             (parent, fields.value(field))], None)
    normal["parent_pid"] = choose(
        [(created, _pid(fields, "ProcessId")), (accessing, None),
         (parent, _pid(fields, "ParentProcessId"))], None, _NUMBER)

    logon = security_event(*_LOGON_EVENTS)
    normal["actor_user"] = choose([(logon, fields.value("TargetUserName"))],
                                  fields.first("SubjectUserName", "User", "TargetUserName"))
    normal["actor_principal"] = choose(
        [(logon, _not_null_sid(fields.value("TargetUserSid")))],
        pc.coalesce(_not_null_sid(fields.value("SubjectUserSid")),
                    fields.value("Security_UserID"), fields.value("UserID")))
    normal["actor_session"] = choose(
        [(logon, fields.value("TargetLogonId"))],
        fields.first("LogonId", "SubjectLogonId", "TargetLogonId"))

    normal.update(_network(fields))
    _objects(normal, fields, security, category)
    _outcome(normal, fields, security_event)
    return {name: column for name, column in normal.items() if column.null_count < len(column)}


def normalise_event(data: Mapping[str, str]) -> dict[str, Any]:
    """The normalised view of one event, from its top-level fields' stored text: the
    specification :func:`normalise_batch` is tested against, and faster than it for a handful
    of events."""
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
    sysmon = channel_key == _SYSMON_CHANNEL or get("Provider_Name") == _SYSMON_PROVIDER
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
            category = _SYSMON_CATEGORY.get(event_id)
        elif security:
            category = _SECURITY_CATEGORY.get(event_id)
            if category == "file" and get("ObjectType") == "Key":
                category = "registry"
        else:
            category = _CHANNEL_CATEGORY.get((channel_key, event_id))
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
        return None if value == _NULL_SID else value

    if security and event_id in _LOGON_EVENTS:
        normal.update(actor_user=text_of(get("TargetUserName")),
                      actor_principal=sid("TargetUserSid"),
                      actor_session=text_of(get("TargetLogonId")))
    else:
        normal.update(actor_user=first("SubjectUserName", "User", "TargetUserName"),
                      actor_principal=sid("SubjectUserSid") or first("Security_UserID", "UserID"),
                      actor_session=first("LogonId", "SubjectLogonId", "TargetLogonId"))

    normal.update(_network_of(data))

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
        outcome = None if keywords is None else _keywords_outcome(keywords)
    normal["outcome"] = outcome
    normal["error_code"] = error
    return {key: value for key, value in normal.items() if value is not None}


def _category(fields: BatchFields, event_text: pa.Array, channel: pa.Array, sysmon: pa.Array,
              security: pa.Array) -> pa.Array:
    by_security = per_value(event_text, _lookup(_SECURITY_CATEGORY), _TEXT)
    object_key = pc.and_(_equal(by_security, "file"), fields.flag("ObjectType", "Key"))
    by_security = pc.if_else(object_key, pa.scalar("registry"), by_security)
    pairs = pc.binary_join_element_wise(pc.fill_null(channel, ""), event_text, "\x00")
    return choose([(sysmon, per_value(event_text, _lookup(_SYSMON_CATEGORY), _TEXT)),
                   (security, by_security)],
                  per_value(pairs, _channel_category, _TEXT))


def _objects(normal: dict[str, pa.Array], fields: BatchFields, security: pa.Array,
             category: pa.Array) -> None:
    target = fields.text("TargetFilename")
    object_file = pc.and_(pc.and_(pc.is_null(target), security),
                          pc.and_(_equal(category, "file"), fields.flag("ObjectType", "File")))
    normal["file_path"] = present(pc.if_else(object_file, fields.text("ObjectName"), target))
    resource = fields.first("TargetObject", "ServiceName", "TaskName", "ShareName",
                            "TargetImage")
    fallback = pc.and_(pc.is_null(resource), security)
    normal["resource"] = choose(
        [(pc.and_(fallback, _equal(category, "account")),
          fields.first("TargetUserName", "TargetSid")),
         (pc.and_(fallback, _equal(category, "registry")), fields.value("ObjectName"))],
        resource)


def _outcome(normal: dict[str, pa.Array], fields: BatchFields,
             security_event: Callable[..., pa.Array]) -> None:
    failed_logon = security_event(4625)
    sub_status = fields.value("SubStatus")
    logon_error = pc.if_else(pc.fill_null(pc.not_equal(sub_status, "0x0"), False), sub_status,
                             fields.value("Status"))
    status = fields.first("Status", "FailureCode")
    kerberos = pc.and_(security_event(*_KERBEROS_EVENTS), pc.is_valid(status))
    kerberos_failed = pc.and_(kerberos, pc.invert(pc.fill_null(
        pc.is_in(status, value_set=pa.array(_SUCCESS_STATUS)), False)))
    keywords = pc.coalesce(fields.text("Keywords"), fields.text("keywords"))
    normal["outcome"] = choose(
        [(failed_logon, pa.scalar("failure")), (security_event(4624), pa.scalar("success")),
         (kerberos_failed, pa.scalar("failure")), (kerberos, pa.scalar("success"))],
        per_value(keywords, _keywords_outcome, _TEXT))
    normal["error_code"] = choose([(failed_logon, logon_error), (kerberos_failed, status)], None)


# --------------------------------------------------------------------------- network, by event

#: Every field :func:`_network_of` reads (most events have none of them).
_NETWORK_FIELDS = (
    "IpAddress", "IpPort", "SourceIp", "SourceAddress", "SourcePort", "DestinationIp",
    "DestinationPort", "DestAddress", "DestPort", "Protocol", "Initiated", "Direction",
    "QueryName",
)
_NETWORK_COLUMNS = {"src_ip": _TEXT, "src_port": pa.int32(), "dst_ip": _TEXT,
                    "dst_port": pa.int32(), "protocol": _TEXT, "direction": _TEXT, "url": _TEXT}


def _network(fields: BatchFields) -> dict[str, pa.Array]:
    names = [name for name in _NETWORK_FIELDS if fields.has(name)]
    if not names:
        return {}
    any_field = pc.is_valid(fields.text(names[0]))
    for name in names[1:]:
        any_field = pc.or_(any_field, pc.is_valid(fields.text(name)))
    rows = pc.indices_nonzero(any_field)
    if not len(rows):
        return {}
    values = [fields.text(name).take(rows).to_pylist() for name in names]
    results = [_network_of(dict(zip(names, row, strict=True)))
               for row in zip(*values, strict=True)]
    positions = rows.to_pylist()
    return {column: scatter(fields.count, positions, [result.get(column) for result in results],
                            arrow_type)
            for column, arrow_type in _NETWORK_COLUMNS.items()}


#: Where an event names its source and its destination: (address, port) field pairs, the first
#: pair whose address is present wins (Security 4624 ``IpAddress``, Sysmon 3 ``SourceIp``, WFP
#: 5156 ``SourceAddress`` …).
_SOURCE_FIELDS = (("IpAddress", "IpPort"), ("SourceIp", "SourcePort"),
                  ("SourceAddress", "SourcePort"))
_DESTINATION_FIELDS = (("DestinationIp", "DestinationPort"), ("DestAddress", "DestPort"))


def _endpoint(data: Mapping[str, str | None], pairs: tuple[tuple[str, str], ...]) \
        -> tuple[str | None, str | None]:
    """The address and port of the first pair whose address is present; without one, no
    address and the last pair's port."""
    for address, port in pairs:
        if data.get(address) is not None:
            return data.get(address), data.get(port)
    return None, data.get(pairs[-1][1])


def _network_of(data: Mapping[str, str | None]) -> dict[str, Any]:
    normal: dict[str, Any] = {}
    get = data.get
    source, source_port = _endpoint(data, _SOURCE_FIELDS)
    if source is not None:
        normal["src_ip"] = _ip(source)
    if source_port is not None:
        normal["src_port"] = _port(source_port)
    destination, destination_port = _endpoint(data, _DESTINATION_FIELDS)
    if destination is not None:
        normal["dst_ip"] = _ip(destination)
    if destination_port is not None:
        normal["dst_port"] = _port(destination_port)
    protocol = get("Protocol")
    if protocol is not None and (source is not None or destination is not None):
        text = protocol.lower()
        normal["protocol"] = _PROTOCOLS.get(text, text)
    initiated = get("Initiated")
    if initiated is not None:
        normal["direction"] = "out" if initiated.lower() == "true" else "in"
    elif (direction := get("Direction")) is not None:
        normal["direction"] = _WFP_DIRECTION.get(direction)
    query = get("QueryName")
    if query is not None:
        normal["url"] = text_of(query)
    return normal


def _ip(value: str) -> str | None:
    if not value or value == "-":
        return None
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


# --------------------------------------------------------------------------- one value at a time


def _operation(text: str) -> str | None:
    event_id = int_of(text)
    return None if event_id is None else str(event_id)


def _lookup(table: dict[int, str]) -> Callable[[str], str | None]:
    def category(text: str) -> str | None:
        event_id = int_of(text)
        return None if event_id is None else table.get(event_id)
    return category


def _channel_category(pair: str) -> str | None:
    channel, _, event_text = pair.rpartition("\x00")
    event_id = int_of(event_text)
    return None if event_id is None else _CHANNEL_CATEGORY.get((channel, event_id))


def _pid_of(text: str) -> int | None:
    """A process id; 0 (and "0x0") means "none" in Windows events."""
    return int_of(text) or None


def _keywords_outcome(text: str) -> str | None:
    """success/failure from the audit bits of a keywords mask, or from keyword names."""
    if text.startswith("["):
        try:
            names = orjson.loads(text)
        except orjson.JSONDecodeError:
            names = None
        if isinstance(names, list):
            joined = " ".join(str(name) for name in names).lower()
            if "audit failure" in joined:
                return "failure"
            return "success" if "audit success" in joined else None
    lowered = text.strip().lower()
    try:
        mask = int(lowered, 16) if lowered.startswith("0x") else int(lowered)
    except ValueError:
        return None
    mask &= 0xFFFFFFFFFFFFFFFF  # NXLog writes the mask as a signed integer
    if mask & _AUDIT_FAILURE:
        return "failure"
    if mask & _AUDIT_SUCCESS:
        return "success"
    return None


# --------------------------------------------------------------------------- vector helpers


def _equal(text: pa.Array, expected: str) -> pa.Array:
    return pc.fill_null(pc.equal(text, expected), False)


def _one_of(numbers: pa.Array, wanted: Any) -> pa.Array:
    return pc.fill_null(pc.is_in(numbers, value_set=pa.array(sorted(wanted), _NUMBER)), False)


def _pid(fields: BatchFields, name: str) -> pa.Array:
    return per_value(fields.text(name), _pid_of, _NUMBER)


def _not_null_sid(text: pa.Array) -> pa.Array:
    return pc.if_else(_equal(text, _NULL_SID), pa.scalar(None, _TEXT), text)


def _first_line(text: pa.Array) -> pa.Array:
    """The first line of each non-empty text, stripped as Python strips, ≤ 500 characters."""
    if text.null_count == len(text):
        return text
    line = pc.list_element(pc.split_pattern(text, "\n", max_splits=1), 0)
    line = pc.utf8_slice_codeunits(pc.utf8_trim(line, PYTHON_WHITESPACE), 0, 500)
    return pc.if_else(_equal(text, ""), pa.scalar(None, _TEXT), line)


NORMALISER = Normaliser(normalise_batch, normalise_event)
