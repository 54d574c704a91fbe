"""`trace(connection)`: the case's alerts → ranked incidents (stored as table `incidents`)."""

from __future__ import annotations

import os
import time as clock
from collections import defaultdict
from dataclasses import dataclass, field

import duckdb
import numpy as np
import orjson
import pyarrow as pa

from trailguard.errors import CaseError
from trailguard.store.results import arrow_table
from trailguard.trace import singles
from trailguard.trace.advice import next_steps
from trailguard.trace.chain import (
    AlertInfo,
    Roles,
    assign_roles,
    build_steps,
    collect_entities,
    collect_indicators,
    find_entry_point,
    incident_id,
    score,
    severity_label,
)
from trailguard.trace.entities import build_alert_entities, build_alert_events, ip_scope
from trailguard.trace.evidence import CaseLookups
from trailguard.trace.group import Grouping, GroupingConfig, group_alerts
from trailguard.trace.hosts import HostNames, resolve
from trailguard.trace.model import (
    EntityRef,
    EvidenceRef,
    Impact,
    Incident,
    TraceResult,
)


@dataclass
class TraceConfig:
    grouping: GroupingConfig = field(default_factory=GroupingConfig)
    #: incidents (best ranked first) whose lateral movement, exfiltration, persistence,
    #: downtime and context are looked up in the whole case; the rest get chain and entities
    detail_limit: int = 500
    context_limit: int = 100  # context steps per incident
    #: DuckDB's memory budget while tracing (it spills beyond); TRAILGUARD_MEMORY_LIMIT wins
    memory_limit: str = "1GB"


@dataclass
class TraceRun:
    result: TraceResult
    seconds: dict[str, float]


def _alert_infos(connection: duckdb.DuckDBPyConnection, grouping: Grouping,
                 detailed: list[int], files: dict[int, str]) -> dict[int, AlertInfo]:
    """The detailed alerts as AlertInfo, by alert index."""
    connection.register("trace_wanted", pa.table({"idx": pa.array(detailed, pa.int64())}))
    try:
        table = arrow_table(connection.sql("""
            SELECT a.idx, a.alert_id, a.time, a.level, a.rule_id, a.rule_title, a.rule_author,
                   a.rule_path, a.rule_source, a.techniques, a.tactics, a.source_type, a.uid,
                   e.file_id, e.record, e.operation, e.src_ip, lower(e.host) AS host,
                   e.resource, e.process_cmdline, e.url, e.actor_access_key,
                   CASE WHEN e.source_type IN ('actiontrail', 'cloudtrail', 'k8s_audit')
                        THEN coalesce(e.cloud_account, '') || ':' || e.actor_user END
                       AS principal,
                   x.kinds, x.values
            FROM trace_wanted w
            JOIN trace_alerts a USING (idx)
            LEFT JOIN events e ON e.uid = a.uid
            LEFT JOIN (SELECT idx, list(kind ORDER BY kind, value) AS kinds,
                              list(value ORDER BY kind, value) AS values
                       FROM trace_entities WHERE idx IN (SELECT idx FROM trace_wanted)
                       GROUP BY idx) x ON x.idx = a.idx
            ORDER BY a.idx
        """))
    finally:
        connection.unregister("trace_wanted")
    columns = [table.column(name).to_pylist() for name in table.column_names]
    refs: dict[tuple[str, str], EntityRef] = {}

    def ref(kind: str, value: str) -> EntityRef:
        found = refs.get((kind, value))
        if found is None:
            found = refs[(kind, value)] = EntityRef(kind, value)
        return found

    infos: dict[int, AlertInfo] = {}
    for (idx, alert_id, when, level, rule_id, title, author, path, source, techniques, tactics,
         source_type, uid, file_id, record, operation, src_ip, host, resource, command, url,
         actor_key, principal, kinds, values) in zip(*columns, strict=True):
        actor = frozenset(
            ([ref("access_key", actor_key)] if actor_key else [])
            + ([ref("principal", principal)] if principal else []))
        infos[idx] = AlertInfo(
            idx=idx, alert_id=alert_id, time=when, level=level or "",
            rule={"id": rule_id or "", "title": title or "", "level": level or "",
                  "author": author or "", "path": path or "", "source": source or ""},
            techniques=list(techniques or ()), tactics=list(tactics or ()),
            evidence=EvidenceRef(source_type or "", files.get(file_id), record, uid or ""),
            operation=operation,
            entities=[ref(k, v) for k, v in zip(kinds or (), values or (), strict=True)],
            src_ip=src_ip, actor=actor, host=host, resource=resource, command=command,
            url=url)
    for info in infos.values():
        kind = grouping.link_kind[info.idx]
        peer = infos.get(int(grouping.link_peer[info.idx]))
        if kind is not None and peer is not None:
            when = "before" if peer.idx < info.idx else "after"
            info.link = (f"shares {kind.replace('_private', '')} {grouping.link_value[info.idx]} "
                         f"with '{peer.rule['title']}' {when}")
    return infos


