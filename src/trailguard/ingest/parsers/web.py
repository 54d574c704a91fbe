"""Web-server logs: Apache/nginx access logs, IIS W3C logs, and nginx/Apache error logs.

**Access logs** (source type ``web_access``), one request per line:

* NCSA *common* ``%h %l %u %t "%r" %>s %b`` and *combined* (``… "%{Referer}i"
  "%{User-Agent}i"``), Apache's ``LogFormat`` (https://httpd.apache.org/docs/2.4/logs.html) and
  nginx's default ``combined`` (https://nginx.org/en/docs/http/ngx_http_log_module.html);
  also Apache's ``vhost_combined`` (a leading ``host:port``), IPv6 clients, and extra fields
  after the user agent that nginx configs often add: a quoted ``$http_x_forwarded_for`` (the
  ``main`` format of nginx's sample config), a bare request time, ``key=value`` pairs
  (``rt=0.012 uct="0.000"``). The raw tail is kept in ``extra``.
* ``-`` means "no value": such fields are stored as null (``bytes`` ``-`` is 0, as ``%b``
  documents). Apache escapes ``"`` and ``\\`` with a backslash and other bytes as ``\\xhh``;
  nginx escapes ``"``, ``\\`` and bytes outside printable ASCII as ``\\xXX``; both are
  decoded, runs of ``\\xXX`` as UTF-8 (bytes that are not UTF-8 stay ``\\xXX`` escapes).
  Servers that do not escape (Tomcat's ``AccessLogValve``) write bare quotes inside the
  request or user agent: such lines are read with looser patterns that end the request at
  the ``" <status> <bytes>`` and the user agent at the line's last quote.
* IIS / W3C extended format (https://www.w3.org/TR/WD-logfile.html,
  https://learn.microsoft.com/en-us/windows/win32/http/w3c-logging): ``#Fields:`` names the
  space-separated columns (``date time s-ip cs-method cs-uri-stem cs-uri-query … sc-status``);
  values are stored under those W3C names, which are what Sigma's ``webserver`` rules use. IIS
  writes spaces in values as ``+``.

Native fields of NCSA lines: ``remote_addr``, ``ident``, ``user``, ``time_local`` (the ``%t``
text; nginx's name, since W3C's ``time`` in the same table is a time of day), ``request``,
``method``, ``path``, ``query`` (without ``?``), ``protocol``, ``status``, ``bytes``,
``referer``, ``user_agent`` (plus ``vhost``, ``x_forwarded_for``, ``request_time``,
``extra_fields``, ``extra`` when present).

*Sigma aliases.* SigmaHQ's ``category: webserver`` rules name fields after W3C (taxonomy
appendix: ``cs-method``, ``cs-uri-stem``, ``cs-uri-query``, ``sc-status``, ``cs-user-agent``,
``cs-referer`` …). So that they match NCSA lines, each record also carries those names:
``c-ip``, ``cs-username``, ``cs-method``, ``cs-uri-stem`` (path), ``cs-uri-query``, ``c-uri``
(both the full request target, path and query), ``cs-version``, ``sc-status``, ``sc-bytes``,
``cs-referer``, ``cs-user-agent``. ``cs-uri-query`` deliberately holds the whole target, not
only the query as in IIS: the SigmaHQ rules use it that way (``cs-uri-query|endswith:
'/mgmt/tm/util/bash'``, ``…|contains: '../../../etc/'``). IIS lines keep their native W3C
``cs-uri-query`` (query only) and get ``c-uri`` (stem and query) plus the dash-named aliases of
their bracketed headers (``cs(User-Agent)`` → ``cs-user-agent`` with ``+`` read as space,
``cs(Referer)`` → ``cs-referer``, ``cs(Cookie)`` → ``cs-cookie``, ``cs(Host)`` → ``cs-host``).

**Error logs** (source type ``web_error``):

* nginx: ``2024/03/01 10:00:00 [error] 1234#0: *5 message, client: 1.2.3.4, server: x,
  request: "GET / HTTP/1.1", host: "x"`` (``ngx_log_error``; the context after ``, client:``
  is split into ``client``, ``server``, ``request``, ``upstream``, ``host``, ``referrer`` …).
* Apache 2.4: ``[Fri Mar 01 10:00:00.123456 2024] [core:error] [pid 1234:tid 5678] [client
  1.2.3.4:5678] AH00126: message, referer: http://…`` and the 2.2 form ``[Fri Mar 01 10:00:00
  2024] [error] [client 1.2.3.4] message`` (https://httpd.apache.org/docs/2.4/logs.html#errorlog).

Error-log times carry no zone: they are server local time and are stored as written.
Lines that match none of these shapes become ``Rejected`` with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
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
from trailguard.ingest.parsers._cloud import ip_or_none

HTTP_FAILURE = 400
#: Longest line tried with the loose (unescaped-quote) patterns, whose cost grows faster than
#: the line length on hostile input; longer lines must be well-formed.
LOOSE_MAX_CHARS = 16 * 1024
MONTHS = {name: number for number, name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
#: W3C fields holding integers.
W3C_INTEGER_FIELDS = frozenset({
    "sc-status", "sc-substatus", "sc-win32-status", "sc-bytes", "cs-bytes", "time-taken",
    "s-port",
})
#: W3C header fields with their Sigma (dash-named) aliases.
W3C_ALIASES = {
    "cs(user-agent)": "cs-user-agent",
    "cs(referer)": "cs-referer",
    "cs(cookie)": "cs-cookie",
    "cs(host)": "cs-host",
}
#: W3C fields that mark a web-server log (Windows Firewall and others also write W3C).
W3C_WEB_FIELDS = frozenset({"cs-method", "cs-uri-stem", "cs-uri", "sc-status"})
#: Keys nginx appends to an error message after ``, client:`` (ngx_http_log_error_handler).
NGINX_CONTEXT_KEYS = ("client", "server", "request", "subrequest", "upstream", "host",
                      "referrer", "port")
ERROR_LEVELS = ("emerg", "alert", "crit", "error", "warn", "notice", "info", "debug")

_QUOTED = r'"((?:[^"\\]|\\.)*)"'
_ACCESS_HEAD = (
    r'^(?:(?P<vhost>[^\s:"\[\]]+:\d+) )?(?P<remote_addr>\S+) (?P<ident>\S+) '
    r'(?P<user>[^\[\]]*?) \[(?P<time>[^\]]*)\] "'
)
_ACCESS = re.compile(
    _ACCESS_HEAD + r'(?P<request>(?:[^"\\]|\\.)*)" (?P<status>\d{3}|-) (?P<bytes>\d+|-)'
    r"(?P<rest>(?: .*)?)$"
)
#: For servers that do not escape quotes: the request ends at the last ``" status bytes``.
_ACCESS_LOOSE = re.compile(
    _ACCESS_HEAD + r'(?P<request>.*)" (?P<status>\d{3}|-) (?P<bytes>\d+|-)$'
)
_ACCESS_LOOSE_COMBINED = re.compile(
    _ACCESS_HEAD + r'(?P<request>.*?)" (?P<status>\d{3}|-) (?P<bytes>\d+|-)'
    r'(?P<rest> "(?:[^"\\]|\\.)*" ".*)$'
)
_REFERER_AGENT = re.compile(r"^ " + _QUOTED + " " + _QUOTED + r"(?P<extra>(?: .*)?)$")
_REFERER_AGENT_LOOSE = re.compile(r"^ " + _QUOTED + r' "(.*)"$')
_EXTRA_TOKEN = re.compile(r'([A-Za-z_][\w.-]{0,31})=("(?:[^"\\]|\\.)*"|\S*)|' + _QUOTED + r"|(\S+)")
_CLF_TIME = re.compile(
    r"^(\d{1,2})/([A-Za-z]{3})/(\d{4}):(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?"
    r"(?: ?([+-])(\d{2}):?(\d{2}))?$"
)
_ESCAPE = re.compile(r'(?:\\x[0-9a-fA-F]{2})+|\\["\\nrt]')
_IP_LIST = re.compile(r"^[0-9A-Fa-f:.]+(?:, ?[0-9A-Fa-f:.]+)*$")
_FLOAT = re.compile(r"^\d+(?:\.\d+)?$")

_NGINX_ERROR = re.compile(
    r"^(?P<date>\d{4}/\d{2}/\d{2}) (?P<clock>\d{2}:\d{2}:\d{2}) \[(?P<level>[a-z]+)\] "
    r"(?P<pid>\d+)#(?P<tid>\d+): (?:\*(?P<connection>\d+) )?(?P<message>.*)$"
)
_NGINX_CONTEXT_KEY = re.compile(r", (" + "|".join(NGINX_CONTEXT_KEYS) + r"): ")
_APACHE_ERROR = re.compile(
    r"^\[(?P<time>[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2}(?:\.\d{1,6})? \d{4})\] "
    r"\[(?:(?P<module>[\w.-]*):)?(?P<level>[a-z]+\d?)\]"
    r"(?: \[pid (?P<pid>\d+)(?::tid (?P<tid>\d+))?\])?"
    r"(?: \[client (?P<client>[^\]]*)\])?"
    r"(?: \[remote (?P<remote>[^\]]*)\])?"
    r" ?(?P<message>.*)$"
)
_APACHE_TIME = re.compile(
    r"^[A-Z][a-z]{2} ([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))? (\d{4})$"
)
_APACHE_CODE = re.compile(r"(?:^|: )(AH\d{5}): ")
_APACHE_REFERER = re.compile(r", referer: (\S*)$")


# --------------------------------------------------------------------------- shared helpers


def unescape(text: str) -> str:
    """Undo Apache/nginx log escaping: ``\\"``, ``\\\\``, ``\\n``/``\\r``/``\\t``, and runs of
    ``\\xhh`` bytes read as UTF-8 (bytes that are not UTF-8 stay ``\\xhh`` escapes)."""
    if "\\" not in text:
        return text
    return _ESCAPE.sub(_unescape_one, text)


def _unescape_one(match: re.Match[str]) -> str:
    code = match.group(0)
    if code[1] == "x":
        return bytes.fromhex(code.replace("\\x", "")).decode("utf-8", "backslashreplace")
    return {"n": "\n", "r": "\r", "t": "\t"}.get(code[1], code[1])


def _absent(text: str | None) -> str | None:
    """CLF's ``-`` (and an empty value) mean "no value"."""
    return None if text in (None, "", "-") else text


