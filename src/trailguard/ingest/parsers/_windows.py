"""Windows event logic shared by the ``evtx`` and ``windows_json`` parsers.

Field naming (the decision both parsers follow)
-----------------------------------------------
Sigma's Windows rules, and the tools that run them on raw logs (Chainsaw, Hayabusa, Zircolite),
address an event by *leaf* names: ``EventID``, ``Channel``, ``Provider_Name``, ``Image``,
``CommandLine``, ``TargetUserName``, ``ServiceName``, ``Param1``, ``Data`` … Both parsers
therefore store one flat mapping per event whose top-level names are those leaf names, so that a
compiled rule can query the native columns directly, whatever the source format was:

* ``Event.System`` children become top-level fields. A child with a value keeps its name
  (``Channel``, ``Computer``, ``Level``, ``Task``, ``Opcode``, ``Keywords``, ``Version``,
  ``EventRecordID``). A child with XML attributes gives ``<Element>_<Attribute>``:
  ``Provider_Name``, ``Provider_Guid``, ``Provider_EventSourceName``, ``Execution_ProcessID``,
  ``Execution_ThreadID``, ``Security_UserID``, ``Correlation_ActivityID``. Two exceptions:
  ``EventID`` is always the number (its ``Qualifiers`` attribute goes to
  ``EventID_Qualifiers``) and ``TimeCreated`` is the ``SystemTime`` text. Empty elements
  (``<Correlation/>``) and a missing ``Channel`` (ETW captures) are simply absent.
* Every named ``EventData`` item (``<Data Name="CommandLine">``) becomes a top-level field by
  its name. ``Binary`` is kept as ``Binary``. Booleans become ``"true"``/``"false"``, the
  text Windows renders (Sysmon ``Initiated``), so the value matches rules written against XML.
* Unnamed ``EventData`` items (classic application events: MSSQL, ESENT, MsiInstaller …) are
  joined with a line feed into one text field ``Data``: Sigma's ``Data|contains`` rules search
  that text, and a single string keeps Windows paths free of JSON escaping. When there are two or
  more items, the list is also kept as ``EventData.Data`` so no boundary is lost.
* ``UserData`` (a provider-defined element such as ``LogFileCleared`` or ``EventXML``) is kept
  nested as ``UserData.<Element>.<Field>`` (the store flattens it to dotted columns) **and** each
  direct scalar child is also copied to the top level under its leaf name (``Param1``,
  ``SubjectUserName``) unless that name is already taken. UserData is rare (under 2 % of the
  EVTX-ATTACK-SAMPLES records), so the copy costs little, and it is what lets rules such as the
  RDP ``Param1``/``Param3`` ones match, as they do in Zircolite, which keys fields by leaf name.
* A top-level name is never overwritten: a later field with a name already taken (an EventData
  item called ``Channel``) stays only under its nested path (``EventData.Channel``).
* Other parts (``RenderingInfo`` of forwarded events, ``ProcessingErrorData``, ``DebugData``)
  stay nested under their element name, with XML attributes folded in and ``xmlns`` dropped.

The normalised view (:func:`normalise`) is computed from that flat mapping, so every shape
shares it. Channel names are compared case-insensitively (OTRF files say ``security``).

References: the evtx-rs JSON rendering (``#attributes``/``#text``), Microsoft's event schema
(https://learn.microsoft.com/windows/win32/wes/eventschema-schema), the Sysmon event list and
the Security audit event documentation.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import orjson

from trailguard.ingest.base import int_of, text_of

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


# --------------------------------------------------------------------------- flattening


#: Nesting deeper than this (never seen in real events) is kept as JSON text, so hostile input
#: cannot exhaust the interpreter's recursion limit.
MAX_DEPTH = 32


def scalar(value: Any, depth: int = 0) -> Any:
    """An event value as stored: booleans as Windows renders them, text nodes unwrapped."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, dict | list) and depth >= MAX_DEPTH:
        return _as_text(value)
    if isinstance(value, dict):
        return tree(value, depth + 1)
    if isinstance(value, list):
        return [scalar(item, depth + 1) for item in value]
    return value


