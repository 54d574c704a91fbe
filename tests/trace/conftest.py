"""A tiny case built event by event and alert by alert, for the tracer's tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from trailguard.detect.alerts import ALERTS_DDL
from trailguard.store.case import Case
from trailguard.store.schema import EVENT_KEY_COLUMNS, NORMAL_COLUMNS
from trailguard.trace.model import TraceResult
from trailguard.trace.tracer import TraceConfig, trace

T0 = datetime(2026, 10, 14, 2, 0, 0)

_ARROW = {"VARCHAR": pa.string(), "INTEGER": pa.int32(), "BIGINT": pa.int64(),
          "TIMESTAMP": pa.timestamp("us")}


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@dataclass
class TinyCase:
    folder: Path
    events: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)

    def event(self, minutes: float, source_type: str = "actiontrail", **normal: Any) -> str:
        uid = f"ev{len(self.events)}"
        self.events.append({"uid": uid, "source_type": source_type, "file_id": 1,
                            "record": len(self.events) + 1, "time": at(minutes), **normal})
        return uid

    def alert(self, minutes: float, title: str, *, level: str = "high",
              tactics: tuple[str, ...] = ("execution",), techniques: tuple[str, ...] = (),
              source_type: str = "actiontrail", members: tuple[str, ...] = (),
              **normal: Any) -> str:
        """An event and a rule alert on it; returns the alert id."""
        uid = self.event(minutes, source_type, **normal)
        alert_id = f"al{len(self.alerts)}"
        self.alerts.append({
            "alert_id": alert_id, "kind": "correlation" if members else "rule",
            "time": at(minutes), "level": level, "rule_id": f"rule-{title}",
            "rule_title": title, "rule_author": "tests", "rule_path": f"/rules/{title}.yml",
            "rule_source": "builtin", "techniques": list(techniques), "tactics": list(tactics),
            "source_type": source_type, "uid": uid, "members": list(members),
            "correlation": None})
        return alert_id

    def trace(self, config: TraceConfig | None = None) -> TraceResult:
        columns = {**EVENT_KEY_COLUMNS, **NORMAL_COLUMNS}
        events = pa.table({name: pa.array([row.get(name) for row in self.events],
                                          _ARROW[kind]) for name, kind in columns.items()})
        alerts = pa.table({
            **{name: [row[name] for row in self.alerts] for name in self.alerts[0]},
            "time": pa.array([row["time"] for row in self.alerts], pa.timestamp("us")),
            "techniques": pa.array([row["techniques"] for row in self.alerts],
                                   pa.list_(pa.string())),
            "tactics": pa.array([row["tactics"] for row in self.alerts], pa.list_(pa.string())),
            "members": pa.array([row["members"] for row in self.alerts], pa.list_(pa.string())),
            "correlation": pa.array([None] * len(self.alerts), pa.string()),
        }) if self.alerts else None
        with Case.open(self.folder, create=True) as case:
            connection = case.connection
            connection.execute("DELETE FROM events")
            connection.execute(
                "INSERT OR IGNORE INTO files (id, path, member, root_sha256, status, "
                "ingested_at) VALUES (1, '/evidence/log.json', '', 'x', 'complete', now())")
            connection.register("new_events", events)
            connection.execute("INSERT INTO events BY NAME SELECT * FROM new_events")
            connection.unregister("new_events")
            connection.execute("DROP TABLE IF EXISTS alerts")
            connection.execute(ALERTS_DDL)
            if alerts is not None:
                connection.register("new_alerts", alerts)
                connection.execute("INSERT INTO alerts BY NAME SELECT * FROM new_alerts")
                connection.unregister("new_alerts")
            return trace(connection, config).result


@pytest.fixture
def tiny(tmp_path: Path) -> TinyCase:
    return TinyCase(tmp_path / "case")


def incident_of(result: TraceResult, alert_id: str) -> str:
    return next(i.id for i in result.incidents if alert_id in i.alert_ids)
