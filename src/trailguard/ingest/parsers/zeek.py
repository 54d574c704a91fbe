"""Zeek (formerly Bro) network logs: the ASCII/TSV writer and the JSON writer, any log kind.

**TSV** (Zeek's default ``LogAscii`` writer; https://docs.zeek.org/en/master/logs/index.html and
``base/frameworks/logging/writers/ascii.zeek``). A header of ``#``-lines describes the data::

    #separator \\x09
    #set_separator  ,
    #empty_field    (empty)
    #unset_field    -
    #path   conn
    #open   2023-08-16-01-28-55
    #fields ts  uid  id.orig_h  id.orig_p  id.resp_h  id.resp_p  proto …
    #types  time  string  addr  port  addr  port  enum …
    1692161622.036086  Cnsu5m395zFmE9ikp4  192.168.1.41  52605  192.168.1.4  53  udp …
    #close  2023-08-16-01-28-55

``#separator`` is written with ``\\xNN`` escapes; the other header values use the separator.
``-`` marks an unset field and ``(empty)`` an empty string or container; ``set[…]`` and
``vector[…]`` values are joined with the set separator; non-printable bytes (and separators
inside values) are written as ``\\xNN``. Header lines are not records. A file may hold several
header blocks (concatenated logs), each applying to the lines after it. Values are typed from
``#types``: ``count``/``int``/``port`` → int, ``double``/``interval``/``time`` → float,
``bool`` ``T``/``F`` → bool, containers → lists; ``\\xNN`` escapes are decoded (runs of
them as UTF-8; bytes that are not UTF-8 stay escaped).

**JSON** (``LogAscii::use_json=T`` or the JSON streaming writers): one object per line with the
same dotted names (``ts``, ``uid``, ``id.orig_h`` …); ``ts`` is epoch seconds or ISO-8601.

Fields keep Zeek's names, which SigmaHQ's ``rules/network/zeek`` rules use as they are. Every
record gets ``_path``, the log kind (``conn``, ``dns``, ``http`` …): from ``#path`` for TSV, from
the object's own ``_path`` or the file name (``dns.log``, ``dns.00:00:00-01:00:00.log``) for
JSON, else guessed from the fields. (Zeek's ``smb_files`` log has its own ``path`` field, hence
the underscore.)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from typing import IO, Any, ClassVar

import orjson

from trailguard.ingest.base import (
    PARSERS,
    ParseContext,
    Record,
    Rejected,
    SourceParser,
    decode,
    dig,
    int_of,
    iter_lines,
    text_of,
    too_long,
)
from trailguard.ingest.jsonstream import sniff_json_values
from trailguard.ingest.parsers._cloud import ip_or_none
from trailguard.ingest.timeparse import from_epoch, parse_iso

#: Zeek's standard log kinds (``#path`` values); used to read the kind from a JSON file name.
LOG_KINDS = frozenset({
    "analyzer", "broker", "capture_loss", "cluster", "config", "conn", "conn_long", "dce_rpc",
    "dhcp", "dnp3", "dns", "dpd", "files", "ftp", "http", "intel", "irc", "kerberos",
    "known_certs", "known_hosts", "known_modbus", "known_services", "ldap", "ldap_search",
    "loaded_scripts", "modbus", "mqtt_connect", "mqtt_publish", "mqtt_subscribe", "mysql",
    "netcontrol", "notice", "notice_alarm", "ntlm", "ntp", "ocsp", "openflow", "packet_filter",
    "pe", "print", "quic", "radius", "rdp", "reporter", "rfb", "signatures", "sip", "smb_cmd",
    "smb_files", "smb_mapping", "smtp", "snmp", "socks", "software", "ssh", "ssl", "stats",
    "stderr", "stdout", "syslog", "telemetry", "traceroute", "tunnel", "websocket", "weird",
    "x509",
})
#: Fields that identify a log kind when neither ``#path``/``_path`` nor the file name does.
KIND_SIGNATURES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("conn", ("conn_state",)),
    ("dns", ("query", "qtype")),
    ("dns", ("query", "rcode")),
    ("http", ("method", "uri")),
    ("http", ("status_code", "trans_depth")),
    ("ssl", ("cipher",)),
    ("x509", ("certificate.serial",)),
    ("kerberos", ("request_type",)),
    ("files", ("fuid", "mime_type")),
    ("dce_rpc", ("endpoint", "operation")),
    ("smb_mapping", ("share_type",)),
    ("smb_files", ("action", "path")),
    ("ntlm", ("domainname",)),
    ("rdp", ("cookie",)),
    ("ssh", ("auth_success",)),
    ("smtp", ("mailfrom",)),
    ("notice", ("note",)),
    ("weird", ("name", "notice")),
)
#: Field that completes the normalised ``operation`` of a log kind (``http GET``, ``dns A``).
OPERATION_FIELDS = {
    "http": "method",
    "dns": "qtype_name",
    "kerberos": "request_type",
    "dce_rpc": "operation",
    "smb_files": "action",
    "ftp": "command",
    "weird": "name",
    "notice": "note",
}
#: Field holding the user name per log kind.
USER_FIELDS = {
    "kerberos": "client",
    "http": "username",
    "ntlm": "username",
    "ftp": "user",
    "rdp": "cookie",
    "mysql": "user",
}
#: conn_state values meaning the connection attempt failed: no answer (S0), rejected (REJ), or
#: reset by the originator before any answer (RSTOS0). Mid-stream states (SH, SHR, OTH) are
#: capture artefacts, not failures.
FAILED_CONN_STATES = frozenset({"S0", "REJ", "RSTOS0"})
HTTP_FAILURE = 400

_ESCAPE = re.compile(r"(?:\\x[0-9a-fA-F]{2})+")
_NAME_PARTS = re.compile(r"[_-]")
_TSV_HEADER = re.compile(rb"^#separator \\x[0-9a-fA-F]{2}\r?\n", re.MULTILINE)
_TSV_FIELDS = re.compile(rb"^#fields\t(?:ts|_path|_write_ts)\t", re.MULTILINE)
_INT_TYPES = frozenset({"count", "int", "port", "counter"})
_FLOAT_TYPES = frozenset({"double", "interval", "time"})


def unescape(text: str) -> str:
    """Decode Zeek's ``\\xNN`` escapes; runs of them are read as UTF-8 bytes (bytes that are
    not UTF-8 stay ``\\xNN`` escapes, as :func:`trailguard.ingest.base.decode` writes them)."""
    if "\\x" not in text:
        return text
    return _ESCAPE.sub(
        lambda match: bytes.fromhex(match.group(0).replace("\\x", "")).decode(
            "utf-8", "backslashreplace"),
        text,
    )


@dataclass(slots=True)
class TsvHeader:
    """The ``#`` meta lines in force for the data lines that follow them."""

    separator: str = "\t"
    set_separator: str = ","
    empty_field: str = "(empty)"
    unset_field: str = "-"
    path: str | None = None
    fields: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)

    def read(self, line: str) -> None:
        """Apply one ``#`` line."""
        if line.startswith("#separator"):
            value = line[len("#separator"):].lstrip(" \t")
            self.separator = unescape(value) or "\t"
            return
        name, _, value = line[1:].partition(self.separator)
        if name == "set_separator":
            self.set_separator = unescape(value) or ","
        elif name == "empty_field":
            self.empty_field = value
        elif name == "unset_field":
            self.unset_field = value
        elif name == "path":
            self.path = value or None
        elif name == "fields":
            self.fields = value.split(self.separator)
            self.types = []
        elif name == "types":
            self.types = value.split(self.separator)

    def value(self, text: str, kind: str) -> Any:
        """One field's text as a Python value, typed by its ``#types`` entry."""
        if text == self.unset_field:
            return None
        container = kind.startswith(("set[", "vector[", "table["))
        if text == self.empty_field:
            return [] if container else ""
        if container:
            inner = kind[kind.index("[") + 1:-1]
            return [self.value(part, inner) for part in text.split(self.set_separator)]
        if kind in _INT_TYPES:
            number = int_of(text)
            return number if number is not None else unescape(text)
        if kind in _FLOAT_TYPES:
            try:
                return float(text)
            except ValueError:
                return unescape(text)
        if kind == "bool" and text in ("T", "F"):
            return text == "T"
        return unescape(text)


