"""The "3-6-12" clocks: alert within 3 minutes, contain within 6 hours, recover within 12.

Reading of the model: every clock starts at the incident's **first evidence** (``detected``)
and stops when its milestone is reached:

======== ======================= ================ =======================================
clock    from                    to               default target
======== ======================= ================ =======================================
alert    detected                alerted          3 minutes
contain  detected                contained        6 hours
recover  detected                recovered        12 hours
======== ======================= ================ =======================================

Where each time comes from (audit log = ``<case>/respond/audit.jsonl``, see
:mod:`trailguard.respond.audit`):

* ``detected``: the incident's ``first`` column (its earliest alert, from ``trailguard trace``).
* ``alerted``: when TrailGuard raised the incident's first alert: the earliest ``generated_at``
  of its alerts (``detect`` records when it first raised each alert; ``alerts.time`` is the
  time of the *event*). A "clock-mark" ``alerted`` in the audit log (``trailguard sla mark
  INCIDENT alerted``) overrides it — for alerts raised elsewhere first, or a case from before
  ``generated_at`` existed; without either the alert clock's status is ``unknown``.
* ``acknowledged``: a "clock-mark" ``acknowledged`` (used for MTTA only; no target).
* ``contained``: a "clock-mark" ``contained`` if there is one (the analyst's word wins:
  containment done by hand, or a correction); else the earliest "executed" audit record of the
  incident whose action id ends in one of :data:`CONTAINMENT_ACTIONS`
  (``aliyun.isolate_instance``, ``aws.disable_access_key`` …). Rollback executions are
  "rolled-back" records and never count.
* ``recovered``: a "clock-mark" ``recovered``.

When a clock is marked more than once, the last mark wins (the log is append-only; a later
mark is a correction). A mark's time is its ``detail.time`` (default: when it was written).

Status of a clock at ``now``:

* ``met``: reached within the target; ``breached``: reached, after the target;
* ``running``: not reached, less than ``near_breach`` (default 80 %) of the target used;
* ``near-breach``: not reached, at least ``near_breach`` of the target used, not past it;
* ``running-breached``: not reached and already past the target;
* ``unknown``: the start or (for the alert clock) the end time is not recorded.

Mean times over the incidents (each reports how many incidents it was computed from; ``None``
when no incident has both times):

* **MTTD** (mean time to detect): first evidence → alert raised (``alerted - detected``);
* **MTTA** (mean time to acknowledge): alert raised → acknowledged
  (``acknowledged - alerted``); undefined for an incident without both marks;
* **MTTC** (mean time to contain): first evidence → contained (``contained - detected``);
* **MTTR** (mean time to recover): first evidence → recovered (``recovered - detected``).

Targets come from ``<case>/respond/clocks.yml`` (``yaml.safe_load``), overridable per call::

    targets: {alert: 3m, contain: 6h, recover: 12h}   # seconds, or 90s / 3m / 6h / 1d / 1h30m
    near_breach: 0.8                                   # share of the target (0 < x <= 1)

:func:`notify_breaches` sends one message per (incident, clock, breached | near-breach)
through the notify actions; their idempotency keys make a re-run silent.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import yaml

from trailguard.errors import CaseError, SourceLocation
from trailguard.respond import audit
from trailguard.respond.actions import ACTIONS
from trailguard.respond.actions.notify._base import NotifyAction
from trailguard.respond.clients.notify import NotifyClient
from trailguard.respond.errors import CloudCallError, ResponseError
from trailguard.respond.idempotency import IdempotencyStore

CONFIG_FILE = "clocks.yml"
"""Targets of a case: ``<case>/respond/clocks.yml``."""

NOTIFY_KEYS_FILE = "notify-keys.jsonl"
"""The case's idempotency store for notifications: ``<case>/respond/notify-keys.jsonl``."""

CLOCKS = ("alert", "contain", "recover")
"""The three clocks, each measured from ``detected``."""

MILESTONE = {"alert": "alerted", "contain": "contained", "recover": "recovered"}
"""The time that stops each clock."""

MARKS = ("alerted", "acknowledged", "contained", "recovered")
"""Clocks a manual "clock-mark" can set."""

CONTAINMENT_ACTIONS = ("isolate_instance", "disable_access_key", "block_address",
                       "revoke_security_group_rule", "stop_instance")
"""Action names (last part of the id) whose successful execution contains an incident."""

STATUSES = ("met", "breached", "running", "near-breach", "running-breached", "unknown")
BREACHED = frozenset({"breached", "running-breached"})


class ClockConfigError(ResponseError):
    """A clocks or notification configuration is invalid."""


