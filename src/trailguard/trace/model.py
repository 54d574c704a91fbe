"""What tracing produces: incidents, each with its entities, chain, entry point, lateral
movement, exfiltration, persistence, impact and indicators.

These classes are the contract between the tracer (``trailguard.trace``) and everything that
shows or acts on an incident (``trailguard.report``, response, the CLI). ``Incident.to_json``
is the schema of ``incidents.json``. Every string in here may come from attacker-controlled
evidence: whoever renders it escapes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


def iso(value: datetime | None) -> str | None:
    """ISO-8601 UTC with a Z, as every TrailGuard output writes times."""
    return None if value is None else value.isoformat().replace("+00:00", "") + "Z"


def human_bytes(count: int | None) -> str:
    """'5.0 GiB' (binary units, as every TrailGuard output writes sizes); 'unknown' for None."""
    if count is None:
        return "unknown"
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{count} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


@dataclass(frozen=True, order=True)
class EntityRef:
    """One entity. ``kind`` is one of ENTITY_KINDS; ``value`` is its canonical spelling
    (for a host-scoped entity, such as a process or a local user, prefixed by the host:
    ``web-01/sysbackup``)."""

    kind: str
    value: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "value": self.value}


#: Entity kinds, in the order reports list them.
ENTITY_KINDS = (
    "ip", "access_key", "principal", "user", "host", "instance", "process", "session", "file",
    "bucket", "security_group", "pod", "user_agent", "domain", "url",
)


@dataclass(frozen=True)
class EvidenceRef:
    """Where a fact was read: the evidence file and record, and the event id in the case."""

    source_type: str
    file: str | None
    record: int | None
    uid: str

    def to_json(self) -> dict[str, Any]:
        return {"source_type": self.source_type, "file": self.file, "record": self.record,
                "id": self.uid}


@dataclass
class Entity:
    """An entity of an incident with its role and where it was seen."""

    ref: EntityRef
    role: str  # attacker | victim | unknown
    first: datetime | None
    last: datetime | None
    alerts: int  # alerts of the incident naming it
    note: str = ""  # e.g. "internal address of db-01", "created by the attacker"

    def to_json(self) -> dict[str, Any]:
        return {**self.ref.to_json(), "role": self.role, "first": iso(self.first),
                "last": iso(self.last), "alerts": self.alerts, "note": self.note}


@dataclass
class Step:
    """One step of the chain: alerts of one rule in one tactic, collapsed while they repeat."""

    time: datetime | None  # first alert of the step
    last: datetime | None  # last alert of the step
    tactic: str  # ATT&CK tactic shortname ('initial-access'), '' when the rule names none
    technique: str  # 'T1078.004', '' when the rule names none
    technique_name: str
    rule: dict[str, Any]  # {"id", "title", "level", "author", "path", "source"}
    evidence: EvidenceRef  # the first alert's event
    alerts: int  # alerts collapsed into this step
    entities: list[EntityRef] = field(default_factory=list)
    link: str = ""  # why it belongs to the incident: "shares ip:198.51.100.77 with …"
    context: bool = False  # True for an unalerted event added to complete the story
    tactics: list[str] = field(default_factory=list)  # every tactic the rule names

    def to_json(self) -> dict[str, Any]:
        return {
            "time": iso(self.time), "last": iso(self.last), "tactic": self.tactic,
            "technique": self.technique, "technique_name": self.technique_name,
            "rule": self.rule, "evidence": self.evidence.to_json(), "alerts": self.alerts,
            "entities": [ref.to_json() for ref in self.entities], "link": self.link,
            "context": self.context, "tactics": self.tactics,
        }


@dataclass
class EntryPoint:
    time: datetime | None
    tactic: str
    technique: str
    rule: str  # rule title
    host: str | None  # the host (or instance) the attacker first reached, when known
    entity: EntityRef | None  # the first attacker-controlled entity
    evidence: EvidenceRef | None
    description: str

    def to_json(self) -> dict[str, Any]:
        return {"time": iso(self.time), "tactic": self.tactic, "technique": self.technique,
                "rule": self.rule, "host": self.host,
                "entity": self.entity.to_json() if self.entity else None,
                "evidence": self.evidence.to_json() if self.evidence else None,
                "description": self.description}


@dataclass
class Hop:
    """A lateral-movement hop: from a host (or an address or principal) to a host."""

    source: str  # JSON key "from"
    target: str  # JSON key "to"
    time: datetime | None
    method: str  # ssh | cloud-assistant | ssm | rdp | smb | winrm | psexec | kubectl-exec
    evidence: EvidenceRef | None
    uses: int = 1  # how many times this hop was made

    def to_json(self) -> dict[str, Any]:
        return {"from": self.source, "to": self.target, "time": iso(self.time),
                "method": self.method, "uses": self.uses,
                "evidence": self.evidence.to_json() if self.evidence else None}


@dataclass
class Exfiltration:
    destination: str  # address, bucket or domain the data went to (or was read from)
    bytes: int | None  # None when the evidence does not say how much
    channel: str  # vpc-flow | zeek | oss-getobject | s3-getobject | web
    source: str | None  # the host, instance or principal it left from
    first: datetime | None
    last: datetime | None
    records: int  # evidence records summed
    objects: int | None = None  # object reads, for storage channels

    def to_json(self) -> dict[str, Any]:
        return {"destination": self.destination, "bytes": self.bytes, "channel": self.channel,
                "source": self.source, "first": iso(self.first), "last": iso(self.last),
                "records": self.records, "objects": self.objects}


@dataclass
class Persistence:
    mechanism: str  # rule title or technique name
    technique: str
    target: str  # what was planted: user, key, file, cron entry …
    time: datetime | None
    still_present: bool | None  # None: the evidence cannot tell
    removed_at: datetime | None
    evidence: EvidenceRef | None
    removal_evidence: EvidenceRef | None = None

    def to_json(self) -> dict[str, Any]:
        return {"mechanism": self.mechanism, "technique": self.technique,
                "target": self.target, "time": iso(self.time),
                "still_present": self.still_present, "removed_at": iso(self.removed_at),
                "evidence": self.evidence.to_json() if self.evidence else None,
                "removal_evidence": (self.removal_evidence.to_json()
                                     if self.removal_evidence else None)}


@dataclass
class Downtime:
    resource: str
    start: datetime | None  # stop / delete
    end: datetime | None  # start again; None while still down at the end of the evidence
    operation: str

    def to_json(self) -> dict[str, Any]:
        return {"resource": self.resource, "start": iso(self.start), "end": iso(self.end),
                "operation": self.operation}


@dataclass
class Impact:
    instances: list[str] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    buckets: list[str] = field(default_factory=list)
    accounts: list[str] = field(default_factory=list)
    downtime: list[Downtime] = field(default_factory=list)
    data_bytes: int = 0  # sum of the exfiltration bytes the evidence states

    def to_json(self) -> dict[str, Any]:
        return {"instances": self.instances, "hosts": self.hosts, "keys": self.keys,
                "buckets": self.buckets, "accounts": self.accounts,
                "downtime": [item.to_json() for item in self.downtime],
                "data_bytes": self.data_bytes}


@dataclass
class Indicator:
    """An indicator of the attacker's infrastructure or tooling."""

    kind: str  # ipv4-addr | ipv6-addr | domain-name | url | user-agent | access-key | file
    value: str
    first: datetime | None
    last: datetime | None
    steps: int  # chain steps it appears in
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "value": self.value, "first": iso(self.first),
                "last": iso(self.last), "steps": self.steps, "note": self.note}