@PARSERS.register("zeek")
class ZeekParser(SourceParser):
    NAME: ClassVar[str] = "zeek"
    TITLE: ClassVar[str] = (
        "Zeek network logs (conn, dns, http, ssl, files, kerberos, smb_*, weird …): TSV with "
        "#fields/#types headers, or JSON lines"
    )
    EXAMPLE: ClassVar[str] = (
        "#separator \\x09\n#path\tconn\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\t"
        "id.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\n"
        "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\t"
        "string\n1692161643.549491\tCX6po61SVaO8po0uh8\t192.168.1.41\t55213\t10.0.5.13\t80\t"
        "tcp\thttp\t1.201128\t120\t403\tSF"
    )

    @classmethod
    def sniff(cls, head: bytes, name: str) -> int:
        if head.startswith(b"#separator ") or _TSV_HEADER.search(head):
            return 95
        if _TSV_FIELDS.search(head):
            return 85
        stripped = head.lstrip()
        if not stripped.startswith(b"{"):
            return 0
        values = [value for value in sniff_json_values(head) if isinstance(value, dict)]
        if not values:
            return 0
        first = values[0]
        if "ts" not in first:
            return 0
        if "_path" in first and ("uid" in first or "id.orig_h" in first or "fuid" in first):
            return 90
        if "uid" in first and "id.orig_h" in first:
            return 90
        if "id.orig_h" in first or ("uid" in first and _kind_from_fields(first)):
            return 75
        if "fuid" in first or "certificate.serial" in first:
            return 60
        if kind_from_file_name(name):  # e.g. packet_filter.log: only ts and the file name
            return 40
        return 0

    def parse(self, stream: IO[bytes], ctx: ParseContext) -> Iterator[Record | Rejected]:
        header = TsvHeader()
        kind_from_name = kind_from_file_name(ctx.name)
        for number, line in iter_lines(stream):
            if line is None:
                yield too_long(number)
                continue
            text = decode(line)
            if text.startswith("#"):
                header.read(text)
            elif text.lstrip(" \ufeff").startswith("{"):
                yield _json_record(number, text, kind_from_name)
            elif text.strip():
                yield _tsv_record(number, text, header)


