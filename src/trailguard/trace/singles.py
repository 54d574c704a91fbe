"""Single-alert incidents in bulk, inside DuckDB.

Most groups of a large case are one alert that shares nothing with any other. Building a
Python incident for each would make a million alerts take minutes, so they are scored and
written as incidents by SQL alone; only the best `detail_limit` of them (by score) get the full
treatment with the multi-alert incidents. The score and the document are the same as the
Python ones (`chain.score`, `Incident.to_json`) for one alert; the document says
``"summarised": true``, lists the main entities of its event and leaves out what needs the
whole case (hops, exfiltration, persistence, context), which a single alert's incident is
traced for only when detailed; it is rendered from the case's tables when read
(`documents`), not stored.
"""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import numpy as np
import pyarrow as pa

from trailguard.trace.chain import LEVEL_WEIGHT

_WEIGHT = " ".join(f"WHEN '{level}' THEN {weight}" for level, weight in LEVEL_WEIGHT.items())
_ISO = ("CASE WHEN {col} IS NULL THEN NULL WHEN microsecond({col}) = 0 "
        "THEN strftime({col}, '%Y-%m-%dT%H:%M:%SZ') "
        "ELSE strftime({col}, '%Y-%m-%dT%H:%M:%S.%fZ') END")
# chain.score for one alert: severity 40, tactic coverage 30, rarity 20, volume 10 (log10 2 / 3)
SCORE_SQL = (f"least(100.0, 4.0 * (CASE a.level {_WEIGHT} ELSE 1.0 END)"
             " + 30.0 * least(1.0, len(list_distinct(coalesce(a.tactics, []))) / 6.0)"
             " + 20.0 * (1.0 - r.share) + 10.0 * least(1.0, log10(2) / 3.0))")
SEVERITY_SQL = ("CASE WHEN s.score >= 80 THEN 'critical' WHEN s.score >= 60 THEN 'high' "
                "WHEN s.score >= 40 THEN 'medium' WHEN s.score >= 20 THEN 'low' "
                "ELSE 'informational' END")
# chain.incident_id for one alert
ID_SQL = "'INC-' || substr(md5(a.alert_id || chr(0)), 1, 12)"


def register_groups(connection: duckdb.DuckDBPyConnection, group_of: np.ndarray) -> None:
    """Temp tables `trace_groups(idx, grp, size)` and `trace_rule_share(rule_id, share)`."""
    table = pa.table({"idx": np.arange(len(group_of), dtype=np.int64), "grp": group_of})
    connection.register("trace_group_array", table)
    try:
        connection.execute("""
            CREATE OR REPLACE TEMP TABLE trace_groups AS
            SELECT idx, grp, count(*) OVER (PARTITION BY grp) AS size FROM trace_group_array
        """)
    finally:
        connection.unregister("trace_group_array")
    connection.execute("""
        CREATE OR REPLACE TEMP TABLE trace_rule_share AS
        SELECT rule_id, count(*) / (SELECT greatest(count(*), 1) FROM trace_alerts) AS share
        FROM trace_alerts GROUP BY rule_id
    """)
    connection.execute(f"""
        CREATE OR REPLACE TEMP TABLE trace_singles AS
        SELECT a.idx, {SCORE_SQL} AS score
        FROM trace_alerts a JOIN trace_groups g USING (idx) JOIN trace_rule_share r USING (rule_id)
        WHERE g.size = 1
    """)


def rule_share(connection: duckdb.DuckDBPyConnection) -> dict[str, float]:
    return {rule: float(share) for rule, share in
            connection.execute("SELECT rule_id, share FROM trace_rule_share").fetchall()}


def detailed_alerts(connection: duckdb.DuckDBPyConnection, detail_limit: int) -> list[int]:
    """Alert indexes that get Python incidents: every alert of a multi-alert group, and the
    single alerts of the `detail_limit` best-scored single-alert groups."""
    rows = connection.execute("""
        SELECT idx FROM trace_groups WHERE size > 1
        UNION ALL
        SELECT idx FROM (
            SELECT s.idx FROM trace_singles s JOIN trace_alerts a USING (idx)
            ORDER BY s.score DESC, a.time NULLS LAST, a.alert_id LIMIT ?)
    """, [detail_limit]).fetchall()
    return sorted(row[0] for row in rows)


