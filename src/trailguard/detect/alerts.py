"""Alerts: stored in the case (table `alerts`) and written as JSON Lines, one alert per line.

    {"time": ISO-8601, "rule": {"id", "title", "level", "author", "path", "source"},
     "attack": {"techniques": [...], "tactics": [...]},
     "event": {"source_type", "file", "record", "id"}, "entities": {...}}

A correlation alert also has "correlation": {"type", "group", "value", "members": [event, …]}
and its "event" is its first member. Every alert names the rule's author: SigmaHQ rules are
under the Detection Rule License 1.1, which obliges whoever shows a match to credit them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple, TextIO

import duckdb
import orjson
import pyarrow as pa
import sqlglot.expressions as exp

from trailguard.detect.attack import from_tags
from trailguard.detect.rules import LoadedRule

ALERTS_DDL = """
CREATE TABLE alerts (
    alert_id VARCHAR PRIMARY KEY,
    kind VARCHAR NOT NULL,          -- rule | correlation
    time TIMESTAMP,
    level VARCHAR,
    rule_id VARCHAR NOT NULL,
    rule_title VARCHAR,
    rule_author VARCHAR,
    rule_path VARCHAR,
    rule_source VARCHAR,
    techniques VARCHAR[],
    tactics VARCHAR[],
    source_type VARCHAR,
    uid VARCHAR,                    -- the event (for a correlation: its first member)
    members VARCHAR[],              -- a correlation's member events
    correlation VARCHAR,            -- JSON: type, group, value (correlations only)
    generated_at TIMESTAMP          -- when TrailGuard first raised it (UTC; a later detection
                                    -- run keeps the time of the first that raised it)
)
"""

# Normalised columns of `events` reported as an alert's entities.
ENTITY_COLUMNS = (
    "actor_principal", "actor_user", "actor_type", "actor_access_key", "actor_session",
    "user_agent", "src_ip", "src_port", "dst_ip", "dst_port", "host", "instance_id",
    "process_name", "process_cmdline", "process_guid", "process_user", "parent_name",
    "parent_cmdline", "file_path", "url", "resource", "cloud_account", "cloud_region",
    "cloud_service", "operation",
)


class EventRef(NamedTuple):
    source_type: str
    uid: str
    time: datetime | None
    file_id: int | None
    record: int | None


@dataclass
class Alert:
    rule: LoadedRule
    event: EventRef
    members: tuple[EventRef, ...] = ()
    correlation: dict[str, Any] | None = None
    time: datetime | None = None

    @property
    def kind(self) -> str:
        return "rule" if self.correlation is None else "correlation"

    @property
    def alert_id(self) -> str:
        digest = hashlib.blake2b(digest_size=12)
        digest.update(self.rule.id.encode())
        for ref in (self.event, *self.members):
            digest.update(b"\0" + ref.uid.encode())
        return digest.hexdigest()


@dataclass
class EventDetails:
    """What an alert shows of its events: evidence file and record, and entities."""

    files: dict[int, str] = field(default_factory=dict)
    entities: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def read(cls, connection: duckdb.DuckDBPyConnection, uids: Iterable[str]) -> EventDetails:
        details = cls()
        rows = connection.execute(
            "SELECT id, path, member FROM files WHERE source_type IS NOT NULL"
        ).fetchall()
        details.files = {row[0]: row[1] + (f"!{row[2]}" if row[2] else "") for row in rows}
        wanted = pa.table({"uid": pa.array(sorted(set(uids)), pa.string())})
        if wanted.num_rows == 0:
            return details
        connection.register("wanted_alert_uids", wanted)
        try:
            query = (
                exp.select("e.uid", *(f"e.{name}" for name in ENTITY_COLUMNS))
                .from_("wanted_alert_uids AS w")
                .join("events AS e", on="e.uid = w.uid")
            )
            cursor = connection.execute(query.sql("duckdb"))
            for row in cursor.fetchall():
                values = {
                    name: value
                    for name, value in zip(ENTITY_COLUMNS, row[1:], strict=True)
                    if value is not None and value != ""
                }
                details.entities[row[0]] = values
        finally:
            connection.unregister("wanted_alert_uids")
        return details

    def event(self, ref: EventRef) -> dict[str, Any]:
        return {
            "source_type": ref.source_type,
            "file": self.files.get(ref.file_id) if ref.file_id is not None else None,
            "record": ref.record,
            "id": ref.uid,
        }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "") + "Z"


def as_json(alert: Alert, details: EventDetails) -> dict[str, Any]:
    rule = alert.rule
    line: dict[str, Any] = {
        "time": _iso(alert.time if alert.time is not None else alert.event.time),
        "rule": rule.describe(),
        "attack": from_tags(rule.tags).as_dict(),
        "event": details.event(alert.event),
        "entities": details.entities.get(alert.event.uid, {}),
    }
    if alert.correlation is not None:
        merged: dict[str, Any] = {}
        for member in alert.members:
            for name, value in details.entities.get(member.uid, {}).items():
                merged.setdefault(name, [])
                if value not in merged[name]:
                    merged[name].append(value)
        line["entities"] = {k: v[0] if len(v) == 1 else v for k, v in merged.items()}
        line["correlation"] = {
            **alert.correlation,
            "members": [
                {**details.event(member), "time": _iso(member.time)} for member in alert.members
            ],
        }
    return line


def store(connection: duckdb.DuckDBPyConnection, alerts: Sequence[Alert],
          now: datetime | None = None) -> None:
    """Replace the case's alerts with these (a detection run recomputes all of them); an
    alert raised by an earlier run keeps the time that run raised it (`generated_at`)."""
    raised: dict[str, datetime] = {}
    try:
        raised = dict(connection.execute(
            "SELECT alert_id, generated_at FROM alerts WHERE generated_at IS NOT NULL"
        ).fetchall())
    except duckdb.Error:  # no alerts yet, or a case from before generated_at
        raised = {}
    connection.execute("DROP TABLE IF EXISTS alerts")
    connection.execute(ALERTS_DDL)
    if not alerts:
        return
    generated = (now or datetime.now(UTC)).replace(tzinfo=None)
    columns: dict[str, list[Any]] = {name: [] for name in (
        "alert_id", "kind", "time", "level", "rule_id", "rule_title", "rule_author",
        "rule_path", "rule_source", "techniques", "tactics", "source_type", "uid", "members",
        "correlation", "generated_at")}
    seen: set[str] = set()
    cited: dict[int, tuple[Any, ...]] = {}
    for alert in alerts:
        alert_id = alert.alert_id
        if alert_id in seen:
            continue
        seen.add(alert_id)
        rule = alert.rule
        citation = cited.get(id(rule))
        if citation is None:
            tags = from_tags(rule.tags)
            citation = cited[id(rule)] = (rule.level, rule.id, rule.title, rule.author,
                                          str(rule.path), rule.source, list(tags.techniques),
                                          list(tags.tactics))
        row = (alert_id, alert.kind, alert.time or alert.event.time, *citation,
               alert.event.source_type, alert.event.uid, [m.uid for m in alert.members],
               None if alert.correlation is None
               else orjson.dumps(alert.correlation, default=str).decode(),
               raised.get(alert_id, generated))
        for values, value in zip(columns.values(), row, strict=True):
            values.append(value)
    table = pa.table({
        **columns,
        "time": pa.array(columns["time"], pa.timestamp("us")),
        "techniques": pa.array(columns["techniques"], pa.list_(pa.string())),
        "tactics": pa.array(columns["tactics"], pa.list_(pa.string())),
        "members": pa.array(columns["members"], pa.list_(pa.string())),
        "generated_at": pa.array(columns["generated_at"], pa.timestamp("us")),
    })
    connection.register("new_alerts", table)
    try:
        connection.execute("INSERT INTO alerts BY NAME SELECT * FROM new_alerts")
    finally:
        connection.unregister("new_alerts")


def write_jsonl(handle: TextIO, alerts: Sequence[Alert], details: EventDetails) -> int:
    written = 0
    for line in iter_json(alerts, details):
        handle.write(orjson.dumps(line, default=str).decode())
        handle.write("\n")
        written += 1
    return written


def iter_json(alerts: Sequence[Alert], details: EventDetails) -> Iterator[dict[str, Any]]:
    ordered = sorted(alerts, key=lambda a: (_iso(a.time or a.event.time) or "", a.rule.id))
    for alert in ordered:
        yield as_json(alert, details)


def output_path(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
