"""Entities of alerts: who, from where, on what, with what.

Every alert is exploded into (alert, time, kind, value) rows — the table the grouping links
through. The extraction is data: a list of `Extraction` (a kind and a SQL expression over the
normalised `events` columns of the alert's events), a list of IOC patterns read out of command
lines and URLs, and a list of native fields that carry an entity only some sources have (the
InvokeId of a Cloud Assistant call, the key an API call created). Everything runs inside
DuckDB, so a million alerts take seconds.

Host-scoped entities (a local user, a login session, a process by pid, a file) are prefixed by
their host (``web-01/sysbackup``) so that `root` on two machines is two entities. Cloud
principals are prefixed by their account.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import lru_cache

import duckdb
from sqlglot import exp

from trailguard.store.schema import table_for
from trailguard.trace.processes import build_process_roots

#: Sources whose actor is a cloud principal (account-scoped), not a local account.
CLOUD_SOURCES = ("actiontrail", "cloudtrail", "k8s_audit")


@dataclass(frozen=True)
class Extraction:
    kind: str
    value: str  # DuckDB SQL over the columns of `trace_alert_events` (no data in it)
    where: str = "TRUE"
    unnest: bool = False  # value is a list
    # links only within one scope: a cloud identity is linked per source address, so a
    # stolen key used from the attacker's server does not glue to its owner's daily work
    scope: str = "''"


_FROM = "coalesce(src_ip, '')"


_HOST = "coalesce(lower(host), instance_id, '?')"
_CLOUD = "source_type IN ('actiontrail', 'cloudtrail', 'k8s_audit')"
_BLANK = ("'', '-', '0.0.0.0', '::', '127.0.0.1', '::1', 'localhost', 'unknown', 'n/a', "
          "'(null)', 'null', 'none'")
# IPv4 addresses, URLs' hosts, cloud access keys and Cloud Assistant invocations named in
# command lines and URLs (attackers' tools are launched with their infrastructure in the text).
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = rf"(?:^|[^0-9.])({_OCTET}(?:\.{_OCTET}){{3}})(?:$|[^0-9.])"
_URL_HOST = r"(?i)[a-z][a-z0-9+.-]*://(?:[^/@\s\x22\x27]*@)?([a-z0-9][a-z0-9.-]*[a-z0-9])"
_KEY = r"\b((?:LTAI|AKIA|ASIA)[0-9A-Za-z]{12,30})\b"
_INVOKE = r"aliyun-assist/work/script/(t-[0-9a-z]+)"
_INSTANCE = r"\b(i-[0-9a-z]{8,24})\b"
# Cloud metadata services and loopback: every instance talks to them, they link nothing.
_SERVICE_ADDRESSES = "'100.100.100.200', '169.254.169.254', '127.0.0.1', '0.0.0.0', '::1'"
_TEXT = "concat_ws(' ', process_cmdline, parent_cmdline, url)"

EXTRACTIONS: tuple[Extraction, ...] = (
    Extraction("ip", "src_ip", f"src_ip IS NOT NULL AND lower(src_ip) NOT IN ({_BLANK})"),
    Extraction("ip", "dst_ip", f"dst_ip IS NOT NULL AND lower(dst_ip) NOT IN ({_BLANK})"),
    Extraction("ip", f"regexp_extract_all({_TEXT}, '{_IPV4}', 1)", unnest=True),
    Extraction("domain", f"regexp_extract_all(lower({_TEXT}), '{_URL_HOST}', 1)",
               unnest=True),
    Extraction("access_key", "actor_access_key",
               f"actor_access_key IS NOT NULL AND actor_access_key NOT IN ({_BLANK})",
               scope=_FROM),
    Extraction("access_key", f"regexp_extract_all({_TEXT}, '{_KEY}', 1)", unnest=True),
    Extraction("principal", "coalesce(cloud_account, '') || ':' || actor_user",
               f"{_CLOUD} AND actor_user IS NOT NULL AND actor_user <> ''", scope=_FROM),
    Extraction("session", "coalesce(cloud_account, '') || ':' || actor_session",
               f"{_CLOUD} AND actor_session IS NOT NULL AND actor_session <> ''", scope=_FROM),
    Extraction("user", f"{_HOST} || '/' || actor_user",
               f"NOT {_CLOUD} AND actor_user IS NOT NULL AND lower(actor_user) NOT IN ({_BLANK})"),
    Extraction("session", f"{_HOST} || '/' || actor_session",
               f"NOT {_CLOUD} AND actor_session IS NOT NULL "
               "AND actor_session NOT IN "
               "('', '-', '4294967295', '0x0', '0x3e7', '0x3e4', '0x3e5')"),
    Extraction("host", "lower(host)", "host IS NOT NULL AND host NOT IN ('', '-')"),
    Extraction("instance",
               f"regexp_extract_all(concat_ws(' ', instance_id, resource), '{_INSTANCE}', 1)",
               unnest=True),
    Extraction("process", f"coalesce(process_guid, {_HOST} || '/' || process_pid)",
               "process_guid IS NOT NULL OR process_pid IS NOT NULL"),
    Extraction("process", f"coalesce(parent_guid, {_HOST} || '/' || parent_pid)",
               "(parent_guid IS NOT NULL OR parent_pid IS NOT NULL) "
               "AND coalesce(parent_pid, -1) NOT IN (0, 1, 4)"),
    Extraction("file", f"{_HOST} || ':' || file_path",
               "file_path IS NOT NULL AND file_path <> '' "
               "AND file_path IS DISTINCT FROM process_name"),
    Extraction("bucket", "split_part(resource, '/', 1)",
               "(cloud_service ILIKE 'oss%' OR cloud_service ILIKE 's3%') "
               "AND resource IS NOT NULL AND resource NOT LIKE '[%'"),
    Extraction("security_group", "resource", "resource LIKE 'sg-%'"),
    Extraction("pod", "resource",
               "source_type = 'k8s_audit' AND resource IS NOT NULL "
               "AND regexp_matches(operation, ' pods(/|$)')"),
    Extraction("user_agent", "user_agent",
               "user_agent IS NOT NULL AND length(user_agent) > 8 AND " + _CLOUD),
    Extraction("invocation", f"regexp_extract_all({_TEXT}, '{_INVOKE}', 1)", unnest=True),
)


@dataclass(frozen=True)
class NativeEntity:
    """A native field of one source that names an entity (response elements, mostly)."""

    source_type: str
    column: str
    kind: str
    scope: str = ""  # "account": prefix the cloud account, as principals are


NATIVE_ENTITIES: tuple[NativeEntity, ...] = (
    NativeEntity("actiontrail", "responseElements.InvokeId", "invocation"),
    NativeEntity("actiontrail", "requestParameters.InvokeId", "invocation"),
    NativeEntity("actiontrail", "responseElements.AccessKey.AccessKeyId", "access_key"),
    NativeEntity("actiontrail", "requestParameters.UserAccessKeyId", "access_key"),
    NativeEntity("actiontrail", "requestParameters.UserName", "principal", "account"),
    NativeEntity("cloudtrail", "responseElements.accessKey.accessKeyId", "access_key"),
    NativeEntity("cloudtrail", "requestParameters.accessKeyId", "access_key"),
    NativeEntity("cloudtrail", "requestParameters.userName", "principal", "account"),
    NativeEntity("cloudtrail", "responseElements.command.commandId", "invocation"),
    NativeEntity("cloudtrail", "requestParameters.bucketName", "bucket"),
)


#: The normalised columns of `events` the extraction reads.
EVENT_COLUMNS = (
    "source_type", "time", "host", "instance_id", "actor_principal", "actor_user",
    "actor_type", "actor_access_key", "actor_session", "user_agent", "src_ip", "dst_ip",
    "process_pid", "process_guid", "process_name", "process_cmdline", "parent_pid",
    "parent_guid", "parent_cmdline", "file_path", "url", "resource", "cloud_account",
    "cloud_service", "operation", "bytes", "direction",
)


def build_alert_events(connection: duckdb.DuckDBPyConnection) -> int:
    """Create temp table `trace_alert_events`: one row per (alert, event of the alert), with
    the alert's index (`idx`, dense from 0 in time order) and the event's normalised columns.
    Returns the number of alerts."""
    columns = ", ".join(f"e.{name}" for name in EVENT_COLUMNS)
    connection.execute("""
        CREATE OR REPLACE TEMP TABLE trace_alerts AS
        SELECT (row_number() OVER (ORDER BY time NULLS LAST, alert_id) - 1)::BIGINT AS idx, *
        FROM alerts
    """)
    columns = ", ".join(f"e.{name}" for name in EVENT_COLUMNS if name not in (
        "time", "parent_cmdline"))
    # Every entity of an alert counts at the alert's time (a correlation's members can span
    # days; linking them at each member's time would glue whatever happened near any of
    # them). A host process's parent command line, when the event lacks it, is the command
    # line of the last process with that pid on that host (an ASOF join): how a process
    # started by a remote-command agent is tied to the invocation that started it.
    connection.execute(f"""
        CREATE OR REPLACE TEMP TABLE trace_alert_events AS
        WITH refs AS (
            SELECT idx, time AS alert_time, uid AS event_uid FROM trace_alerts
            WHERE uid IS NOT NULL
            UNION
            SELECT idx, time AS alert_time, unnest(members) AS event_uid FROM trace_alerts
            WHERE members IS NOT NULL AND len(members) > 0
        ),
        joined AS (
            SELECT r.idx, r.event_uid, coalesce(r.alert_time, e.time) AS time,
                   e.time AS event_time, e.parent_cmdline AS own_parent_cmdline, {columns}
            FROM refs r JOIN events e ON e.uid = r.event_uid
        ),
        processes AS (
            SELECT lower(host) AS p_host, process_pid AS p_pid, time AS p_time,
                   process_cmdline AS p_cmdline
            FROM events
            WHERE process_pid IS NOT NULL AND process_cmdline IS NOT NULL AND host IS NOT NULL
              AND lower(host) IN (SELECT DISTINCT lower(host) FROM joined)
        )
        SELECT j.* EXCLUDE (own_parent_cmdline, event_time),
               coalesce(j.own_parent_cmdline, p.p_cmdline) AS parent_cmdline
        FROM joined j ASOF LEFT JOIN processes p
          ON lower(j.host) = p.p_host AND j.parent_pid = p.p_pid AND j.event_time >= p.p_time
    """)
    return int(connection.execute("SELECT count(*) FROM trace_alerts").fetchall()[0][0])


def _select(extraction: Extraction) -> str:
    value = f"unnest({extraction.value})" if extraction.unnest else extraction.value
    return (f"SELECT idx, time, '{extraction.kind}' AS kind, {value} AS value, "
            f"{extraction.scope} AS scope FROM trace_alert_events WHERE {extraction.where}")


def _native_selects(connection: duckdb.DuckDBPyConnection) -> list[str]:
    present = {
        (table, column) for table, column in connection.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_name LIKE 'ev\\_%' ESCAPE '\\'").fetchall()
    }
    selects = []
    for native in NATIVE_ENTITIES:
        table = table_for(native.source_type)
        if (table, native.column) not in present:
            continue
        column = exp.column(native.column, table="n", quoted=True).sql("duckdb")
        value = (f"coalesce(a.cloud_account, '') || ':' || {column}"
                 if native.scope == "account" else column)
        scope = "coalesce(a.src_ip, '')" if native.kind in ("access_key", "principal") else "''"
        selects.append(
            f"SELECT a.idx, a.time, '{native.kind}' AS kind, {value} AS value, {scope} AS scope "
            f"FROM trace_alert_events a JOIN {exp.to_identifier(table, quoted=True).sql()} n "
            f"ON n._uid = a.event_uid WHERE {column} IS NOT NULL AND {column} <> ''")
    return selects


def build_alert_entities(connection: duckdb.DuckDBPyConnection) -> None:
    """Create temp table `trace_entities(idx, time, kind, value, scope)`, distinct rows."""
    build_process_roots(connection)
    selects = [_select(extraction) for extraction in EXTRACTIONS]
    selects.extend(_native_selects(connection))
    # the root of the alert's process tree (processes.py) links the whole tree
    selects.append("SELECT a.idx, a.time, 'process' AS kind, r.root AS value, '' AS scope "
                   "FROM trace_alert_events a JOIN trace_process_roots r "
                   "ON r.start = a.process_guid WHERE r.root <> r.start")
    union = "\nUNION ALL\n".join(selects)
    connection.execute(f"""
        CREATE OR REPLACE TEMP TABLE trace_entities AS
        SELECT DISTINCT idx, time, kind, value, scope FROM ({union})
        WHERE value IS NOT NULL AND value <> '' AND length(value) <= 2048
          AND NOT (kind = 'ip' AND value IN ({_SERVICE_ADDRESSES}))
          AND NOT (kind = 'domain' AND regexp_matches(value, '^[0-9.]+$'))
    """)


@lru_cache(maxsize=65536)
def ip_scope(value: str) -> str:
    """'public', 'private' (RFC 1918, CGNAT, link-local, ULA…) or 'invalid'."""
    try:
        address = ipaddress.ip_address(value.strip("[]").split("%")[0])
    except ValueError:
        return "invalid"
    if address.is_global:
        return "public"
    # RFC 5737 / 3849 documentation ranges stand for public addresses in examples and tests.
    if isinstance(address, ipaddress.IPv4Address) and any(
            address in network for network in _DOCUMENTATION_V4):
        return "public"
    return "private"


_DOCUMENTATION_V4 = tuple(ipaddress.ip_network(net) for net in (
    "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"))
