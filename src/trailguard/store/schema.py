"""Table layout of the case store.

* ``ev_<source_type>``: one table per source type. System columns (below) plus one VARCHAR
  column per native field, named by its full dotted path (``userIdentity.type``). Columns are
  added as new fields appear.
* ``events``: the normalised view, one row per stored event of any source, OCSF-aligned, linked
  to its native row by ``uid``. Later stages join sources through it.
* ``files``: every evidence file and archive member read, with SHA-256, size and counts.
* ``quarantine``: every record that could not be parsed, with its file, position and reason.
"""

from __future__ import annotations

#: System columns of every ``ev_<source_type>`` table, in order, with their DuckDB types.
SYSTEM_COLUMNS: dict[str, str] = {
    "_uid": "VARCHAR",  # stable event id: natural key hash, or file-and-position hash
    "_file": "INTEGER",  # files.id of the evidence file (or archive member)
    "_record": "BIGINT",  # record number or line number inside that file
    "_time": "TIMESTAMP",  # event time, UTC
    "_raw": "VARCHAR",  # the raw record as read
    "_overflow": "VARCHAR",  # JSON of fields beyond the column limit (rarely used)
}

#: The normalised (OCSF-aligned) columns of the ``events`` table that parsers fill through
#: ``Record.normal``. Parsers fill what their format has and leave the rest out.
NORMAL_COLUMNS: dict[str, str] = {
    "operation": "VARCHAR",  # event/API/operation name: ConsoleLogin, execve, 4624, GET …
    "category": "VARCHAR",  # coarse kind: authentication, process, network, api, file, web …
    "outcome": "VARCHAR",  # success | failure | unknown
    "error_code": "VARCHAR",  # provider error code or HTTP status on failure
    "actor_principal": "VARCHAR",  # principal id / ARN / uid
    "actor_user": "VARCHAR",  # user name
    "actor_type": "VARCHAR",  # root-account, ram-user, IAMUser, AssumedRole …
    "actor_access_key": "VARCHAR",  # cloud access key id
    "actor_session": "VARCHAR",  # login session / audit session / STS session
    "user_agent": "VARCHAR",
    "src_ip": "VARCHAR",
    "src_port": "INTEGER",
    "dst_ip": "VARCHAR",
    "dst_port": "INTEGER",
    "protocol": "VARCHAR",  # tcp, udp, icmp … (lower case) or the IANA number as text
    "direction": "VARCHAR",  # in | out (flows)
    "bytes": "BIGINT",  # bytes transferred (flows, web responses, object reads)
    "packets": "BIGINT",
    "host": "VARCHAR",  # host name / computer
    "instance_id": "VARCHAR",  # cloud instance id (i-…)
    "process_pid": "BIGINT",
    "process_name": "VARCHAR",  # image path or executable
    "process_cmdline": "VARCHAR",
    "process_guid": "VARCHAR",
    "process_user": "VARCHAR",
    "parent_pid": "BIGINT",
    "parent_name": "VARCHAR",
    "parent_cmdline": "VARCHAR",
    "parent_guid": "VARCHAR",
    "file_path": "VARCHAR",
    "url": "VARCHAR",  # web request path/URL, DNS query
    "resource": "VARCHAR",  # the main resource acted on (bucket, instance, pod, key …)
    "cloud_account": "VARCHAR",
    "cloud_region": "VARCHAR",
    "cloud_service": "VARCHAR",  # the cloud API: ecs.aliyuncs.com, iam.amazonaws.com …
    "log_name": "VARCHAR",  # a host log's own stream: Windows channel, syslog program, server
    "message": "VARCHAR",  # human-readable message line, when the format has one
}

#: Columns of ``events`` before the normalised ones.
EVENT_KEY_COLUMNS: dict[str, str] = {
    "uid": "VARCHAR",
    "source_type": "VARCHAR",
    "file_id": "INTEGER",
    "record": "BIGINT",
    "time": "TIMESTAMP",
}

INTEGER_COLUMNS = frozenset(
    name for name, kind in NORMAL_COLUMNS.items() if kind in ("INTEGER", "BIGINT")
)

#: Native columns per source table beyond which fields go to ``_overflow`` (hostile input
#: with endless distinct keys must not make a table with a million columns).
MAX_NATIVE_COLUMNS = 4000
#: Longest native field name kept as its own column.
MAX_COLUMN_NAME = 256


def table_for(source_type: str) -> str:
    """Name of the native table of a source type."""
    return f"ev_{source_type}"