def _entity_notes(names: HostNames) -> dict[EntityRef, str]:
    notes: dict[EntityRef, str] = {}
    for address, instance in names.ip_instance.items():
        host = names.host_of_instance(instance)
        notes[EntityRef("ip", address)] = f"private address of {host}"
    for instance, host in names.instance_host.items():
        notes[EntityRef("instance", instance)] = f"instance of host {host}"
    return notes


def trace(connection: duckdb.DuckDBPyConnection, config: TraceConfig | None = None
          ) -> TraceRun:
    config = config or TraceConfig()
    tables = {row[0] for row in connection.execute(
        "SELECT table_name FROM information_schema.tables").fetchall()}
    if "alerts" not in tables:
        raise CaseError("the case has no alerts yet: run `trailguard detect` first")
    previous = connection.execute("SELECT current_setting('memory_limit')").fetchall()[0]
    if not os.environ.get("TRAILGUARD_MEMORY_LIMIT"):
        connection.execute("SET memory_limit = ?", [config.memory_limit]).fetchall()
    try:
        return _trace(connection, config)
    finally:
        if previous:
            connection.execute("SET memory_limit = ?", [previous[0]]).fetchall()


def _trace(connection: duckdb.DuckDBPyConnection, config: TraceConfig) -> TraceRun:
    seconds: dict[str, float] = {}
    started = clock.perf_counter()

    def lap(name: str) -> None:
        seconds[name] = clock.perf_counter() - started - sum(seconds.values())

    count = build_alert_events(connection)
    build_alert_entities(connection)
    lap("entities")
    grouping = group_alerts(connection, count, config.grouping)
    singles.register_groups(connection, grouping.group_of)
    lap("grouping")
    names = resolve(connection)
    files = dict(connection.execute(
        "SELECT id, path || CASE WHEN member <> '' THEN '!' || member ELSE '' END FROM files"
    ).fetchall())
    detailed = singles.detailed_alerts(connection, config.detail_limit)
    infos = _alert_infos(connection, grouping, detailed, files)
    lap("read")
    lookups = CaseLookups(connection, files, names)
    hub_refs = {hub.ref for hub in grouping.hubs}
    share = singles.rule_share(connection)
    members: dict[int, list[AlertInfo]] = defaultdict(list)
    for info in infos.values():
        members[int(grouping.group_of[info.idx])].append(info)
    notes = _entity_notes(names)
    built = [_incident(group, hub_refs, share, notes, names) for group in members.values()]
    built.sort(key=lambda item: (-item[0].score, item[0].first or _EPOCH, item[0].id))
    for incident, alerts, roles in built[:config.detail_limit]:
        _enrich(incident, alerts, roles, lookups, config)
    lap("incidents")
    result = TraceResult(
        incidents=[incident for incident, _, _ in built], alerts=count, hubs=grouping.hubs,
        window_seconds=dict(config.grouping.windows),
        unlinked_alerts=int(connection.execute(
            "SELECT count(*) FROM trace_groups WHERE size = 1").fetchall()[0][0]))
    store(connection, result)
    result.summarised_incidents = singles.store_summarised(connection, detailed)
    singles.rank(connection)
    lap("store")
    seconds["total"] = sum(seconds.values())
    return TraceRun(result, seconds)


_EPOCH = np.datetime64(0, "s").astype(object)


def _incident(alerts: list[AlertInfo], hub_refs: set[EntityRef], rule_share: dict[str, float],
              notes: dict[EntityRef, str], names: HostNames
              ) -> tuple[Incident, list[AlertInfo], Roles]:
    alerts.sort(key=lambda a: (a.time is None, a.time or _EPOCH, a.idx))
    roles = assign_roles(alerts, hub_refs)
    steps = build_steps(alerts)
    tactics = list(dict.fromkeys(t for a in alerts for t in a.tactics))
    techniques = list(dict.fromkeys(t for a in alerts for t in a.techniques))
    total, parts = score(alerts, [t for a in alerts for t in a.tactics], rule_share)
    entities = collect_entities(alerts, roles, notes)
    times = [a.time for a in alerts if a.time is not None]
    entry = find_entry_point(steps, roles)
    instances = sorted({r.value for a in alerts for r in a.entities if r.kind == "instance"})
    hosts = sorted({r.value for a in alerts for r in a.entities if r.kind == "host"}
                   | {names.instance_host[i] for i in instances if i in names.instance_host})
    incident = Incident(
        id=incident_id([a.alert_id for a in alerts]), score=total,
        severity=severity_label(total), first=min(times) if times else None,
        last=max(times) if times else None, title="", alerts=len(alerts),
        alert_ids=[a.alert_id for a in alerts], entities=entities, chain=steps,
        entry_point=entry, lateral_movement=[], exfiltration=[], persistence=[],
        impact=Impact(instances=instances, hosts=hosts,
                      keys=sorted({r.value for a in alerts for r in a.entities
                                   if r.kind == "access_key"}),
                      buckets=sorted({r.value for a in alerts for r in a.entities
                                      if r.kind == "bucket"})),
        indicators=collect_indicators(steps, roles, {}), tactics=tactics,
        techniques=techniques, score_parts=parts)
    incident.title = _title(incident)
    return incident, alerts, roles


