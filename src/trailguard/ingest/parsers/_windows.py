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

The normalised view (:mod:`trailguard.ingest.parsers._windows_normal`) is computed from that
flat mapping, as stored, so every shape shares it.

References: the evtx-rs JSON rendering (``#attributes``/``#text``), Microsoft's event schema
(https://learn.microsoft.com/windows/win32/wes/eventschema-schema), the Sysmon event list and
the Security audit event documentation.
"""

from __future__ import annotations

from typing import Any

import orjson

# --------------------------------------------------------------------------- flattening


#: Nesting deeper than this (never seen in real events) is kept as JSON text, so hostile input
#: cannot exhaust the interpreter's recursion limit.
MAX_DEPTH = 32


def scalar(value: Any, depth: int = 0) -> Any:
    """An event value as stored: booleans as Windows renders them, text nodes unwrapped."""
    kind = type(value)
    if kind is str or kind is int or kind is float or value is None:  # nearly every value
        return value
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
    """An element's attributes, both notations (read only: it may be the node's own dict)."""
    attributes = node.get("#attributes")
    found: dict[str, Any] = attributes if isinstance(attributes, dict) else {}
    copied = found is not attributes  # a dict of our own, free to extend
    for key, value in node.items():
        if key[:1] == "@":
            if not copied:
                found, copied = dict(found), True
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
        if value is None or name[:1] in ("#", "@"):
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
            elif key not in out:  # the usual case: a named item whose name is free
                out[key] = scalar(value)
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