# -- durations and times ------------------------------------------------------------------

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: object) -> timedelta:
    """Seconds (a number) or text such as ``90s``, ``3m``, ``6h``, ``1d``, ``1h30m``."""
    if isinstance(value, bool):
        raise ClockConfigError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower()
        parts = _DURATION.findall(text)
        if not parts or _DURATION.sub("", text).strip():
            raise ClockConfigError(f"not a duration: {value!r} (use 90s, 3m, 6h, 1d, 1h30m)")
        seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    else:
        raise ClockConfigError(f"not a duration: {value!r}")
    if seconds <= 0:
        raise ClockConfigError(f"a target must be positive, got {value!r}")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta | None) -> str:
    """``3m 20s``, ``5h 12m``, ``1d 2h``; ``-`` for None; a leading ``-`` when negative."""
    if delta is None:
        return "-"
    total = int(delta.total_seconds())
    sign, total = ("-", -total) if total < 0 else ("", total)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")]
    shown = [f"{n}{u}" for n, u in parts if n][:2]
    return sign + (" ".join(shown) if shown else "0s")


def parse_time(text: str) -> datetime:
    """An ISO-8601 time (``Z`` or an offset; a naive time is UTC) as an aware UTC datetime."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ClockConfigError(f"not an ISO-8601 time: {text!r}") from None
    return _utc(value)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso(value: datetime | None) -> str | None:
    """ISO-8601 UTC with a Z (None stays None)."""
    return None if value is None else _utc(value).isoformat().replace("+00:00", "Z")


# -- targets ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Targets:
    """How long each clock may run, and the share of it that counts as near a breach."""

    alert: timedelta = timedelta(minutes=3)
    contain: timedelta = timedelta(hours=6)
    recover: timedelta = timedelta(hours=12)
    near_breach: float = 0.8

    def __post_init__(self) -> None:
        if not 0 < self.near_breach <= 1:
            raise ClockConfigError(f"near_breach must be in (0, 1], got {self.near_breach!r}")
        for clock in CLOCKS:
            if self.of(clock) <= timedelta(0):
                raise ClockConfigError(f"the {clock} target must be positive")

    def of(self, clock: str) -> timedelta:
        target: timedelta = getattr(self, clock)
        return target

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], base: Targets | None = None) -> Targets:
        """``{targets: {alert, contain, recover}, near_breach}`` (the flat form
        ``{alert: 3m, …}`` works too) over ``base`` (default: the 3-6-12 defaults)."""
        flat = dict(data)
        nested = flat.pop("targets", None) or {}
        if not isinstance(nested, Mapping):
            raise ClockConfigError("`targets` must be a mapping of clock: duration")
        flat.update(nested)
        unknown = sorted(set(flat) - {*CLOCKS, "near_breach"})
        if unknown:
            raise ClockConfigError(f"unknown clock setting(s) {', '.join(unknown)}; known: "
                                   f"{', '.join(CLOCKS)}, near_breach")
        changes: dict[str, Any] = {c: parse_duration(flat[c]) for c in CLOCKS if c in flat}
        if "near_breach" in flat:
            near = flat["near_breach"]
            if isinstance(near, bool) or not isinstance(near, int | float):
                raise ClockConfigError(f"near_breach must be a number, got {near!r}")
            changes["near_breach"] = float(near)
        return dataclasses.replace(base or cls(), **changes)

    def to_dict(self) -> dict[str, Any]:
        return {**{c: self.of(c).total_seconds() for c in CLOCKS},
                "near_breach": self.near_breach}


def load_targets(case_folder: Path) -> Targets:
    """The case's targets: ``<case>/respond/clocks.yml`` over the 3-6-12 defaults."""
    path = case_folder / audit.FOLDER / CONFIG_FILE
    if not path.exists():
        return Targets()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ClockConfigError(f"cannot read the clock targets: {error}",
                               SourceLocation(str(path))) from None
    if not isinstance(data, Mapping):
        raise ClockConfigError("the clock targets must be a mapping", SourceLocation(str(path)))
    try:
        return Targets.from_mapping(data)
    except ClockConfigError as error:
        raise ClockConfigError(error.message, SourceLocation(str(path))) from None


# -- the four times -----------------------------------------------------------------------

@dataclass(frozen=True)
class IncidentTimes:
    """An incident's milestones (UTC) and, for each time found, where it came from."""

    incident: str
    title: str = ""
    severity: str = ""
    detected: datetime | None = None
    alerted: datetime | None = None
    acknowledged: datetime | None = None
    contained: datetime | None = None
    recovered: datetime | None = None
    sources: Mapping[str, str] = field(default_factory=dict)

    def time(self, name: str) -> datetime | None:
        value: datetime | None = getattr(self, name)
        return value