def clf_time(text: str) -> datetime | None:
    """``10/Oct/2000:13:55:36 -0700`` (``%t``) as naive UTC; None when unreadable."""
    match = _CLF_TIME.match(text)
    if not match:
        return None
    day, month_name, year, hour, minute, second, fraction, sign, off_h, off_m = match.groups()
    month = MONTHS.get(month_name.capitalize())
    if month is None:
        return None
    try:
        value = datetime(int(year), month, int(day), int(hour), int(minute), int(second),
                         int((fraction or "0").ljust(6, "0")))
    except ValueError:
        return None
    if sign:
        offset = timedelta(hours=int(off_h), minutes=int(off_m))
        value = value - offset if sign == "+" else value + offset
    return value


def split_request(request: str) -> dict[str, Any]:
    """``GET /a?b=1 HTTP/1.1`` → method, path, query, protocol (all None when it is not one)."""
    parts = request.strip(" ").split(" ")
    method = target = protocol = None
    if len(parts) == 3 and parts[2].startswith("HTTP/"):
        method, target, protocol = parts
    elif len(parts) == 2 and parts[1].startswith("/"):
        method, target = parts  # HTTP/0.9
    elif len(parts) > 3 and parts[-1].startswith("HTTP/"):
        method, target, protocol = parts[0], " ".join(parts[1:-1]), parts[-1]
    if method is not None and not method.isalpha():
        method = target = protocol = None
    path = query = None
    if target is not None:
        path, mark, rest = target.partition("?")
        query = rest if mark else None
    return {"method": method, "target": target, "path": path, "query": query,
            "protocol": protocol}


