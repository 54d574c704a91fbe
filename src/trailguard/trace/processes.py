"""Process trees from Sysmon GUIDs: the attacker's tree is one entity, and what else ran in it.

A process's *root* is its topmost ancestor below the processes that start everything (the
desktop shell, services, svchost, init, sshd, cron …): the payload a user opened, the service
an attacker installed. Alerts on processes of one tree share the root and link through it (as
"process"), however far apart in the tree they are; the unalerted processes of an incident's
trees join its chain as context.
"""

from __future__ import annotations

import duckdb

# Processes that start everything: walking up a process tree stops below them.
SYSTEM_PROCESSES = ("\\explorer.exe", "\\services.exe", "\\svchost.exe", "\\wininit.exe",
                    "\\winlogon.exe", "\\smss.exe", "\\csrss.exe", "\\userinit.exe",
                    "\\lsass.exe", "\\system", "/systemd", "/init", "/sshd", "/cron")
MAX_DEPTH = 8

_PARENTS = """
    SELECT DISTINCT process_guid AS guid, parent_guid, lower(parent_name) AS parent_name
    FROM events WHERE process_guid IS NOT NULL AND parent_guid IS NOT NULL
      AND process_guid <> parent_guid
"""


def _is_system(column: str) -> str:
    return ("list_bool_or([ends_with(coalesce(" + column + ", ''), s) "
            "FOR s IN $system])")


def build_process_roots(connection: duckdb.DuckDBPyConnection) -> None:
    """Temp table `trace_process_roots(start, root)` for the GUIDs of the alerts' processes."""
    connection.execute(f"""
        CREATE OR REPLACE TEMP TABLE trace_process_roots AS
        WITH RECURSIVE parents AS ({_PARENTS}),
        walk(start, guid, depth) AS (
            SELECT DISTINCT process_guid, process_guid, 0 FROM trace_alert_events
            WHERE process_guid IS NOT NULL
            UNION ALL
            SELECT w.start, p.parent_guid, w.depth + 1
            FROM walk w JOIN parents p ON p.guid = w.guid
            WHERE w.depth < {MAX_DEPTH} AND NOT {_is_system("p.parent_name")}
        )
        SELECT start, arg_max(guid, depth) AS root FROM walk GROUP BY start
    """, {"system": list(SYSTEM_PROCESSES)})


def descendants_sql() -> str:
    """SQL (parameters `$roots`, `$system`) for every GUID in the trees under `$roots`."""
    return f"""
        WITH RECURSIVE parents AS ({_PARENTS}),
        tree(guid, depth) AS (
            SELECT unnest($roots::VARCHAR[]), 0
            UNION
            SELECT p.guid, t.depth + 1 FROM tree t JOIN parents p ON p.parent_guid = t.guid
            WHERE t.depth < {MAX_DEPTH}
        )
        SELECT DISTINCT guid FROM tree
    """