IncidentRow = tuple[str, str, str, datetime | None, datetime | None]
"""(id, title, severity, first evidence, first alert raised)"""


def read_incidents(connection: duckdb.DuckDBPyConnection) -> list[IncidentRow]:
    """``(id, title, severity, first, alerted)`` of every incident of the case, in rank
    order; ``alerted`` is when TrailGuard first raised one of its alerts (the alerts'
    ``generated_at``), None for a case from before that was recorded."""
    try:
        rows = connection.execute(
            "SELECT id, title, severity, first FROM incidents "
            "ORDER BY rank NULLS LAST, first NULLS LAST, id").fetchall()
    except duckdb.CatalogException:
        raise CaseError("the case has no incidents yet; run `trailguard trace` first") from None
    try:
        raised = dict(connection.execute(
            "SELECT ia.incident, min(a.generated_at) FROM incident_alerts ia "
            "JOIN alerts a USING (alert_id) GROUP BY ia.incident").fetchall())
    except duckdb.Error:
        raised = {}
    return [(str(i), str(t or ""), str(s or ""), f, raised.get(i)) for i, t, s, f in rows]


def _time_or_none(text: object) -> datetime | None:
    try:
        return parse_time(str(text)) if text else None
    except ClockConfigError:
        return None


def incident_times(incidents: Sequence[tuple[Any, ...]],
                   records: Sequence[Mapping[str, Any]]) -> list[IncidentTimes]:
    """Combine the incidents table with the audit log (see the module docstring)."""
    by_incident: dict[str, list[Mapping[str, Any]]] = {}
    for record in records:
        if record.get("incident"):
            by_incident.setdefault(str(record["incident"]), []).append(record)
    found = []
    for incident, title, severity, first, *rest in incidents:
        times: dict[str, datetime | None] = {"detected": _utc(first) if first else None}
        sources = {"detected": "incidents.first"} if first else {}
        raised = rest[0] if rest else None
        if raised is not None:
            times["alerted"] = _utc(raised)
            sources["alerted"] = "alerts.generated_at"
        executed: list[tuple[datetime, str]] = []
        for record in by_incident.get(incident, ()):
            detail = record.get("detail") or {}
            if record.get("event") == "clock-mark" and detail.get("clock") in MARKS:
                at = _time_or_none(detail.get("time") or record.get("time"))
                if at is not None:  # the last mark wins
                    times[str(detail["clock"])] = at
                    sources[str(detail["clock"])] = (f"clock-mark by {record.get('who')} "
                                                     f"(audit seq {record.get('seq')})")
            elif (record.get("event") == "executed"
                  and str(record.get("action") or "").rpartition(".")[2] in CONTAINMENT_ACTIONS
                  and not (record.get("result") or {}).get("rollback")):
                at = _time_or_none(record.get("time"))
                if at is not None:
                    executed.append((at, f"executed {record.get('action')} "
                                         f"(audit seq {record.get('seq')})"))
        if times.get("contained") is None and executed:
            times["contained"], sources["contained"] = min(executed)
        found.append(IncidentTimes(
            incident, title, severity, detected=times["detected"], alerted=times.get("alerted"),
            acknowledged=times.get("acknowledged"), contained=times.get("contained"),
            recovered=times.get("recovered"), sources=sources))
    return found


# -- clocks and the report ----------------------------------------------------------------

@dataclass(frozen=True)
class ClockStatus:
    """One clock of one incident at ``now``; ``used`` is elapsed / target."""

    clock: str
    status: str
    start: datetime | None
    end: datetime | None
    elapsed: timedelta | None
    target: timedelta
    used: float | None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"clock": self.clock, "status": self.status, "start": iso(self.start),
                "end": iso(self.end),
                "elapsed_seconds": None if self.elapsed is None else self.elapsed.total_seconds(),
                "target_seconds": self.target.total_seconds(),
                "used": None if self.used is None else round(self.used, 4), "note": self.note}


def clock_status(clock: str, times: IncidentTimes, targets: Targets,
                 now: datetime) -> ClockStatus:
    """The status of one clock (see the module docstring)."""
    target = targets.of(clock)
    start, end = times.detected, times.time(MILESTONE[clock])
    if start is None:
        return ClockStatus(clock, "unknown", None, end, None, target, None,
                           "the incident has no first-evidence time")
    if end is None and clock == "alert":
        return ClockStatus(clock, "unknown", start, None, None, target, None,
                           "alert time not recorded (trailguard sla mark INCIDENT alerted)")
    elapsed = (end if end is not None else now) - start
    used = elapsed / target
    if end is not None:
        status = "met" if elapsed <= target else "breached"
    elif elapsed > target:
        status = "running-breached"
    elif used >= targets.near_breach:
        status = "near-breach"
    else:
        status = "running"
    return ClockStatus(clock, status, start, end, elapsed, target, used)