def _as_text(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return "<nested too deep>"


def tree(node: dict[str, Any], depth: int = 0) -> Any:
    """An XML-derived mapping with attributes folded in and ``xmlns`` dropped.

    Handles the evtx-rs notation (``{"#attributes": {…}, "#text": …}``) and the xmltodict one
    (``{"@Name": …, "#text": …}``). An element that only has text becomes that text.
    """
    if depth >= MAX_DEPTH:
        return _as_text(node)
    out: dict[str, Any] = {}
    text: Any = None
    for key, value in node.items():
        if key == "#attributes":
            if isinstance(value, dict):
                for name, item in value.items():
                    if not name.startswith("xmlns"):
                        out[name] = scalar(item, depth + 1)
        elif key == "#text":
            text = scalar(value, depth + 1)
        elif key.startswith("@"):
            if not key.startswith("@xmlns"):
                out[key[1:]] = scalar(value, depth + 1)
        else:
            out[key] = scalar(value, depth + 1)
    if text is not None:
        if not out:
            return text
        out["#text"] = text
    return out


def _attributes(node: dict[str, Any]) -> dict[str, Any]:
    attributes = node.get("#attributes")
    found: dict[str, Any] = dict(attributes) if isinstance(attributes, dict) else {}
    for key, value in node.items():
        if key.startswith("@"):
            found[key[1:]] = value
    return found


def _put(out: dict[str, Any], name: str, value: Any, *nest: str) -> None:
    """Set a top-level field; when the name is taken, keep the value under ``nest`` only."""
    if name not in out:
        out[name] = value
        return
    if not nest:
        return
    target = out
    for step in nest:
        existing = target.get(step)
        if not isinstance(existing, dict):
            existing = {}
            target[step] = existing
        target = existing
    target.setdefault(name, value)


def event_id_of(value: Any) -> Any:
    """The EventID as an int when it is a number (it is text in some exports)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit() and len(value) < 12:
        return int(value)
    return value


def flatten_event(event: dict[str, Any]) -> dict[str, Any]:
    """Flatten the content of an ``Event`` element (evtx-rs or xmltodict JSON) as described in
    the module docstring."""
    out: dict[str, Any] = {}
    system = event.get("System")
    if isinstance(system, dict):
        _flatten_system(system, out)
    for part, value in event.items():
        if part == "System" or part.startswith(("#", "@")):
            continue
        if part == "EventData":
            _flatten_event_data(value, out)
        elif part == "UserData":
            _flatten_user_data(value, out)
        elif value is not None:
            _put(out, part, scalar(value), "Event")
    return out


def _flatten_system(system: dict[str, Any], out: dict[str, Any]) -> None:
    for name, value in system.items():
        if name.startswith(("#", "@")) or value is None:
            continue
        if not isinstance(value, dict):
            out[name] = event_id_of(value) if name == "EventID" else scalar(value)
            continue
        attributes = _attributes(value)
        text = value.get("#text")
        if name == "EventID":
            if text is not None:
                out["EventID"] = event_id_of(text)
            for attribute, item in attributes.items():
                out[f"EventID_{attribute}"] = scalar(item)
        elif name == "TimeCreated":
            when = attributes.get("SystemTime", text)
            if when is not None:
                out["TimeCreated"] = scalar(when)
        else:
            if text is not None:
                out[name] = scalar(text)
            for attribute, item in attributes.items():
                if not attribute.startswith("xmlns") and item is not None:
                    out[f"{name}_{attribute}"] = scalar(item)


def _flatten_event_data(node: Any, out: dict[str, Any]) -> None:
    unnamed: list[Any] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Data":
                _collect_data(value, out, unnamed)
            elif key == "#text":
                _collect_unnamed(value, unnamed)
            elif key == "#attributes" or key.startswith("@"):
                # Attributes of the EventData element itself (a template Name): nested only.
                attributes = value if key == "#attributes" else {key[1:]: value}
                if isinstance(attributes, dict):
                    for name, item in attributes.items():
                        if not name.startswith("xmlns"):
                            _nested(out, "EventData")[name] = scalar(item)
            else:
                _put(out, key, scalar(value), "EventData")
    elif node is not None:
        _collect_data(node, out, unnamed)
    if unnamed:
        add_unnamed_data(out, unnamed)


def _nested(out: dict[str, Any], name: str) -> dict[str, Any]:
    holder = out.get(name)
    if not isinstance(holder, dict):
        holder = {}
        out[name] = holder
    return holder


def add_unnamed_data(out: dict[str, Any], items: list[Any]) -> None:
    """Store unnamed EventData items: ``Data`` (joined text) and ``EventData.Data`` (list)."""
    texts = [_item_text(item) for item in items]
    _put(out, "Data", "\n".join(texts), "EventData")
    if len(texts) > 1:
        _nested(out, "EventData").setdefault("Data", texts)


def _item_text(item: Any) -> str:
    if isinstance(item, str):
        return item
    if item is None:
        return ""
    if isinstance(item, dict | list):
        return _as_text(item)
    return str(scalar(item))


def _collect_data(value: Any, out: dict[str, Any], unnamed: list[Any], inner: bool = False) \
        -> None:
    """``EventData.Data`` in its many renderings: text, list, ``{#text: …}``, named dicts."""
    if isinstance(value, list):
        if inner:  # a list inside the list of items is no rendering of Data: keep it whole
            unnamed.append(scalar(value))
            return
        for item in value:
            _collect_data(item, out, unnamed, inner=True)
        return
    if isinstance(value, dict):
        attributes = _attributes(value)
        name = attributes.get("Name")
        text = value.get("#text")
        if isinstance(name, str) and name:
            _put(out, name, scalar(text), "EventData")
        else:
            _collect_unnamed(text, unnamed)
        return
    _collect_unnamed(value, unnamed)


def _collect_unnamed(value: Any, unnamed: list[Any]) -> None:
    if isinstance(value, list):
        unnamed.extend(scalar(item) for item in value)
    elif value is not None:
        unnamed.append(scalar(value))


def _flatten_user_data(node: Any, out: dict[str, Any]) -> None:
    if not isinstance(node, dict):
        if node is not None:
            _put(out, "UserData", scalar(node))
        return
    nested = tree(node)
    if not isinstance(nested, dict):
        _put(out, "UserData", nested)
        return
    add_user_data(out, nested)


def add_user_data(out: dict[str, Any], nested: dict[str, Any]) -> None:
    """Keep UserData nested and copy each element's scalar children to the top level."""
    holder = out.get("UserData")
    if isinstance(holder, dict):
        for key, value in nested.items():
            holder.setdefault(key, value)
    elif "UserData" not in out:
        out["UserData"] = nested
    for element in nested.values():
        if isinstance(element, dict):
            for name, value in element.items():
                if not isinstance(value, dict | list) and name not in out:
                    out[name] = value


# --------------------------------------------------------------------------- normalisation


def normalise(data: dict[str, Any]) -> dict[str, Any]:
    """The normalised view (``schema.NORMAL_COLUMNS``) of a flat, Sigma-named Windows event."""
    get = data.get
    event_id = get("EventID")
    if not isinstance(event_id, int) or isinstance(event_id, bool):
        event_id = int_of(event_id)
    channel = get("Channel")
    channel_key = channel.lower() if isinstance(channel, str) else ""
    provider = get("Provider_Name")
    sysmon = channel_key == _SYSMON_CHANNEL or provider == _SYSMON_PROVIDER
    security = channel_key == "security"

    normal: dict[str, Any] = {
        "operation": None if event_id is None else str(event_id),
        "host": text_of(get("Computer")),
        "log_name": text_of(channel) or text_of(provider),
    }
    message = get("Message")
    if message is None:
        message = get("message")
    if isinstance(message, str) and message:
        # The first line says what happened ("Process Create:", "An account was successfully
        # logged on."); the full text stays in the native Message field and the raw record.
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
    if category:
        normal["category"] = category

    _process(normal, data, event_id, sysmon, security)
    _identity(normal, data, event_id, security)
    _network(normal, data)
    _objects(normal, data, security, category)
    _outcome(normal, data, event_id, security)
    return {key: value for key, value in normal.items() if value is not None}


def _process(normal: dict[str, Any], data: dict[str, Any], event_id: int | None,
             sysmon: bool, security: bool) -> None:
    get = data.get
    if security and event_id == 4688:
        normal["process_name"] = text_of(get("NewProcessName"))
        normal["process_pid"] = _pid(get("NewProcessId"))
        normal["process_cmdline"] = text_of(get("CommandLine"))
        normal["process_user"] = text_of(get("TargetUserName")) or text_of(
            get("SubjectUserName"))
        normal["parent_name"] = text_of(get("ParentProcessName"))
        normal["parent_pid"] = _pid(get("ProcessId"))
        return
    if sysmon and event_id in (8, 10):
        normal["process_name"] = text_of(get("SourceImage"))
        normal["process_pid"] = _pid(get("SourceProcessId"))
        normal["process_guid"] = text_of(get("SourceProcessGUID")) or text_of(
            get("SourceProcessGuid"))
        normal["process_user"] = text_of(get("SourceUser"))
        return
    image = get("Image")
    if image is None:
        image = get("ProcessName")
    normal["process_name"] = text_of(image)
    normal["process_pid"] = _pid(get("ProcessId"))
    normal["process_cmdline"] = text_of(get("CommandLine"))
    normal["process_guid"] = text_of(get("ProcessGuid"))
    normal["process_user"] = text_of(get("User"))
    if "ParentImage" in data:
        normal["parent_name"] = text_of(get("ParentImage"))
        normal["parent_pid"] = _pid(get("ParentProcessId"))
        normal["parent_cmdline"] = text_of(get("ParentCommandLine"))
        normal["parent_guid"] = text_of(get("ParentProcessGuid"))


def _identity(normal: dict[str, Any], data: dict[str, Any], event_id: int | None,
              security: bool) -> None:
    get = data.get
    if security and event_id in _LOGON_EVENTS:
        # The account logging on is the target; the subject is the service that asked.
        normal["actor_user"] = text_of(get("TargetUserName"))
        principal = text_of(get("TargetUserSid"))
        normal["actor_principal"] = None if principal == _NULL_SID else principal
        normal["actor_session"] = text_of(get("TargetLogonId"))
        return
    normal["actor_user"] = (
        text_of(get("SubjectUserName")) or text_of(get("User")) or text_of(get("TargetUserName"))
    )
    principal = text_of(get("SubjectUserSid"))
    normal["actor_principal"] = (
        (None if principal == _NULL_SID else principal) or text_of(get("Security_UserID"))
        or text_of(get("UserID"))
    )
    normal["actor_session"] = (
        text_of(get("LogonId")) or text_of(get("SubjectLogonId")) or text_of(get("TargetLogonId"))
    )


def _pid(value: Any) -> int | None:
    """A process id; 0 (and "0x0") means "none" in Windows events."""
    pid = int_of(value)
    return pid if pid else None


def _ip(value: Any) -> str | None:
    if not isinstance(value, str) or not value or value == "-":
        return None
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return value


def _port(value: Any) -> int | None:
    port = int_of(value)
    return port if port and 0 < port < 65536 else None


#: Every field :func:`_network` reads (most events have none of them).
_NETWORK_FIELDS = frozenset({
    "IpAddress", "IpPort", "SourceIp", "SourceAddress", "SourcePort", "DestinationIp",
    "DestinationPort", "DestAddress", "DestPort", "Protocol", "Initiated", "Direction",
    "QueryName",
})


def _network(normal: dict[str, Any], data: dict[str, Any]) -> None:
    if data.keys().isdisjoint(_NETWORK_FIELDS):
        return
    get = data.get
    source = get("IpAddress")
    source_port = get("IpPort")
    if source is None:
        source = get("SourceIp")
        if source is None:
            source = get("SourceAddress")
        source_port = get("SourcePort")
    if source is not None:
        normal["src_ip"] = _ip(source)
    if source_port is not None:
        normal["src_port"] = _port(source_port)
    destination = get("DestinationIp")
    destination_port = get("DestinationPort")
    if destination is None:
        destination = get("DestAddress")
        destination_port = get("DestPort")
    if destination is not None:
        normal["dst_ip"] = _ip(destination)
    if destination_port is not None:
        normal["dst_port"] = _port(destination_port)
    protocol = get("Protocol")
    if protocol is not None and (source is not None or destination is not None):
        text = str(protocol).lower()
        normal["protocol"] = _PROTOCOLS.get(text, text)
    initiated = get("Initiated")
    if initiated is not None:
        normal["direction"] = "out" if str(initiated).lower() == "true" else "in"
    elif (direction := get("Direction")) is not None:
        normal["direction"] = _WFP_DIRECTION.get(str(direction))
    query = get("QueryName")
    if query is not None:
        normal["url"] = text_of(query)


def _objects(normal: dict[str, Any], data: dict[str, Any], security: bool,
             category: str | None) -> None:
    get = data.get
    path = get("TargetFilename")
    if path is None and security and category == "file" and get("ObjectType") == "File":
        path = get("ObjectName")
    normal["file_path"] = text_of(path)
    resource = (
        get("TargetObject") or get("ServiceName") or get("TaskName") or get("ShareName")
        or get("TargetImage")
    )
    if resource is None and security:
        if category == "account":
            resource = get("TargetUserName") or get("TargetSid")
        elif category == "registry":
            resource = get("ObjectName")
    normal["resource"] = text_of(resource)


def _keywords_outcome(keywords: Any) -> str | None:
    if isinstance(keywords, list):
        text = " ".join(str(item) for item in keywords).lower()
        if "audit failure" in text:
            return "failure"
        if "audit success" in text:
            return "success"
        return None
    if isinstance(keywords, int) and not isinstance(keywords, bool):
        mask = keywords & 0xFFFFFFFFFFFFFFFF  # NXLog writes the mask as a signed integer
    elif isinstance(keywords, str):
        text = keywords.strip().lower()
        try:
            mask = int(text, 16) if text.startswith("0x") else int(text) & 0xFFFFFFFFFFFFFFFF
        except ValueError:
            return None
    else:
        return None
    if mask & _AUDIT_FAILURE:
        return "failure"
    if mask & _AUDIT_SUCCESS:
        return "success"
    return None


def _outcome(normal: dict[str, Any], data: dict[str, Any], event_id: int | None,
             security: bool) -> None:
    get = data.get
    outcome = None
    error = None
    if security and event_id == 4625:
        outcome = "failure"
        sub_status = text_of(get("SubStatus"))
        error = sub_status if sub_status and sub_status != "0x0" else text_of(get("Status"))
    elif security and event_id == 4624:
        outcome = "success"
    elif security and event_id in (4768, 4769, 4771, 4776):
        status = text_of(get("Status")) or text_of(get("FailureCode"))
        if status is not None:
            failed = status not in ("0x0", "0", "0x00000000")
            outcome = "failure" if failed else "success"
            error = status if failed else None
    if outcome is None:
        keywords = get("Keywords")
        outcome = _keywords_outcome(keywords if keywords is not None else get("keywords"))
    normal["outcome"] = outcome
    normal["error_code"] = error