def _json_record(number: int, text: str, kind_from_name: str | None) -> Record | Rejected:
    """One line of a Zeek JSON log."""
    try:
        value = orjson.loads(text.lstrip(" \ufeff"))
    except orjson.JSONDecodeError as error:
        return Rejected(number, f"invalid JSON: {error}", text)
    if not isinstance(value, dict) or "ts" not in value:
        return Rejected(number, "not a Zeek JSON log entry (object with ts)", text)
    if not isinstance(value.get("_path"), str) or not value["_path"]:
        kind = kind_from_name or _kind_from_fields(value)
        if kind:
            value = {"_path": kind, **value}
    return _record(number, value, text)


def _tsv_record(number: int, text: str, header: TsvHeader) -> Record | Rejected:
    if not header.fields:
        return Rejected(number, "Zeek data line before any #fields header", text)
    values = text.split(header.separator)
    if len(values) != len(header.fields):
        return Rejected(
            number,
            f"Zeek line has {len(values)} fields, #fields declares {len(header.fields)}",
            text,
        )
    types = header.types if len(header.types) == len(header.fields) else []
    data: dict[str, Any] = {}
    if header.path:
        data["_path"] = header.path
    for index, (name, field_text) in enumerate(zip(header.fields, values, strict=True)):
        value = header.value(field_text, types[index] if types else "string")
        if value is not None:  # unset fields are left out, as Zeek's JSON writer does
            data[name] = value
    if not header.path:
        kind = _kind_from_fields(data)
        if kind:
            data = {"_path": kind, **data}
    return _record(number, data, text)


def _record(position: int, data: dict[str, Any], raw: str) -> Record:
    return Record(position=position, data=data, raw=raw, time=time_of(data.get("ts")),
                  normal=normalise(data))


def time_of(value: Any) -> datetime | None:
    """``ts`` as epoch seconds (TSV, default JSON) or ISO-8601 (``JSON::TS_ISO8601``)."""
    if isinstance(value, str) and not value.replace(".", "", 1).isdigit():
        return parse_iso(value)
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float, str)):
        return from_epoch(value)
    return None


def kind_from_file_name(name: str) -> str | None:
    """Log kind from a file name: ``dns.log``, ``conn.09:00:00-10:00:00.log.gz``,
    ``smb_mapping.log``, ``http_eth0.json`` (longest known kind the name starts with)."""
    stem = PurePosixPath(name.replace("\\", "/")).name.lower().split(".", 1)[0]
    parts = _NAME_PARTS.split(stem)
    for count in range(len(parts), 0, -1):
        candidate = "_".join(parts[:count])
        if candidate in LOG_KINDS:
            return candidate
    return None