@dataclass(frozen=True)
class IncidentClocks:
    times: IncidentTimes
    clocks: tuple[ClockStatus, ...]

    def clock(self, name: str) -> ClockStatus:
        return next(c for c in self.clocks if c.clock == name)

    def to_dict(self) -> dict[str, Any]:
        t = self.times
        return {"incident": t.incident, "title": t.title, "severity": t.severity,
                "times": {name: iso(t.time(name)) for name in ("detected", *MARKS)},
                "sources": dict(t.sources),
                "clocks": {c.clock: c.to_dict() for c in self.clocks}}


MEANS = {
    "MTTD": ("detected", "alerted", "mean time from first evidence to alert"),
    "MTTA": ("alerted", "acknowledged", "mean time from alert to acknowledgement"),
    "MTTC": ("detected", "contained", "mean time from first evidence to containment"),
    "MTTR": ("detected", "recovered", "mean time from first evidence to recovery"),
}
"""Each mean time: (from, to, definition)."""


@dataclass(frozen=True)
class MeanTime:
    name: str
    definition: str
    mean: timedelta | None
    count: int
    incidents: int

    def to_dict(self) -> dict[str, Any]:
        return {"definition": self.definition,
                "mean_seconds": None if self.mean is None else self.mean.total_seconds(),
                "count": self.count, "incidents": self.incidents}


def mean_times(times: Sequence[IncidentTimes]) -> dict[str, MeanTime]:
    """MTTD, MTTA, MTTC and MTTR over the incidents that have both of their times."""
    means = {}
    for name, (start, end, definition) in MEANS.items():
        spans = []
        for t in times:
            began, ended = t.time(start), t.time(end)
            if began is not None and ended is not None:
                spans.append(ended - began)
        mean = sum(spans, timedelta(0)) / len(spans) if spans else None
        means[name] = MeanTime(name, definition, mean, len(spans), len(times))
    return means


@dataclass(frozen=True)
class SlaReport:
    case_folder: Path
    now: datetime
    targets: Targets
    incidents: tuple[IncidentClocks, ...]
    means: Mapping[str, MeanTime]

    def with_status(self, statuses: frozenset[str] | set[str]
                    ) -> list[tuple[IncidentClocks, ClockStatus]]:
        return [(i, c) for i in self.incidents for c in i.clocks if c.status in statuses]

    @property
    def breached(self) -> bool:
        return bool(self.with_status(BREACHED))

    def to_dict(self) -> dict[str, Any]:
        return {"now": iso(self.now), "targets": self.targets.to_dict(),
                "incidents": [i.to_dict() for i in self.incidents],
                "means": {n: m.to_dict() for n, m in self.means.items()},
                "breached": len(self.with_status(BREACHED)),
                "near_breach": len(self.with_status({"near-breach"}))}


def evaluate(case_folder: Path, times: Sequence[IncidentTimes], targets: Targets,
             now: datetime) -> SlaReport:
    """Every clock of every incident at ``now``, and the mean times."""
    now = _utc(now)
    incidents = tuple(IncidentClocks(t, tuple(clock_status(c, t, targets, now) for c in CLOCKS))
                      for t in times)
    return SlaReport(case_folder, now, targets, incidents, mean_times(times))


def sla_report(case_folder: Path, *, targets: Targets | None = None,
               now: datetime | None = None) -> SlaReport:
    """Open the case (read-only) and report its clocks; targets default to the case's
    ``clocks.yml``; ``now`` to the current time."""
    from trailguard.store.case import Case

    with Case.open(case_folder, read_only=True) as case:
        incidents = read_incidents(case.connection)
        folder = case.folder
    times = incident_times(incidents, audit.read(folder))
    return evaluate(folder, times, targets or load_targets(folder), now or datetime.now(UTC))


def mark(case_folder: Path, incident: str, clock: str, time: datetime | None = None,
         note: str = "") -> dict[str, Any]:
    """Append a "clock-mark" (``clock`` in :data:`MARKS`) to the audit log; returns it."""
    if clock not in MARKS:
        raise ClockConfigError(f"unknown clock {clock!r}; known: {', '.join(MARKS)}")
    detail: dict[str, Any] = {"clock": clock, "time": iso(time or datetime.now(UTC))}
    if note:
        detail["note"] = note
    return audit.append(case_folder, "clock-mark", incident=incident, detail=detail)