def _web_normal(src: Any, user: Any, method: Any, url: Any, status: int | None,
                size: int | None, agent: Any) -> dict[str, Any]:
    failed = status is not None and status >= HTTP_FAILURE
    return {
        "category": "web",
        "src_ip": ip_or_none(src),
        "actor_user": text_of(user),
        "operation": text_of(method),
        "url": text_of(url),
        "outcome": None if status is None else ("failure" if failed else "success"),
        "error_code": str(status) if failed else None,
        "bytes": size,
        "user_agent": text_of(agent),
    }


# --------------------------------------------------------------------------- access logs


def parse_access_line(text: str) -> dict[str, Any] | None:
    """The fields of one NCSA common/combined line, or None when it is not one."""
    match = _ACCESS.match(text)
    rest = match.group("rest") if match else ""
    if match and rest and not _REFERER_AGENT.match(rest) and rest.count('"') % 2:
        match = None  # an unescaped quote inside the request: try the loose patterns
    if match is None:
        if len(text) > LOOSE_MAX_CHARS:
            return None
        match = _ACCESS_LOOSE_COMBINED.match(text) or _ACCESS_LOOSE.match(text)
        if match is None:
            return None
        rest = match.groupdict().get("rest") or ""
    request = unescape(match.group("request"))
    parts = split_request(request)
    status = match.group("status")
    size = match.group("bytes")
    data: dict[str, Any] = {}
    if match.group("vhost"):
        data["vhost"] = match.group("vhost")
    data.update({
        "remote_addr": match.group("remote_addr"),
        "ident": _absent(match.group("ident")),
        "user": _absent(unescape(match.group("user"))),
        "time_local": match.group("time"),
        "request": request,
        "method": parts["method"],
        "path": parts["path"],
        "query": parts["query"],
        "protocol": parts["protocol"],
        "status": None if status == "-" else int(status),
        "bytes": 0 if size == "-" else int_of(size),
        "referer": None,
        "user_agent": None,
    })
    _read_rest(rest, data)
    data.update({
        "c-ip": data["remote_addr"],
        "cs-username": data["user"],
        "cs-method": parts["method"],
        "cs-uri-stem": parts["path"],
        "cs-uri-query": parts["target"],
        "c-uri": parts["target"],
        "cs-version": parts["protocol"],
        "sc-status": data["status"],
        "sc-bytes": data["bytes"],
        "cs-referer": data["referer"],
        "cs-user-agent": data["user_agent"],
    })
    return data