def _kind_from_fields(data: dict[str, Any]) -> str | None:
    for kind, names in KIND_SIGNATURES:
        if all(name in data for name in names):
            return kind
    return None


def _get(data: dict[str, Any], dotted: str) -> Any:
    """A field by its dotted name, flat (``id.orig_h`` key) or nested (``id`` → ``orig_h``)."""
    if dotted in data:
        return data[dotted]
    return dig(data, *dotted.split("."))


def normalise(data: dict[str, Any]) -> dict[str, Any]:
    """The normalised view of one Zeek entry."""
    kind = text_of(data.get("_path"))
    normal: dict[str, Any] = {
        "category": "network",
        "src_ip": ip_or_none(_get(data, "id.orig_h")),
        "src_port": int_of(_get(data, "id.orig_p")),
        "dst_ip": ip_or_none(_get(data, "id.resp_h")),
        "dst_port": int_of(_get(data, "id.resp_p")),
        "protocol": (text_of(data.get("proto")) or "").lower() or None,
        "operation": _operation(kind, data),
    }
    if kind == "conn":
        _conn(data, normal)
    elif kind == "dns":
        normal["url"] = text_of(data.get("query"))
        rcode = text_of(data.get("rcode_name"))
        if rcode:
            normal["outcome"] = "success" if rcode == "NOERROR" else "failure"
            normal["error_code"] = None if rcode == "NOERROR" else rcode
    elif kind == "http":
        _http(data, normal)
    elif kind == "kerberos":
        success = data.get("success")
        if isinstance(success, bool):
            normal["outcome"] = "success" if success else "failure"
        normal["error_code"] = text_of(data.get("error_msg"))
    elif kind == "ssh":
        success = data.get("auth_success")
        if isinstance(success, bool):
            normal["outcome"] = "success" if success else "failure"
    elif kind == "files":
        normal["file_path"] = text_of(data.get("filename"))
        normal["bytes"] = int_of(data.get("seen_bytes"))
    elif kind == "smb_files":
        path, name = text_of(data.get("path")), text_of(data.get("name"))
        normal["file_path"] = "\\".join(part for part in (path, name) if part) or None
    elif kind in ("weird", "notice"):
        normal["message"] = text_of(data.get("msg")) or text_of(data.get("name"))
    user_field = USER_FIELDS.get(kind or "")
    if user_field:
        normal["actor_user"] = text_of(data.get(user_field))
    return {key: value for key, value in normal.items() if value is not None}


def _operation(kind: str | None, data: dict[str, Any]) -> str | None:
    detail_field = OPERATION_FIELDS.get(kind or "")
    detail = text_of(data.get(detail_field)) if detail_field else None
    parts = [part for part in (kind, detail) if part]
    return " ".join(parts) or None


def _conn(data: dict[str, Any], normal: dict[str, Any]) -> None:
    sent, received = int_of(data.get("orig_bytes")), int_of(data.get("resp_bytes"))
    if sent is not None or received is not None:
        normal["bytes"] = (sent or 0) + (received or 0)
    packets_out, packets_in = int_of(data.get("orig_pkts")), int_of(data.get("resp_pkts"))
    if packets_out is not None or packets_in is not None:
        normal["packets"] = (packets_out or 0) + (packets_in or 0)
    state = text_of(data.get("conn_state"))
    if state:
        normal["outcome"] = "failure" if state in FAILED_CONN_STATES else "success"
        normal["error_code"] = state if state in FAILED_CONN_STATES else None
    local_orig, local_resp = data.get("local_orig"), data.get("local_resp")
    if local_orig is True and local_resp is False:
        normal["direction"] = "out"
    elif local_orig is False and local_resp is True:
        normal["direction"] = "in"


def _http(data: dict[str, Any], normal: dict[str, Any]) -> None:
    host, uri = text_of(data.get("host")), text_of(data.get("uri"))
    normal["url"] = f"{host or ''}{uri or ''}" or None
    normal["user_agent"] = text_of(data.get("user_agent"))
    normal["bytes"] = int_of(data.get("response_body_len"))
    status = int_of(data.get("status_code"))
    if status is not None:
        normal["outcome"] = "failure" if status >= HTTP_FAILURE else "success"
        normal["error_code"] = str(status) if status >= HTTP_FAILURE else None