@dataclass
class Hub:
    """An entity left out of the grouping because it touches too much to mean anything."""

    ref: EntityRef
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {**self.ref.to_json(), "reason": self.reason}


@dataclass
class Incident:
    id: str
    score: float  # 0–100
    severity: str  # critical | high | medium | low | informational
    first: datetime | None
    last: datetime | None
    title: str
    alerts: int
    alert_ids: list[str]
    entities: list[Entity]
    chain: list[Step]
    entry_point: EntryPoint | None
    lateral_movement: list[Hop]
    exfiltration: list[Exfiltration]
    persistence: list[Persistence]
    impact: Impact
    indicators: list[Indicator]
    tactics: list[str]
    techniques: list[str]
    score_parts: dict[str, float] = field(default_factory=dict)
    context_events: int = 0  # unalerted events added to the chain
    next_steps: list[str] = field(default_factory=list)  # what the responder should do now

    @property
    def hop_count(self) -> int:
        return len(self.lateral_movement)

    @property
    def exfiltrated_bytes(self) -> int:
        return sum(item.bytes or 0 for item in self.exfiltration)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "title": self.title, "score": round(self.score, 1),
            "severity": self.severity, "score_parts": self.score_parts,
            "first": iso(self.first), "last": iso(self.last),
            "alerts": self.alerts, "alert_ids": self.alert_ids,
            "tactics": self.tactics, "techniques": self.techniques,
            "entities": [item.to_json() for item in self.entities],
            "chain": [step.to_json() for step in self.chain],
            "context_events": self.context_events,
            "entry_point": self.entry_point.to_json() if self.entry_point else None,
            "lateral_movement": [hop.to_json() for hop in self.lateral_movement],
            "hop_count": self.hop_count,
            "exfiltration": [item.to_json() for item in self.exfiltration],
            "exfiltrated_bytes": self.exfiltrated_bytes,
            "persistence": [item.to_json() for item in self.persistence],
            "impact": self.impact.to_json(),
            "indicators": [item.to_json() for item in self.indicators],
            "next_steps": self.next_steps,
        }