def _read_rest(rest: str, data: dict[str, Any]) -> None:
    """Referer, user agent and whatever a custom format adds after them."""
    if not rest.strip():
        return
    match = _REFERER_AGENT.match(rest)
    if match:
        extra = match.group("extra")
    else:
        match = _REFERER_AGENT_LOOSE.match(rest)
        extra = ""
    if match:
        data["referer"] = _absent(unescape(match.group(1)))
        data["user_agent"] = _absent(unescape(match.group(2)))
    else:
        extra = rest
    extra = extra.strip()
    if not extra:
        return
    data["extra"] = extra
    fields: dict[str, str] = {}
    quoted_seen = False
    for token in _EXTRA_TOKEN.finditer(extra):
        key, value, quoted, bare = token.groups()
        if key is not None and len(fields) < 32:
            fields.setdefault(key, unescape(value[1:-1] if value.startswith('"') else value))
        elif quoted is not None and not quoted_seen:
            quoted_seen = True
            forwarded = unescape(quoted)
            if forwarded == "-" or _IP_LIST.match(forwarded):
                data["x_forwarded_for"] = _absent(forwarded)
        elif bare is not None and _FLOAT.match(bare) and "request_time" not in data:
            data["request_time"] = float(bare)
    if fields:
        data["extra_fields"] = fields


def access_record(number: int, text: str) -> Record | Rejected:
    data = parse_access_line(text)
    if data is None:
        return Rejected(number, "not an access-log line (common/combined format)", text)
    normal = _web_normal(data["remote_addr"], data["user"], data["method"], data["c-uri"],
                         data["status"], data["bytes"], data["user_agent"])
    return Record(position=number, data=data, raw=text, time=clf_time(data["time_local"]),
                  normal=_compact(normal))


def w3c_record(number: int, text: str, fields: list[str]) -> Record | Rejected:
    """One data line of a W3C extended log (IIS), given the ``#Fields:`` in force."""
    values = text.split()
    if len(values) != len(fields):
        return Rejected(number, f"W3C line has {len(values)} values, #Fields declares "
                                f"{len(fields)}", text)
    data: dict[str, Any] = {}
    for name, value in zip(fields, values, strict=True):
        if value == "-":
            data[name] = None
        elif name in W3C_INTEGER_FIELDS:
            number_value = int_of(value)
            data[name] = number_value if number_value is not None else value
        else:
            data[name] = value
    for name in fields:
        alias = W3C_ALIASES.get(name.lower())
        if alias and alias not in data:
            value = data[name]
            data[alias] = value.replace("+", " ") if isinstance(value, str) else value
    stem = text_of(data.get("cs-uri-stem"))
    query = text_of(data.get("cs-uri-query"))
    uri = text_of(data.get("cs-uri")) or (f"{stem}?{query}" if stem and query else stem)
    data.setdefault("c-uri", uri)
    status = int_of(data.get("sc-status"))
    normal = _web_normal(data.get("c-ip"), data.get("cs-username"), data.get("cs-method"), uri,
                         status, int_of(data.get("sc-bytes")), data.get("cs-user-agent"))
    normal.update({
        "dst_ip": ip_or_none(data.get("s-ip")),
        "dst_port": int_of(data.get("s-port")),
        "host": text_of(data.get("s-computername")),
    })
    return Record(position=number, data=data, raw=text, time=_w3c_time(data),
                  normal=_compact(normal))


