"""Syslog files: ``/var/log/syslog``, ``auth.log``, ``secure``, ``messages``, journal exports.

Header forms read (one event per line):

* RFC 3164 (BSD syslog), as written by sysklogd/rsyslog's traditional file format, with an
  optional ``<PRI>`` and optional fractional seconds::

      Dec 10 06:55:46 LabSZ sshd[24200]: Failed password for root from 1.2.3.4 port 22 ssh2

  The line has no year: it comes from ``ParseContext.reference_year`` (else the current year)
  and is increased by one when the month goes backwards by more than six months (December →
  January) inside the file.
* RFC 5424 (https://www.rfc-editor.org/rfc/rfc5424)::

      <34>1 2003-10-11T22:14:15.003Z mymachine su - ID47 [exampleSDID@32473 iut="3"] msg

* ISO-8601 timestamps as written by rsyslog's ``RSYSLOG_FileFormat`` and ``journalctl -o
  short-iso``: ``2024-03-01T10:00:00.123456+00:00 host prog[pid]: msg``. A timestamp without
  an offset is taken as UTC.

Native fields: ``timestamp`` (as written), ``hostname``, ``program`` (the tag or APP-NAME),
``pid``, ``message``; ``pri``/``facility``/``severity`` when a PRI is present; ``version``,
``msgid`` and ``structured_data`` (``{sd-id: {param: value}}``) for RFC 5424. Messages of
well-known programs add extracted fields with plain names: ``event`` (the kind, e.g.
``ssh_failed``), ``user``, ``src_ip``, ``src_port``, ``auth_method``, ``target_user``,
``command``, ``tty``, ``pwd``, ``ruser``, ``rhost``, ``unit`` … (see :func:`extract`).
Handled: sshd, sudo, su, pam_* messages of any service (``pam_unix(sshd:auth): …`` and the
old ``sshd(pam_unix)[pid]: …`` tag), useradd/usermod/userdel/groupadd/groupdel/passwd/
chpasswd/gpasswd, cron/crond/crontab, systemd/systemd-logind, login and syslogd's
``message repeated N times: [ … ]`` (the inner message is read; ``repeat_count`` = N).

A line without a syslog header is Rejected; a syslog line whose message is not understood is
still a Record (without ``event``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO, Any, ClassVar

from trailguard.ingest.base import (
    PARSERS,
    ParseContext,
    Record,
    Rejected,
    SourceParser,
    decode,
    head_lines,
    int_of,
    iter_lines,
    text_of,
    too_long,
)
from trailguard.ingest.timeparse import parse_iso

MONTHS = {name: number for number, name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
FACILITIES = (
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
    "authpriv", "ftp", "ntp", "security", "console", "solaris-cron", "local0", "local1",
    "local2", "local3", "local4", "local5", "local6", "local7",
)
SEVERITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")

_PRI = r"(?:<(?P<pri>\d{1,3})>)?"
_RFC3164 = re.compile(
    _PRI + r"(?P<ts>(?P<mon>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"(?P<day>[ \d]?\d) (?:(?P<year>\d{4}) )?(?P<clock>\d\d:\d\d:\d\d)(?P<frac>\.\d{1,9})?)"
    r"(?: +(?P<rest>.*))?$"
)
_ISO = re.compile(
    _PRI + r"(?P<ts>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d{1,9})?(?:Z|[+-]\d\d:?\d\d)?)"
    r"(?: +(?P<rest>.*))?$"
)
_RFC5424 = re.compile(
    r"<(?P<pri>\d{1,3})>(?P<version>\d{1,2}) (?P<ts>\S+) (?P<host>\S+) (?P<app>\S+) "
    r"(?P<procid>\S+) (?P<msgid>\S+)(?: (?P<rest>.*))?$"
)
_ISO_START = re.compile(r"(?:<\d{1,3}>)?\d{4}-")
# The TAG: a program name (a few words at most, as in "syslogd 1.4.1"), an optional [pid],
# then a colon. Without it the whole rest of the line is the message.
_TAG = re.compile(
    r"(?P<prog>[^\s:\[\]]+(?: [^\s:\[\]]+){0,2}?)(?:\[(?P<pid>[^\]\s]*)\])?:(?: +|$)(?P<msg>.*)$",
    re.DOTALL,
)
_SD_ELEMENT = re.compile(r'\[(?P<id>[^\s\]=" ]+)(?P<params>(?: [^\s\]="]+="(?:[^"\\]|\\.)*")*)\]')
_SD_PARAM = re.compile(r'([^\s\]="]+)="((?:[^"\\]|\\.)*)"')
_SD_UNESCAPE = re.compile(r'\\(["\\\]])')


@PARSERS.register("syslog")
class SyslogParser(SourceParser):
    NAME: ClassVar[str] = "syslog"
    TITLE: ClassVar[str] = (
        "Syslog text (auth.log, secure, messages, syslog): RFC 3164, RFC 5424, rsyslog ISO "
        "timestamps; sshd/sudo/su/pam/useradd/cron/systemd messages are decoded"
    )
    EXAMPLE: ClassVar[str] = (
        "Dec 10 09:32:20 LabSZ sshd[24680]: Accepted password for fztu from 119.137.62.142 "
        "port 49116 ssh2"
    )

    @classmethod
    def sniff(cls, head: bytes, name: str) -> int:
        lines = _head_lines(head)
        if not lines:
            return 0
        good = sum(1 for line in lines if _sniff_line(line))
        share = good / len(lines)
        lowered = name.lower().replace("\\", "/").rsplit("/", 1)[-1]
        bonus = 5 if any(hint in lowered for hint in _NAME_HINTS) else 0
        if share >= 0.8:
            return 80 + bonus
        if share >= 0.5:
            return 60 + bonus
        if good:
            return 25 + bonus
        return 0

    def parse(self, stream: IO[bytes], ctx: ParseContext) -> Iterator[Record | Rejected]:
        now = _now()
        clock = _YearClock(ctx.reference_year or now.year, now)
        for number, line in iter_lines(stream):
            if line is None:
                yield too_long(number)
                continue
            text = decode(line)
            if not text.strip():
                continue
            data = parse_header(text)
            if data is None:
                yield Rejected(number, "not a syslog line (no RFC 3164/5424 or ISO header)", text)
                continue
            time = _event_time(data, clock)
            data.update(extract(text_of(data.get("program")), data.get("message") or ""))
            yield Record(position=number, data=data, raw=text, time=time,
                         normal=normalise(data))


_NAME_HINTS = ("syslog", "auth.log", "secure", "messages", "kern.log", "daemon.log", "cron",
               "maillog", "mail.log", "user.log", "journal")


def _sniff_line(line: str) -> bool:
    """A syslog line; an ISO-dated line counts only with a program tag (IIS logs, CSV and
    other dated text also start with an ISO date)."""
    data = parse_header(line)
    if data is None:
        return False
    return "program" in data or "version" in data or not _ISO_START.match(line)


def _head_lines(head: bytes) -> list[str]:
    """The complete, non-empty lines of a sniffing head; none for binary data."""
    if b"\x00" in head[:4096]:
        return []
    return head_lines(head, 200)


def _now() -> datetime:
    return datetime.now(UTC)


class _YearClock:
    """Gives RFC 3164 timestamps a year, stepping it when the log crosses New Year.

    The first dated line fixes the year: the reference year, or the year before when that
    would put the line in the future (a log written in December and copied in the next
    year's January gets a January modification year).
    """

    def __init__(self, year: int, now: datetime) -> None:
        self.year = year
        self.now = now
        self.last_month: int | None = None

    def year_for(self, month: int, day: int) -> int:
        if self.last_month is None:
            if (month, day) > (self.now.month, self.now.day + 1) and self.year >= self.now.year:
                self.year = self.now.year - 1
        elif month < self.last_month - 6:
            self.year += 1
        self.last_month = month
        return self.year


def parse_header(text: str) -> dict[str, Any] | None:
    """Split a syslog line into its native header fields and message (None: not syslog)."""
    match = _RFC5424.match(text)
    if match and 0 <= int(match["pri"]) <= 191:
        return _rfc5424(match)
    match = _RFC3164.match(text)
    if match:
        if not 1 <= int(match["day"].strip()) <= 31:
            return None
    else:
        match = _ISO.match(text)
        if not match:
            return None
    data: dict[str, Any] = {"timestamp": match["ts"]}
    _add_pri(data, match["pri"])
    if "pri" in data and data["pri"] is None:
        return None
    data.update(_host_tag_message(match["rest"] or ""))
    return data


def _add_pri(data: dict[str, Any], pri: str | None) -> None:
    if pri is None:
        return
    value = int(pri)
    if value > 191:
        data["pri"] = None
        return
    data["pri"] = value
    data["facility"] = FACILITIES[value // 8]
    data["severity"] = SEVERITIES[value % 8]


def _host_tag_message(rest: str) -> dict[str, Any]:
    """``host tag[pid]: message`` → fields; the host is missing when the first word is a tag."""
    fields: dict[str, Any] = {}
    first, _, after = rest.partition(" ")
    if first and not first.endswith(":"):
        fields["hostname"] = first
        rest = after.lstrip(" ")
    tag = _TAG.match(rest)
    if tag:
        fields["program"] = tag["prog"]
        if tag["pid"] is not None:
            pid = int_of(tag["pid"]) if tag["pid"].isdigit() else None
            fields["pid"] = pid if pid is not None else tag["pid"]
        fields["message"] = tag["msg"].rstrip()
    else:
        fields["message"] = rest.rstrip()
    return fields


def _rfc5424(match: re.Match[str]) -> dict[str, Any]:
    data: dict[str, Any] = {"timestamp": None if match["ts"] == "-" else match["ts"]}
    _add_pri(data, match["pri"])
    data["version"] = int(match["version"])
    for key, value in (("hostname", match["host"]), ("program", match["app"]),
                       ("msgid", match["msgid"])):
        if value != "-":
            data[key] = value
    if match["procid"] != "-":
        data["pid"] = int(match["procid"]) if match["procid"].isdigit() else match["procid"]
    rest = match["rest"] or ""
    structured: dict[str, Any] = {}
    if rest.startswith("-"):
        rest = rest[1:]
    else:
        position = 0
        while True:
            element = _SD_ELEMENT.match(rest, position)
            if not element:
                break
            params = structured.setdefault(element["id"], {})
            for name, value in _SD_PARAM.findall(element["params"]):
                params.setdefault(name, _SD_UNESCAPE.sub(r"\1", value))
            position = element.end()
        rest = rest[position:]
    if structured:
        data["structured_data"] = structured
    message = rest[1:] if rest.startswith(" ") else rest
    data["message"] = message.removeprefix("\ufeff").rstrip()
    return data


def _event_time(data: dict[str, Any], clock: _YearClock) -> datetime | None:
    stamp = text_of(data.get("timestamp"))
    if stamp is None:
        return None
    match = _RFC3164.match(stamp)
    if match:
        month = MONTHS[match["mon"]]
        day = int(match["day"].strip())
        year = int(match["year"]) if match["year"] else clock.year_for(month, day)
        hour, minute, second = (int(part) for part in match["clock"].split(":"))
        micro = int((match["frac"] or ".0")[1:7].ljust(6, "0"))
        try:
            return datetime(year, month, day, hour, minute, second, micro)
        except ValueError:
            return None
    return parse_iso(stamp.replace(",", ".", 1))


# --------------------------------------------------------------------------------------------
# Message extraction
# --------------------------------------------------------------------------------------------

#: event kind → (normalised category, outcome or None)
EVENTS: dict[str, tuple[str, str | None]] = {
    "ssh_accepted": ("authentication", "success"),
    "ssh_failed": ("authentication", "failure"),
    "ssh_invalid_user": ("authentication", "failure"),
    "ssh_invalid_user_request": ("authentication", "failure"),
    "ssh_too_many_failures": ("authentication", "failure"),
    "ssh_connection": ("network", None),
    "ssh_connection_closed": ("network", None),
    "ssh_disconnect": ("network", None),
    "ssh_no_identification": ("network", "failure"),
    "ssh_negotiation_failed": ("network", "failure"),
    "ssh_bad_protocol": ("network", "failure"),
    "ssh_reverse_mapping_failed": ("network", None),
    "ssh_listening": ("service", "success"),
    "pam_auth_failure": ("authentication", "failure"),
    "pam_user_unknown": ("authentication", "failure"),
    "pam_more_failures": ("authentication", "failure"),
    "pam_max_retries": ("authentication", "failure"),
    "session_opened": ("authentication", "success"),
    "session_closed": ("authentication", None),
    "session_new": ("authentication", "success"),
    "session_removed": ("authentication", None),
    "sudo_command": ("process", "success"),
    "sudo_failed": ("authentication", "failure"),
    "sudo_denied": ("process", "failure"),
    "su_success": ("authentication", "success"),
    "su_failed": ("authentication", "failure"),
    "login_root": ("authentication", "success"),
    "login_failed": ("authentication", "failure"),
    "user_created": ("account", "success"),
    "user_deleted": ("account", "success"),
    "user_modified": ("account", "success"),
    "user_group_added": ("account", "success"),
    "user_group_removed": ("account", "success"),
    "group_created": ("account", "success"),
    "group_deleted": ("account", "success"),
    "password_changed": ("account", "success"),
    "cron_command": ("process", "success"),
    "cron_reload": ("configuration", "success"),
    "crontab_edit": ("configuration", None),
    "crontab_replace": ("configuration", "success"),
    "crontab_delete": ("configuration", "success"),
    "crontab_list": ("configuration", None),
    "cron_other": ("process", None),
    "systemd_started": ("service", "success"),
    "systemd_stopped": ("service", "success"),
    "systemd_starting": ("service", None),
    "systemd_stopping": ("service", None),
    "systemd_failed": ("service", "failure"),
}

_REPEATED = re.compile(r"message repeated (\d+) times: \[ ?(.*?) ?\]$", re.DOTALL)
_PAM_PREFIX = re.compile(r"(pam_[\w-]+)\(([^:()]+):(\w+)\): (.*)$", re.DOTALL)
_OLD_PAM_TAG = re.compile(r"([\w.-]+)\((pam_[\w-]+)\)$")
_PAM_KV = re.compile(r"(\w+)=(\S*)")

_SSH_AUTH = re.compile(
    r"(?P<verdict>Accepted|Failed|Postponed) (?P<method>\S+) for (?P<invalid>invalid user )?"
    r"(?P<user>.*?) from (?P<ip>\S+) port (?P<port>\d+)(?: (?P<proto>ssh\d?))?"
    r"(?:: (?P<keytype>\S+)(?: (?P<fingerprint>\S+))?)?(?P<rest>.*)$"
)
_SSH_INVALID = re.compile(
    r"[Ii]nvalid user (?P<user>.*?) from (?P<ip>\S+?)(?: port (?P<port>\d+))?$"
)
_SSH_INVALID_REQUEST = re.compile(
    r"input_userauth_request: invalid user (?P<user>.*?)(?: \[preauth\])?$"
)
_SSH_CLOSED = re.compile(
    r"Connection (?:closed|reset) by (?:(?:authenticating|invalid) user (?P<user>.*?) )?"
    r"(?P<ip>[0-9A-Fa-f:.]+)(?: port (?P<port>\d+))?(?: \[preauth\])?$"
)
_SSH_DISCONNECT = re.compile(
    r"(?:error: )?Received disconnect from (?P<ip>[0-9A-Fa-f:.]+?)(?: port (?P<port>\d+))?:\s*"
    r"(?P<code>\d+): (?P<reason>.*?)(?: \[preauth\])?$"
)
_SSH_DISCONNECTED = re.compile(
    r"Disconnected from (?:(?:authenticating |invalid )?user (?P<user>.*?) )?"
    r"(?P<ip>[0-9A-Fa-f:.]+) port (?P<port>\d+)(?: \[preauth\])?$"
)
_SSH_NO_ID = re.compile(
    r"Did not receive identification string from (?P<ip>\S+?)(?: port (?P<port>\d+))?$"
)
_SSH_TOO_MANY = re.compile(
    r"(?:Disconnecting: Too many authentication failures(?: for (?P<user>.*?))?"
    r"|Disconnecting (?:authenticating |invalid )?user (?P<user2>.*?) (?P<ip>\S+) "
    r"port (?P<port>\d+): Too many authentication failures"
    r"|error: maximum authentication attempts exceeded for (?:invalid user )?(?P<user3>.*?) "
    r"from (?P<ip3>\S+) port (?P<port3>\d+)(?: ssh2)?)(?: \[preauth\])?$"
)
_SSH_REVERSE = re.compile(
    r"reverse mapping checking getaddrinfo for (?P<host>\S+) \[(?P<ip>[^\]]+)\] failed"
)
_SSH_CONNECTION = re.compile(
    r"Connection from (?P<ip>\S+) port (?P<port>\d+)(?: on (?P<dip>\S+) port (?P<dport>\d+))?"
)
_SSH_LISTEN = re.compile(r"Server listening on (?P<ip>\S+) port (?P<port>\d+)")
_SSH_NEGOTIATE = re.compile(
    r"Unable to negotiate with (?P<ip>\S+) port (?P<port>\d+): (?P<reason>.*)$"
)
_SSH_BAD_PROTOCOL = re.compile(
    r"(?:Bad protocol version identification '.*' from|banner exchange: Connection from) "
    r"(?P<ip>\S+?)(?: port (?P<port>\d+))?(?::.*)?$"
)
_PAM_MORE = re.compile(r"PAM (?P<count>\d+) more authentication failures?; (?P<kv>.*)$")
_PAM_MAX_RETRIES = re.compile(
    r"PAM service\((?P<service>[^)]*)\) ignoring max retries; (?P<count>\d+) >"
)

_SESSION = re.compile(
    r"session (?P<what>opened|closed) for user (?P<user>[^\s(]+)(?:\(uid=(?P<uid>\d+)\))?"
    r"(?: by (?P<by>[^\s(]*)\(uid=(?P<by_uid>\d+)\))?"
)
_SUDO = re.compile(r"\s*(?P<user>\S+) : (?P<body>.*)$", re.DOTALL)
_SU_OK = re.compile(
    r"(?:\(to (?P<target>\S+)\) (?P<user>\S+) on (?P<tty>\S+)"
    r"|Successful su for (?P<target2>\S+) by (?P<user2>\S+)"
    r"|\+ (?P<tty3>\S+) (?P<user3>[^:\s]+):(?P<target3>\S+))$"
)
_SU_FAIL = re.compile(
    r"(?:FAILED su for (?P<target>\S+) by (?P<user>\S+)"
    r"|- (?P<tty2>\S+) (?P<user2>[^:\s]+):(?P<target2>\S+)"
    r"|'su (?P<target3>\S+)' failed for (?P<user3>\S+) on (?P<tty3>\S+))$"
)
_ACCOUNT_KV = re.compile(r"(\w+)=([^,]*)")
_ACCOUNT_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"new user: (?P<kv>.*)$"), "user_created"),
    (re.compile(r"(?:new group|group added to \S+): (?P<kv>.*)$"), "group_created"),
    (re.compile(r"add '(?P<user>[^']*)' to (?:shadow )?group '(?P<group>[^']*)'"),
     "user_group_added"),
    (re.compile(r"user (?P<user>\S+) added by (?P<by>\S+) to group (?P<group>\S+)"),
     "user_group_added"),
    (re.compile(r"delete '(?P<user>[^']*)' from (?:shadow )?group '(?P<group>[^']*)'"),
     "user_group_removed"),
    (re.compile(r"delete user '(?P<user>[^']*)'"), "user_deleted"),
    (re.compile(r"(?:removed group '(?P<group>[^']*)'|group '(?P<group2>[^']*)' removed)"),
     "group_deleted"),
    (re.compile(r"(?:change user '(?P<user>[^']*)'|lock user '(?P<user2>[^']*)'"
                r"|unlock user '(?P<user3>[^']*)'|change user name '(?P<user4>[^']*)')"),
     "user_modified"),
    (re.compile(r"password (?:changed|for '(?P<user2>[^']*)' changed) ?(?:for (?P<user>\S+))?"),
     "password_changed"),
)
_CRON = re.compile(r"\((?P<user>[^)]*)\) (?P<action>[A-Z][A-Z ]*?) \((?P<arg>.*)\)\s*$", re.DOTALL)
_SYSTEMD = re.compile(
    r"(?P<verb>Started|Stopped|Starting|Stopping|Failed to start|Failed to stop) (?P<what>.*?)\.?$"
)
_SYSTEMD_UNIT_FAILED = re.compile(
    r"(?P<unit>[\w@:.\\-]+\.\w+): (?:Failed with result|Main process exited)"
)
_SYSTEMD_UNIT = re.compile(
    r"(?P<unit>[\w@:.\\-]+\.(?:service|socket|timer|target|mount|scope|slice"
    r"|path|device|swap|automount))\b"
)
_LOGIND = re.compile(
    r"(?:New session (?P<new>\S+) of user (?P<user>[^\s.]+)|Removed session (?P<gone>[^\s.]+))"
)
_LOGIN = re.compile(
    r"(?:ROOT LOGIN (?:ON|on) (?P<tty>\S+)(?: FROM (?P<src>\S+))?"
    r"|FAILED LOGIN \(\d+\) on '?(?P<tty2>[^'\s]+)'?(?: FROM '?(?P<src2>[^'\s]+)'?)?"
    r" FOR '?(?P<user>[^',\s]+)'?)"
)

# OpenSSH 9.8 split sshd: per-connection work logs as sshd-session (and sshd-auth).
_SSHD_PROGRAMS = frozenset({"sshd", "sshd-session", "sshd-auth"})
_ACCOUNT_PROGRAMS = frozenset({"useradd", "usermod", "userdel", "groupadd", "groupdel", "groupmod",
                               "passwd", "chpasswd", "gpasswd", "adduser", "deluser", "chage",
                               "newusers"})
_CRON_PROGRAMS = frozenset({"cron", "crond", "anacron", "crontab"})
_SYSTEMD_PROGRAMS = frozenset({"systemd", "init"})


#: Longest message the extractors look at (real auth messages are far shorter).
MAX_EXTRACT = 16 * 1024


def extract(program: str | None, message: str) -> dict[str, Any]:
    """Fields extracted from the message of a known program (empty when none applies)."""
    if len(message) > MAX_EXTRACT:
        return {}
    base = _program_base(program)
    fields: dict[str, Any] = {}
    repeated = _REPEATED.match(message)
    if repeated:
        fields["repeat_count"] = int(repeated[1])
        message = repeated[2]
    old_pam = _OLD_PAM_TAG.match(program or "")
    if old_pam:
        fields.update({"pam_module": old_pam[2], "pam_service": old_pam[1]})
        found = _pam(message, old_pam[1])
    elif pam := _PAM_PREFIX.match(message):
        fields.update({"pam_module": pam[1], "pam_service": pam[2], "pam_type": pam[3]})
        found = _pam(pam[4], pam[2])
    elif base in _SSHD_PROGRAMS:
        found = _sshd(message)
    elif base == "sudo":
        found = _sudo(message)
    elif base == "su":
        found = _su(message)
    elif base in _ACCOUNT_PROGRAMS:
        found = _account(message)
    elif base in _CRON_PROGRAMS:
        found = _cron(message, base)
    elif base in _SYSTEMD_PROGRAMS or base == "systemd-logind":
        found = _systemd(message)
    else:
        found = _login(message)
    if found:
        fields.update(found)
        return fields
    return fields if "repeat_count" in fields or "pam_module" in fields else {}


def _program_base(program: str | None) -> str:
    if not program:
        return ""
    name = program.rsplit("/", 1)[-1].lower()
    return name.split("(", 1)[0]


def _ip(value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip("[]")
    try:
        return str(ipaddress.ip_address(value.split("%", 1)[0]))
    except ValueError:
        return None


def _port(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and int(value) <= 65535 else None


def _clean(fields: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not None and value != ""}


def _sshd(message: str) -> dict[str, Any]:
    message = message.rstrip()
    match = _SSH_AUTH.match(message)
    if match:
        kind = {"Accepted": "ssh_accepted", "Failed": "ssh_failed"}.get(match["verdict"])
        return _clean({
            "event": kind or "ssh_postponed",
            "auth_method": match["method"],
            "user": match["user"],
            "invalid_user": True if match["invalid"] else None,
            "src_ip": _ip(match["ip"]),
            "src_port": _port(match["port"]),
            "ssh_protocol": match["proto"],
            "key_type": match["keytype"],
            "key_fingerprint": match["fingerprint"],
        })
    simple: tuple[tuple[re.Pattern[str], str], ...] = (
        (_SSH_INVALID, "ssh_invalid_user"),
        (_SSH_INVALID_REQUEST, "ssh_invalid_user_request"),
        (_SSH_CLOSED, "ssh_connection_closed"),
        (_SSH_DISCONNECT, "ssh_disconnect"),
        (_SSH_DISCONNECTED, "ssh_disconnect"),
        (_SSH_NO_ID, "ssh_no_identification"),
        (_SSH_TOO_MANY, "ssh_too_many_failures"),
        (_SSH_CONNECTION, "ssh_connection"),
        (_SSH_NEGOTIATE, "ssh_negotiation_failed"),
        (_SSH_BAD_PROTOCOL, "ssh_bad_protocol"),
    )
    for pattern, kind in simple:
        match = pattern.match(message)
        if match:
            groups = match.groupdict()
            return _clean({
                "event": kind,
                "user": groups.get("user") or groups.get("user2") or groups.get("user3"),
                "src_ip": _ip(groups.get("ip") or groups.get("ip3")),
                "src_port": _port(groups.get("port") or groups.get("port3")),
                "dst_ip": _ip(groups.get("dip")),
                "dst_port": _port(groups.get("dport")),
                "disconnect_code": int_of(groups.get("code")),
                "reason": groups.get("reason"),
            })
    match = _SSH_REVERSE.match(message)
    if match:
        return _clean({"event": "ssh_reverse_mapping_failed", "src_host": match["host"],
                       "src_ip": _ip(match["ip"])})
    match = _SSH_LISTEN.match(message)
    if match:
        return _clean({"event": "ssh_listening", "dst_ip": _ip(match["ip"]),
                       "dst_port": _port(match["port"])})
    return _pam(message, "sshd")


def _pam(message: str, service: str) -> dict[str, Any]:
    """PAM messages (pam_unix and friends), whatever service logged them."""
    message = message.rstrip()
    if message.startswith("authentication failure;"):
        pairs = dict(_PAM_KV.findall(message))
        return _clean({
            "event": "pam_auth_failure",
            "user": pairs.get("user"),
            "logname": pairs.get("logname"),
            "uid": int_of(pairs.get("uid")),
            "euid": int_of(pairs.get("euid")),
            "tty": pairs.get("tty"),
            "ruser": pairs.get("ruser"),
            "rhost": pairs.get("rhost"),
            "src_ip": _ip(pairs.get("rhost")),
        })
    if message.startswith("check pass; user unknown"):
        return {"event": "pam_user_unknown"}
    match = _SESSION.search(message)
    if match:
        by = match["by"]
        return _clean({
            "event": f"session_{match['what']}",
            "user": match["user"],
            "by_user": by if by and by != "LOGIN" else None,
            "by_uid": int_of(match["by_uid"]),
        })
    match = _PAM_MORE.match(message)
    if match:
        pairs = dict(_PAM_KV.findall(match["kv"]))
        return _clean({
            "event": "pam_more_failures",
            "failure_count": int(match["count"]),
            "user": pairs.get("user"),
            "ruser": pairs.get("ruser"),
            "rhost": pairs.get("rhost"),
            "src_ip": _ip(pairs.get("rhost")),
        })
    match = _PAM_MAX_RETRIES.match(message)
    if match:
        return {"event": "pam_max_retries", "failure_count": int(match["count"])}
    match = re.match(r"password changed for (\S+)", message)
    if match:
        return {"event": "password_changed", "user": match[1]}
    return {}


def _sudo(message: str) -> dict[str, Any]:
    match = _SUDO.match(message)
    if not match:
        return _pam(message, "sudo")
    body = match["body"]
    parts = [part.strip() for part in body.split(" ; ")]
    fields: dict[str, Any] = {"user": match["user"]}
    problem = None
    for part in parts:
        key, sep, value = part.partition("=")
        if sep and key.isupper() and key.isalpha():
            if key == "COMMAND":
                # The command is the last item and may itself contain " ; ".
                value = body.split("COMMAND=", 1)[1]
                fields["command"] = value
                break
            name = {"TTY": "tty", "PWD": "pwd", "USER": "target_user", "GROUP": "target_group",
                    "ENV": "env", "TSID": "tsid"}.get(key)
            if name:
                fields[name] = value
        elif problem is None:
            problem = part
    if problem:
        fields["reason"] = problem
        if "incorrect password" in problem or "password required" in problem:
            fields["event"] = "sudo_failed"
        else:
            fields["event"] = "sudo_denied"
    elif "command" in fields:
        fields["event"] = "sudo_command"
    elif len(fields) == 1:
        return _pam(message, "sudo")
    return _clean(fields)


def _su(message: str) -> dict[str, Any]:
    message = message.rstrip()
    match = _SU_OK.match(message)
    if match:
        return _clean({
            "event": "su_success",
            "user": match["user"] or match["user2"] or match["user3"],
            "target_user": match["target"] or match["target2"] or match["target3"],
            "tty": match["tty"] or match["tty3"],
        })
    match = _SU_FAIL.match(message)
    if match:
        return _clean({
            "event": "su_failed",
            "user": match["user"] or match["user2"] or match["user3"],
            "target_user": match["target"] or match["target2"] or match["target3"],
            "tty": match["tty2"] or match["tty3"],
        })
    return _pam(message, "su")


def _account(message: str) -> dict[str, Any]:
    for pattern, kind in _ACCOUNT_PATTERNS:
        match = pattern.search(message)
        if not match:
            continue
        groups = {key: value for key, value in match.groupdict().items() if value}
        fields: dict[str, Any] = {"event": kind}
        if "kv" in groups:
            pairs = {key.lower(): value.strip() for key, value in _ACCOUNT_KV.findall(groups["kv"])}
            name = pairs.get("name")
            fields["group" if kind == "group_created" else "user"] = name
            fields.update({"uid": int_of(pairs.get("uid")), "gid": int_of(pairs.get("gid")),
                           "home": pairs.get("home"), "shell": pairs.get("shell"),
                           "from_tty": pairs.get("from")})
        else:
            fields["user"] = next((groups[key] for key in ("user", "user2", "user3", "user4")
                                   if key in groups), None)
            fields["group"] = groups.get("group") or groups.get("group2")
            fields["by_user"] = groups.get("by")
        return _clean(fields)
    return _pam(message, "account")


def _cron(message: str, program: str) -> dict[str, Any]:
    match = _CRON.match(message)
    if not match:
        return _pam(message, program)
    action = match["action"].strip()
    fields: dict[str, Any] = {"user": match["user"], "cron_action": action}
    if action == "CMD":
        fields.update({"event": "cron_command", "command": match["arg"].strip()})
    elif action == "RELOAD":
        fields.update({"event": "cron_reload", "detail": match["arg"]})
    elif action in ("BEGIN EDIT", "END EDIT"):
        fields.update({"event": "crontab_edit", "target_user": match["arg"]})
    elif action in ("REPLACE", "DELETE", "LIST"):
        fields.update({"event": f"crontab_{action.lower()}", "target_user": match["arg"]})
    else:
        fields.update({"event": "cron_other", "detail": match["arg"]})
    return _clean(fields)


def _systemd(message: str) -> dict[str, Any]:
    match = _LOGIND.match(message)
    if match:
        if match["new"]:
            return {"event": "session_new", "session_id": match["new"], "user": match["user"]}
        return {"event": "session_removed", "session_id": match["gone"]}
    match = _SYSTEMD.match(message)
    if match:
        verb = match["verb"]
        what = match["what"]
        kind = "systemd_failed" if verb.startswith("Failed") else f"systemd_{verb.lower()}"
        unit_match = _SYSTEMD_UNIT.match(what)
        unit = unit_match["unit"] if unit_match else None
        description = what
        if unit and what.startswith(f"{unit} - "):
            description = what[len(unit) + 3:]
        elif unit and what == unit:
            description = None
        return _clean({"event": kind, "unit": unit, "description": description})
    match = _SYSTEMD_UNIT_FAILED.match(message)
    if match and ("FAILURE" in message or "Failed with result" in message):
        return {"event": "systemd_failed", "unit": match["unit"]}
    return {}


def _login(message: str) -> dict[str, Any]:
    match = _LOGIN.search(message)
    if not match:
        return {}
    if match["tty"]:
        return _clean({"event": "login_root", "user": "root", "tty": match["tty"],
                       "src_host": match["src"], "src_ip": _ip(match["src"])})
    return _clean({"event": "login_failed", "user": match["user"], "tty": match["tty2"],
                   "src_host": match["src2"], "src_ip": _ip(match["src2"])})


def normalise(data: dict[str, Any]) -> dict[str, Any]:
    """The normalised view of one syslog record."""
    event = text_of(data.get("event"))
    category, outcome = EVENTS.get(event or "", (None, None))
    program = text_of(data.get("program"))
    process_user = data.get("target_user") if event in ("sudo_command", "su_success") else None
    user = text_of(data.get("user"))
    actor_user = None if category == "account" else user
    if event in ("session_opened", "session_new") and data.get("by_user"):
        actor_user = text_of(data.get("by_user"))
        process_user = user
    resource = None
    if category == "account":
        resource = text_of(data.get("user")) or text_of(data.get("group"))
    elif category == "service":
        resource = text_of(data.get("unit"))
    return {
        "operation": event or program,
        "category": category,
        "outcome": outcome,
        "actor_user": actor_user,
        "src_ip": text_of(data.get("src_ip")),
        "src_port": int_of(data.get("src_port")),
        "dst_ip": text_of(data.get("dst_ip")),
        "dst_port": int_of(data.get("dst_port")),
        "host": text_of(data.get("hostname")),
        "process_name": program,
        "process_pid": int_of(data.get("pid")),
        "process_cmdline": text_of(data.get("command")),
        "process_user": text_of(process_user),
        "resource": resource,
        "log_name": _program_base(program) or None,
        "message": text_of(data.get("message")),
    }