def store_summarised(connection: duckdb.DuckDBPyConnection, detailed: list[int]) -> int:
    """Insert the single-alert incidents not detailed into `incidents` and `incident_alerts`
    (their documents are rendered when read: `documents`); returns how many."""
    connection.register("trace_detailed", pa.table({"idx": pa.array(detailed, pa.int64())}))
    try:
        connection.execute(f"""
            CREATE OR REPLACE TEMP TABLE trace_summarised AS
            SELECT {ID_SQL} AS id, s.score, a.time, a.rule_title, a.alert_id
            FROM trace_singles s JOIN trace_alerts a USING (idx)
            WHERE s.idx NOT IN (SELECT idx FROM trace_detailed)
        """)
    finally:
        connection.unregister("trace_detailed")
    connection.execute(f"""
        INSERT INTO incidents (id, rank, score, severity, first, last, alerts, title, document)
        SELECT id, NULL, score, {SEVERITY_SQL}, time, time, 1, rule_title, NULL
        FROM trace_summarised s
    """)
    connection.execute("INSERT INTO incident_alerts SELECT id, alert_id FROM trace_summarised")
    count = connection.execute("SELECT count(*) FROM trace_summarised").fetchall()[0][0]
    connection.execute("DROP TABLE trace_summarised")
    return int(count)


_TIME_ISO = _ISO.format(col="a.time")
# The main entities of the alert's event, read from its normalised columns (a summarised
# incident's chain is one alert: these are what a responder filters on).
_ENTITY_COLUMNS = (
    ("ip", "e.src_ip"), ("ip", "e.dst_ip"), ("access_key", "e.actor_access_key"),
    ("principal", "CASE WHEN e.source_type IN ('actiontrail', 'cloudtrail', 'k8s_audit') "
                  "THEN coalesce(e.cloud_account, '') || ':' || e.actor_user END"),
    ("user", "CASE WHEN e.source_type NOT IN ('actiontrail', 'cloudtrail', 'k8s_audit') "
             "THEN coalesce(lower(e.host), e.instance_id, '?') || '/' || e.actor_user END"),
    ("host", "lower(e.host)"), ("instance", "e.instance_id"),
)
_ENTITIES = "[x FOR x IN [" + ", ".join(
    f"json_object('kind', '{kind}', 'value', {column}, 'role', 'unknown', "
    f"'first', {_TIME_ISO}, 'last', {_TIME_ISO}, 'alerts', 1, 'note', '')"
    for kind, column in _ENTITY_COLUMNS) + "] IF x->>'value' IS NOT NULL AND x->>'value' <> '']"
#: The document of a summarised incident, from the case's persistent tables (`incidents` i,
#: its one alert a, the alert's event e and evidence file f).
SUMMARISED_DOCUMENT = f"""json_object(
    'id', i.id, 'title', i.title, 'score', round(i.score, 1), 'severity', i.severity,
    'summarised', true, 'first', {_TIME_ISO}, 'last', {_TIME_ISO}, 'alerts', 1,
    'alert_ids', [a.alert_id], 'tactics', coalesce(a.tactics, []),
    'techniques', coalesce(a.techniques, []), 'entities', {_ENTITIES},
    'chain', [json_object(
        'time', {_TIME_ISO}, 'last', {_TIME_ISO}, 'tactic', coalesce(a.tactics[1], ''),
        'technique', coalesce(a.techniques[1], ''),
        'rule', json_object('id', a.rule_id, 'title', a.rule_title, 'level', a.level,
                            'author', a.rule_author, 'path', a.rule_path,
                            'source', a.rule_source),
        'evidence', json_object('source_type', a.source_type, 'file', f.path,
                                'record', e.record, 'id', a.uid),
        'alerts', 1, 'tactics', coalesce(a.tactics, []))],
    'context_events', 0, 'entry_point', NULL, 'lateral_movement', [], 'hop_count', 0,
    'exfiltration', [], 'exfiltrated_bytes', 0, 'persistence', [], 'indicators', [],
    'next_steps', [],
    'impact', json_object('instances', [], 'hosts', [], 'keys', [], 'buckets', [],
                          'accounts', [], 'downtime', [], 'data_bytes', 0)
)::VARCHAR"""


def rank(connection: duckdb.DuckDBPyConnection) -> None:
    """Number every incident by score (then first time, then id), 1 = most serious."""
    connection.execute("""
        UPDATE incidents SET rank = ranked.position
        FROM (SELECT id, row_number() OVER (ORDER BY score DESC, first NULLS LAST, id)
                  AS position FROM incidents) ranked
        WHERE incidents.id = ranked.id
    """)


def documents(connection: duckdb.DuckDBPyConnection, batch: int = 4096) -> Iterator[str]:
    """Every incident's JSON document in rank order, streamed (for incidents.json)."""
    cursor = connection.execute(f"""
        WITH files AS (
            SELECT id, path || CASE WHEN member <> '' THEN '!' || member ELSE '' END AS path
            FROM files
        )
        SELECT coalesce(i.document, {SUMMARISED_DOCUMENT})
        FROM incidents i
        LEFT JOIN incident_alerts ia ON i.document IS NULL AND ia.incident = i.id
        LEFT JOIN alerts a ON a.alert_id = ia.alert_id
        LEFT JOIN events e ON e.uid = a.uid
        LEFT JOIN files f ON f.id = e.file_id
        ORDER BY i.rank
    """)
    while True:
        rows = cursor.fetchmany(batch)
        if not rows:
            return
        for (document,) in rows:
            yield document