def _w3c_time(data: dict[str, Any]) -> datetime | None:
    """W3C ``date`` and ``time`` are UTC (IIS always logs UTC in W3C format)."""
    date, clock = text_of(data.get("date")), text_of(data.get("time"))
    if not date or not clock:
        return None
    try:
        return datetime.fromisoformat(f"{date}T{clock}")
    except ValueError:
        return None


def _w3c_fields(line: str) -> list[str] | None:
    """The column names of a ``#Fields:`` directive, or None for other directives."""
    if not line.startswith("#Fields:"):
        return None
    return line[len("#Fields:"):].split()


def _compact(normal: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in normal.items() if value is not None}


@PARSERS.register("web_access")
class WebAccessParser(SourceParser):
    NAME: ClassVar[str] = "web_access"
    TITLE: ClassVar[str] = (
        "Web-server access logs: Apache/nginx common and combined formats (with nginx extras, "
        "vhost prefix, IPv6) and IIS W3C extended logs (#Fields:)"
    )
    EXAMPLE: ClassVar[str] = (
        '203.0.113.7 - - [01/Mar/2024:10:00:00 +0000] "GET /shell.php?cmd=id HTTP/1.1" 200 '
        '512 "-" "Mozilla/5.0 (X11; Linux x86_64)"'
    )

    @classmethod
    def sniff(cls, head: bytes, name: str) -> int:
        lines = head_lines(head, 20)
        if not lines:
            return 0
        directives = [line for line in lines if line.startswith("#")]
        for line in directives:
            fields = _w3c_fields(line)
            if fields is not None:
                return 90 if W3C_WEB_FIELDS & set(fields) else 0
        data = [line for line in lines if not line.startswith("#")]
        if not data:
            return 0
        hits = sum(1 for line in data if parse_access_line(line) is not None)
        bonus = 5 if "access" in name.lower() else 0
        if hits == len(data):
            return 85 + bonus
        if hits * 2 >= len(data):
            return 60 + bonus
        return 0

    def parse(self, stream: IO[bytes], ctx: ParseContext) -> Iterator[Record | Rejected]:
        w3c_fields: list[str] | None = None
        for number, line in iter_lines(stream):
            if line is None:
                yield too_long(number)
                continue
            text = decode(line)
            if text.startswith("#"):  # W3C directives (#Software, #Fields …) are not records
                fields = _w3c_fields(text)
                if fields is not None:
                    w3c_fields = fields
                continue
            if not line.strip():  # only ASCII whitespace makes a line blank
                continue
            if w3c_fields is not None:
                yield w3c_record(number, text, w3c_fields)
            else:
                yield access_record(number, text)


# --------------------------------------------------------------------------- error logs


def nginx_context(message: str) -> tuple[str, dict[str, str]]:
    """Split ``text, client: …, server: …, request: "…"`` into the text and the context.

    Quoted values run to the next ``, key: `` that follows a closing quote, so a request
    line holding ``, host: `` does not cut its value short. Linear in the line length.
    """
    start = message.find(", client: ")
    if start < 0:
        return message, {}
    markers = list(_NGINX_CONTEXT_KEY.finditer(message, start))
    context: dict[str, str] = {}
    index = 0
    while index < len(markers):
        marker = markers[index]
        value_start = marker.end()
        quoted = message.startswith('"', value_start)
        following = index + 1
        while quoted and following < len(markers):
            cut = markers[following].start()
            if cut - 1 > value_start and message[cut - 1] == '"':
                break
            following += 1
        value_end = markers[following].start() if following < len(markers) else len(message)
        value = message[value_start:value_end]
        if quoted and len(value) >= 2 and value.endswith('"'):
            value = value[1:-1]
        context.setdefault(marker.group(1), value)
        index = following
    return message[:start], context


def parse_nginx_error(text: str) -> dict[str, Any] | None:
    match = _NGINX_ERROR.match(text)
    if not match:
        return None
    message, context = nginx_context(match.group("message"))
    data: dict[str, Any] = {
        "software": "nginx",
        "time": f"{match.group('date')} {match.group('clock')}",
        "level": match.group("level"),
        "pid": int(match.group("pid")),
        "tid": int(match.group("tid")),
        "connection": int_of(match.group("connection")),
        "message": message,
    }
    data.update(context)
    return data