@dataclass
class TraceResult:
    """All incidents of a case, ranked by score, and what the grouping left out."""

    incidents: list[Incident]
    alerts: int  # alerts read
    hubs: list[Hub]
    window_seconds: dict[str, int]  # the linking windows used, per entity kind
    unlinked_alerts: int = 0  # alerts forming one-alert incidents
    #: single-alert incidents beyond the detailed ones: stored in the case (table
    #: `incidents`, with `"summarised": true` documents), not in `incidents`
    summarised_incidents: int = 0

    @property
    def incident_count(self) -> int:
        return len(self.incidents) + self.summarised_incidents

    def to_json(self) -> dict[str, Any]:
        return {"alerts": self.alerts, "incidents": self.incident_count,
                "detailed_incidents": len(self.incidents),
                "summarised_incidents": self.summarised_incidents,
                "unlinked_alerts": self.unlinked_alerts,
                "hubs": [hub.to_json() for hub in self.hubs],
                "windows": self.window_seconds}


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).replace(tzinfo=None)


def _evidence(data: Any) -> EvidenceRef | None:
    if not data:
        return None
    return EvidenceRef(data.get("source_type", ""), data.get("file"), data.get("record"),
                       data.get("id", ""))


def _ref(data: Any) -> EntityRef | None:
    return EntityRef(data["kind"], data["value"]) if data else None


def incident_from_json(data: dict[str, Any]) -> Incident:
    """An Incident back from its `to_json()` (incidents.json, the case's `incidents` table)."""
    impact = data.get("impact") or {}
    entry = data.get("entry_point")
    return Incident(
        id=data["id"], score=float(data.get("score", 0.0)), severity=data.get("severity", ""),
        first=_time(data.get("first")), last=_time(data.get("last")),
        title=data.get("title", ""), alerts=int(data.get("alerts", 0)),
        alert_ids=list(data.get("alert_ids", [])),
        entities=[Entity(EntityRef(e["kind"], e["value"]), e.get("role", "unknown"),
                         _time(e.get("first")), _time(e.get("last")), int(e.get("alerts", 0)),
                         e.get("note", "")) for e in data.get("entities", [])],
        chain=[Step(time=_time(s.get("time")), last=_time(s.get("last")),
                    tactic=s.get("tactic", ""), technique=s.get("technique", ""),
                    technique_name=s.get("technique_name", ""), rule=dict(s.get("rule", {})),
                    evidence=_evidence(s.get("evidence")) or EvidenceRef("", None, None, ""),
                    alerts=int(s.get("alerts", 1)),
                    entities=[EntityRef(r["kind"], r["value"]) for r in s.get("entities", [])],
                    link=s.get("link", ""), context=bool(s.get("context")),
                    tactics=list(s.get("tactics", []))) for s in data.get("chain", [])],
        entry_point=EntryPoint(
            time=_time(entry.get("time")), tactic=entry.get("tactic", ""),
            technique=entry.get("technique", ""), rule=entry.get("rule", ""),
            host=entry.get("host"), entity=_ref(entry.get("entity")),
            evidence=_evidence(entry.get("evidence")),
            description=entry.get("description", "")) if entry else None,
        lateral_movement=[Hop(h["from"], h["to"], _time(h.get("time")), h.get("method", ""),
                              _evidence(h.get("evidence")), int(h.get("uses", 1)))
                          for h in data.get("lateral_movement", [])],
        exfiltration=[Exfiltration(x["destination"], x.get("bytes"), x.get("channel", ""),
                                   x.get("source"), _time(x.get("first")),
                                   _time(x.get("last")), int(x.get("records", 0)),
                                   x.get("objects")) for x in data.get("exfiltration", [])],
        persistence=[Persistence(p.get("mechanism", ""), p.get("technique", ""),
                                 p.get("target", ""), _time(p.get("time")),
                                 p.get("still_present"), _time(p.get("removed_at")),
                                 _evidence(p.get("evidence")),
                                 _evidence(p.get("removal_evidence")))
                     for p in data.get("persistence", [])],
        impact=Impact(instances=list(impact.get("instances", [])),
                      hosts=list(impact.get("hosts", [])), keys=list(impact.get("keys", [])),
                      buckets=list(impact.get("buckets", [])),
                      accounts=list(impact.get("accounts", [])),
                      downtime=[Downtime(d.get("resource", ""), _time(d.get("start")),
                                         _time(d.get("end")), d.get("operation", ""))
                                for d in impact.get("downtime", [])],
                      data_bytes=int(impact.get("data_bytes", 0))),
        indicators=[Indicator(i["kind"], i["value"], _time(i.get("first")),
                              _time(i.get("last")), int(i.get("steps", 0)), i.get("note", ""))
                    for i in data.get("indicators", [])],
        tactics=list(data.get("tactics", [])), techniques=list(data.get("techniques", [])),
        score_parts=dict(data.get("score_parts", {})),
        context_events=int(data.get("context_events", 0)),
        next_steps=list(data.get("next_steps", [])))