# -- notifications ------------------------------------------------------------------------

@dataclass(frozen=True)
class Notification:
    """One notification attempt: ``outcome`` is sent | already-sent | failed."""

    incident: str
    clock: str
    status: str
    action: str
    outcome: str
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_FILLED = ("incident_id", "text", "message_id")


def _notify_actions(configs: Sequence[Mapping[str, Any]]
                    ) -> list[tuple[NotifyAction[Any], dict[str, Any]]]:
    """Check every ``{action: notify.webhook, params: {…}}`` before anything is sent."""
    found = []
    for number, config in enumerate(configs, 1):
        if not isinstance(config, Mapping) or not isinstance(config.get("action"), str):
            raise ClockConfigError(f"notify target {number}: expected {{action, params}}")
        name = str(config["action"])
        name = name if "." in name else f"notify.{name}"
        action = ACTIONS.get(name)()
        if not isinstance(action, NotifyAction):
            raise ClockConfigError(f"notify target {number}: {name} is not a notify action")
        params = config.get("params") or {}
        if not isinstance(params, Mapping) or set(params) & set(_FILLED):
            raise ClockConfigError(f"notify target {number}: params must be a mapping "
                                   f"without {', '.join(_FILLED)} (the clocks fill them)")
        action.parse_params({**params, "incident_id": "check", "text": "check"})
        found.append((action, dict(params)))
    return found


def _message(item: IncidentClocks, clock: ClockStatus) -> str:
    what = {"breached": "was breached", "running-breached": "is breached (still running)",
            "near-breach": "is near its target"}[clock.status]
    severity = f" ({item.times.severity})" if item.times.severity else ""
    return (f"{clock.clock} clock {what} for incident {item.times.incident}{severity}: "
            f"{format_duration(clock.elapsed)} since first evidence at {iso(clock.start)}, "
            f"target {format_duration(clock.target)}")


def notify_breaches(report: SlaReport, targets: Sequence[Mapping[str, Any]],
                    store: IdempotencyStore, *, client: NotifyClient | None = None
                    ) -> list[Notification]:
    """Notify every breached and near-breach clock through each target, once.

    ``targets`` are ``{"action": "notify.webhook", "params": {...}}`` (the action's parameters
    without ``incident_id``, ``text`` and ``message_id``, which are filled in). The message id
    is ``sla:<incident>:<clock>:<breached|near-breach>`` (a running clock that is later
    completed late is the same breach), so the notify actions' idempotency keys in ``store``
    make a re-run silent. Every send is appended to the audit log as "executed" (a failed one
    as "failed"); a failure does not stop the other notifications.
    """
    actions = _notify_actions(targets)
    client = client or NotifyClient(store)
    sent: list[Notification] = []
    for item, clock in report.with_status(BREACHED | {"near-breach"}):
        family = "breached" if clock.status in BREACHED else "near-breach"
        incident = item.times.incident
        for action, base in actions:
            fields = {f.name for f in dataclasses.fields(action.Params)}
            values: dict[str, Any] = {"incident_id": incident, "text": _message(item, clock),
                                      "message_id": f"sla:{incident}:{clock.clock}:{family}"}
            if "title" in fields and "title" not in base:
                values["title"] = f"TrailGuard: {clock.clock} clock {family}"
            if "severity" in fields and "severity" not in base:
                values["severity"] = "high" if family == "breached" else "medium"
            detail = {"sla": {"clock": clock.clock, "status": clock.status}}
            params = action.parse_params({**base, **values})
            try:
                plan = action.plan(client, params)
                if plan.empty:
                    sent.append(Notification(incident, clock.clock, clock.status, action.id,
                                             "already-sent"))
                    continue
                result = action.execute(client, plan)
            except CloudCallError as error:
                audit.append(report.case_folder, "failed", incident=incident, action=action.id,
                             step=f"sla:{clock.clock}", error={
                                 "type": type(error).__name__, "message": str(error),
                                 "code": error.code, "attempts": error.attempts},
                             detail=detail)
                sent.append(Notification(incident, clock.clock, clock.status, action.id,
                                         "failed", str(error)))
                continue
            audit.append(report.case_folder, "executed", incident=incident, action=action.id,
                         step=f"sla:{clock.clock}", plan=plan.to_dict(),
                         result=result.to_dict(), detail=detail)
            sent.append(Notification(incident, clock.clock, clock.status, action.id, "sent"))
    return sent