def parse_apache_error(text: str) -> dict[str, Any] | None:
    match = _APACHE_ERROR.match(text)
    if not match:
        return None
    level = match.group("level")
    if level not in ERROR_LEVELS and not level.startswith("trace"):
        return None
    message = match.group("message")
    client = match.group("client")
    client_ip, client_port = _split_host_port(client) if client else (None, None)
    code = _APACHE_CODE.search(message[:200])
    referer = _APACHE_REFERER.search(message)
    if referer:
        message = message[:referer.start()]
    return {
        "software": "apache",
        "time": match.group("time"),
        "module": match.group("module"),
        "level": level,
        "pid": int_of(match.group("pid")),
        "tid": int_of(match.group("tid")),
        "client": client_ip,
        "client_port": client_port,
        "remote": match.group("remote"),
        "error_code": code.group(1) if code else None,
        "message": message,
        "referer": referer.group(1) if referer else None,
    }


def _split_host_port(value: str) -> tuple[str, int | None]:
    """``1.2.3.4:5678`` / ``::1:5678`` / ``[::1]:5678`` → address and port."""
    host, _, port = value.rpartition(":")
    if host and port.isdigit():
        host = host.strip("[]")
        if ip_or_none(host):
            return host, int(port)
    return value, None


def _error_time(data: dict[str, Any]) -> datetime | None:
    text = data["time"]
    if data["software"] == "nginx":
        try:
            return datetime.strptime(text, "%Y/%m/%d %H:%M:%S")
        except ValueError:
            return None
    match = _APACHE_TIME.match(text)
    if not match:
        return None
    month_name, day, hour, minute, second, fraction, year = match.groups()
    month = MONTHS.get(month_name)
    if month is None:
        return None
    try:
        return datetime(int(year), month, int(day), int(hour), int(minute), int(second),
                        int((fraction or "0").ljust(6, "0")))
    except ValueError:
        return None


def error_record(number: int, text: str) -> Record | Rejected:
    data = parse_nginx_error(text) or parse_apache_error(text)
    if data is None:
        return Rejected(number, "not an nginx or Apache error-log line", text)
    client = data.get("client")
    src_ip, src_port = (client, data.get("client_port")) if client else (None, None)
    if data["software"] == "nginx" and isinstance(client, str):
        src_ip, src_port = _split_host_port(client)
    request = data.get("request")
    url = split_request(request)["target"] if isinstance(request, str) else None
    normal = {
        "category": "web",
        "operation": data["level"],
        "error_code": data.get("error_code"),
        "message": text_of(data["message"]),
        "src_ip": ip_or_none(src_ip),
        "src_port": src_port,
        "url": url,
        "process_pid": data.get("pid"),
        "log_name": data["software"],
    }
    return Record(position=number, data=data, raw=text, time=_error_time(data),
                  normal=_compact(normal))


@PARSERS.register("web_error")
class WebErrorParser(SourceParser):
    NAME: ClassVar[str] = "web_error"
    TITLE: ClassVar[str] = "Web-server error logs: nginx error.log and Apache 2.2/2.4 error_log"
    EXAMPLE: ClassVar[str] = (
        '2024/03/01 10:00:00 [error] 1234#0: *5 open() "/var/www/html/.env" failed '
        '(2: No such file or directory), client: 203.0.113.7, server: example.com, '
        'request: "GET /.env HTTP/1.1", host: "example.com"'
    )

    @classmethod
    def sniff(cls, head: bytes, name: str) -> int:
        lines = head_lines(head, 20)
        if not lines:
            return 0
        hits = sum(
            1 for line in lines
            if _NGINX_ERROR.match(line) or parse_apache_error(line) is not None
        )
        bonus = 5 if "error" in name.lower() else 0
        if hits == len(lines):
            return 85 + bonus
        if hits * 2 >= len(lines):  # Apache error logs may hold bare CGI stderr lines
            return 60 + bonus
        return 0

    def parse(self, stream: IO[bytes], ctx: ParseContext) -> Iterator[Record | Rejected]:
        for number, line in iter_lines(stream):
            if line is None:
                yield too_long(number)
                continue
            if line.strip():  # only ASCII whitespace makes a line blank
                yield error_record(number, decode(line))