def _title(incident: Incident) -> str:
    where = ", ".join(incident.impact.hosts[:3]) or ", ".join(incident.impact.instances[:3])
    attacker = next((e.ref.value for e in incident.entities
                     if e.role == "attacker" and e.ref.kind == "ip"), "")
    path = " → ".join(incident.tactics[:1] + incident.tactics[-1:]) if len(
        incident.tactics) > 1 else "".join(incident.tactics[:1])
    parts = [part for part in (where, f"from {attacker}" if attacker else "", path) if part]
    return "; ".join(parts) or (incident.chain[0].rule.get("title", "") if incident.chain else "")


def _enrich(incident: Incident, alerts: list[AlertInfo], roles: Roles, lookups: CaseLookups,
            config: TraceConfig) -> None:
    incident.lateral_movement = lookups.hops(alerts, roles)
    incident.exfiltration = lookups.exfiltration(alerts, roles)
    incident.persistence = lookups.persistence(alerts, roles)
    instances = set(incident.impact.instances)
    incident.impact.downtime = lookups.downtime(roles, instances)
    incident.impact.data_bytes = incident.exfiltrated_bytes
    incident.impact.hosts = sorted(set(incident.impact.hosts) | {
        hop.target for hop in incident.lateral_movement})
    context, total = lookups.context_steps(alerts, roles, config.context_limit)
    tree, in_tree = lookups.tree_steps(alerts, config.context_limit)
    context, total = context + tree, total + in_tree
    if context:
        incident.chain = sorted(incident.chain + context,
                                key=lambda s: (s.time is None, s.time or _EPOCH, s.context))
        incident.context_events = total
    contacts = lookups.process_contacts(alerts)
    if contacts:
        for address in contacts:
            if ip_scope(address) == "public":
                roles.attacker_ips.add(address)
    incident.indicators = collect_indicators(incident.chain, roles, contacts)
    incident.next_steps = next_steps(incident)


INCIDENTS_DDL = """
CREATE TABLE incidents (
    id VARCHAR PRIMARY KEY, rank INTEGER, score DOUBLE, severity VARCHAR,
    first TIMESTAMP, last TIMESTAMP, alerts BIGINT, title VARCHAR, document VARCHAR
)
"""


def store(connection: duckdb.DuckDBPyConnection, result: TraceResult) -> None:
    """Replace the case's incidents (a trace run recomputes all of them); the alert →
    incident membership goes to `incident_alerts`."""
    connection.execute("DROP TABLE IF EXISTS incidents")
    connection.execute("DROP TABLE IF EXISTS incident_alerts")
    connection.execute(INCIDENTS_DDL)
    connection.execute("CREATE TABLE incident_alerts (incident VARCHAR, alert_id VARCHAR)")
    if not result.incidents:
        return
    table = pa.table({
        "id": [i.id for i in result.incidents],
        "rank": pa.array([None] * len(result.incidents), pa.int32()),
        "score": [i.score for i in result.incidents],
        "severity": [i.severity for i in result.incidents],
        "first": pa.array([i.first for i in result.incidents], pa.timestamp("us")),
        "last": pa.array([i.last for i in result.incidents], pa.timestamp("us")),
        "alerts": [i.alerts for i in result.incidents],
        "title": [i.title for i in result.incidents],
        "document": [orjson.dumps(i.to_json()).decode() for i in result.incidents],
    })
    membership = pa.table({
        "incident": [i.id for i in result.incidents for _ in i.alert_ids],
        "alert_id": [a for i in result.incidents for a in i.alert_ids],
    })
    connection.register("new_incidents", table)
    connection.register("new_incident_alerts", membership)
    try:
        connection.execute("INSERT INTO incidents SELECT * FROM new_incidents")
        connection.execute("INSERT INTO incident_alerts SELECT * FROM new_incident_alerts")
    finally:
        connection.unregister("new_incidents")
        connection.unregister("new_incident_alerts")
