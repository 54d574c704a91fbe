"""The chain of one incident: its alerts as ordered ATT&CK steps, the entities and their roles,
the entry point, persistence, indicators and the score.

Lateral movement, exfiltration, impact and context events read the case beyond the alerts and
live in `trailguard.trace.evidence`.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import datetime

from trailguard.detect.attack import technique as technique_info
from trailguard.trace.entities import ip_scope
from trailguard.trace.model import (
    Entity,
    EntityRef,
    EntryPoint,
    EvidenceRef,
    Indicator,
    Step,
)

LEVEL_WEIGHT = {"critical": 10.0, "high": 7.0, "medium": 4.0, "low": 2.0,
                "informational": 0.5}
ENTRY_TACTICS = ("initial-access", "execution")
#: Entity kinds that make an entry point's "first attacker-controlled entity", best first.
ENTRY_ENTITY_ORDER = ("process", "access_key", "ip", "principal", "session", "user", "domain")


@dataclass(slots=True)
class AlertInfo:
    """One alert as the tracer sees it."""

    idx: int
    alert_id: str
    time: datetime | None
    level: str
    rule: dict[str, str]
    techniques: list[str]
    tactics: list[str]
    evidence: EvidenceRef
    operation: str | None
    entities: list[EntityRef]
    src_ip: str | None = None
    actor: frozenset[EntityRef] = frozenset()  # the event's own key and principal
    host: str | None = None
    resource: str | None = None
    command: str | None = None
    url: str | None = None
    link: str = ""

    @property
    def tactic(self) -> str:
        return self.tactics[0] if self.tactics else ""

    @property
    def technique(self) -> str:
        return self.techniques[0] if self.techniques else ""



@dataclass
class Roles:
    """Which entities of an incident are the attacker's."""

    attacker_ips: set[str] = field(default_factory=set)
    attacker_keys: set[str] = field(default_factory=set)
    attacker_principals: dict[str, datetime | None] = field(default_factory=dict)
    attacker_processes: set[str] = field(default_factory=set)
    attacker_domains: set[str] = field(default_factory=set)
    attacker_sessions: set[str] = field(default_factory=set)  # host login sessions
    created: set[EntityRef] = field(default_factory=set)

    def is_attacker(self, ref: EntityRef) -> bool:
        if ref.kind == "ip":
            return ref.value in self.attacker_ips
        if ref.kind == "access_key":
            return ref.value in self.attacker_keys
        if ref.kind in ("principal", "session"):
            return ref.value in self.attacker_principals or ref.value in self.attacker_sessions
        if ref.kind == "process":
            return ref.value in self.attacker_processes
        if ref.kind == "domain":
            return ref.value in self.attacker_domains
        return ref in self.created


# API calls and host events whose named entity the attacker then owns.
CREATING_OPERATIONS = frozenset({
    "CreateUser", "CreateAccessKey", "CreateLoginProfile", "AttachPolicyToUser",
    "AttachUserPolicy", "PutUserPolicy", "CreateRole", "ADD_USER", "useradd",
})
# Alert tactics whose destination addresses are the attacker's.
OUTBOUND_TACTICS = frozenset({"command-and-control", "exfiltration"})
_FLOW_SOURCES = frozenset({"vpcflow_aliyun", "vpcflow_aws", "zeek"})
_FLOW_SOURCES = frozenset({"vpcflow_aliyun", "vpcflow_aws", "zeek"})
_HOST_SOURCES = frozenset({"auditd", "syslog", "evtx", "windows_json", "sysmon_linux",
                           "shell_history"})


def assign_roles(alerts: list[AlertInfo], hub_values: set[EntityRef]) -> Roles:
    """Attacker infrastructure: public addresses that called APIs, logged in or sent web
    requests in alerted events of at least medium level, destinations of alerted C2 and
    exfiltration, addresses and domains in alerted command lines; then the keys and principals
    used from those addresses, and what the attacker created."""
    roles = Roles()
    for alert in alerts:
        if LEVEL_WEIGHT.get(alert.level, 1.0) < LEVEL_WEIGHT["medium"]:
            continue  # a low or informational alert alone makes no address the attacker's
        refs = [ref for ref in alert.entities if ref not in hub_values]
        ips = [ref.value for ref in refs if ref.kind == "ip" and ip_scope(ref.value) == "public"]
        # a flow alert names the attacker's address only for outbound C2 or exfiltration
        if alert.evidence.source_type not in _FLOW_SOURCES or set(alert.tactics) & OUTBOUND_TACTICS:
            roles.attacker_ips.update(ips)
        roles.attacker_processes.update(ref.value for ref in refs if ref.kind == "process")
        roles.attacker_domains.update(ref.value for ref in refs if ref.kind == "domain")
        if alert.evidence.source_type in _HOST_SOURCES:  # the login session the attack ran in
            roles.attacker_sessions.update(ref.value for ref in refs if ref.kind == "session")
    for alert in alerts:
        refs = [ref for ref in alert.entities if ref not in hub_values]
        from_attacker = any(ref.kind == "ip" and ref.value in roles.attacker_ips for ref in refs)
        if not from_attacker:
            continue
        for ref in refs:
            if ref.kind == "access_key":
                roles.attacker_keys.add(ref.value)
            elif ref.kind in ("principal", "session"):
                roles.attacker_principals.setdefault(ref.value, alert.time)
    for alert in alerts:
        if alert.operation in CREATING_OPERATIONS:
            actor_is_attacker = any(roles.is_attacker(ref) for ref in alert.actor)
            if actor_is_attacker or alert.evidence.source_type in _HOST_SOURCES:
                for ref in alert.entities:
                    if ref.kind in ("access_key", "principal", "user") and ref not in alert.actor:
                        roles.created.add(ref)
                        if ref.kind == "access_key":
                            roles.attacker_keys.add(ref.value)
                        elif ref.kind == "principal":
                            roles.attacker_principals.setdefault(ref.value, alert.time)
    return roles


def build_steps(alerts: list[AlertInfo]) -> list[Step]:
    """Alerts in time order; consecutive alerts of one rule collapse into one step."""
    steps: list[Step] = []
    for alert in alerts:
        last = steps[-1] if steps else None
        if last is not None and not last.context and last.rule.get("id") == alert.rule.get("id"):
            last.alerts += 1
            last.last = alert.time
            for ref in alert.entities:
                if ref not in last.entities and len(last.entities) < 64:
                    last.entities.append(ref)
            continue
        found = technique_info(alert.technique) if alert.technique else None
        steps.append(Step(
            time=alert.time, last=alert.time, tactic=alert.tactic, technique=alert.technique,
            technique_name=found[0] if found else "", rule=alert.rule,
            evidence=alert.evidence, alerts=1, entities=list(alert.entities[:64]),
            link=alert.link, tactics=list(alert.tactics)))
    return steps


def find_entry_point(steps: list[Step], roles: Roles) -> EntryPoint | None:
    alerted = [step for step in steps if not step.context]
    if not alerted:
        return None
    # the earliest initial access (else execution) that involves an attacker entity, else the
    # earliest of at least medium level, else the earliest of any
    involved = [step for step in alerted if any(
        roles.is_attacker(ref) for ref in step.entities if ref.kind != "process")]
    serious = [step for step in alerted
               if LEVEL_WEIGHT.get(str(step.rule.get("level")), 1.0) >= LEVEL_WEIGHT["medium"]]
    entry = next((step for tactic in ENTRY_TACTICS for candidates in (involved, serious, alerted)
                  for step in candidates if step.tactic == tactic), alerted[0])
    host = next((ref.value for ref in entry.entities if ref.kind == "host"), None)
    if host is None:
        host = next((ref.value for ref in entry.entities if ref.kind == "instance"), None)
    entity = None
    for kind in ENTRY_ENTITY_ORDER:
        entity = next((ref for ref in entry.entities
                       if ref.kind == kind and (roles.is_attacker(ref) or kind == "process")),
                      None)
        if entity is not None:
            break
    where = f" on {host}" if host else ""
    return EntryPoint(
        time=entry.time, tactic=entry.tactic, technique=entry.technique,
        rule=str(entry.rule.get("title", "")), host=host, entity=entity,
        evidence=entry.evidence,
        description=f"{entry.rule.get('title', '')}{where}"
                    + (f" by {entity.value}" if entity else ""))


def collect_entities(alerts: list[AlertInfo], roles: Roles,
                     notes: dict[EntityRef, str]) -> list[Entity]:
    seen: dict[EntityRef, Entity] = {}
    for alert in alerts:
        for ref in alert.entities:
            entity = seen.get(ref)
            if entity is None:
                role = "attacker" if roles.is_attacker(ref) else (
                    "victim" if ref.kind in ("host", "instance", "bucket", "security_group")
                    else "unknown")
                seen[ref] = Entity(ref, role, alert.time, alert.time, 1, notes.get(ref, ""))
            else:
                entity.alerts += 1
                entity.last = alert.time or entity.last
    return sorted(seen.values(), key=lambda e: (e.role != "attacker", -e.alerts, e.ref))


_INDICATOR_KIND = {"ip": "ipv4-addr", "domain": "domain-name", "user_agent": "user-agent",
                   "access_key": "access-key"}


def collect_indicators(steps: list[Step], roles: Roles,
                       extra: dict[str, tuple[datetime | None, str]]) -> list[Indicator]:
    """Attacker infrastructure and tooling seen in the steps, most widely seen first.
    `extra`: addresses found beyond the alerts (what attacker processes connected to)."""
    found: dict[tuple[str, str], Indicator] = {}
    attacker_agents: set[str] = set()
    for step in steps:
        if any(ref.kind == "ip" and ref.value in roles.attacker_ips for ref in step.entities):
            attacker_agents.update(ref.value for ref in step.entities if ref.kind == "user_agent")
    for step in steps:
        for ref in step.entities:
            wanted = (roles.is_attacker(ref) and ref.kind in _INDICATOR_KIND) or (
                ref.kind == "user_agent" and ref.value in attacker_agents)
            if not wanted:
                continue
            kind = _INDICATOR_KIND[ref.kind]
            if kind == "ipv4-addr" and ":" in ref.value:
                kind = "ipv6-addr"
            key = (kind, ref.value)
            item = found.get(key)
            if item is None:
                found[key] = Indicator(kind, ref.value, step.time, step.last or step.time, 1)
            else:
                item.steps += 1
                item.last = step.last or step.time or item.last
    for address, (when, note) in extra.items():
        key = ("ipv6-addr" if ":" in address else "ipv4-addr", address)
        if key in found:
            found[key].note = found[key].note or note
        else:
            found[key] = Indicator(key[0], address, when, when, 0, note)
    return sorted(found.values(), key=lambda i: (-i.steps, i.kind, i.value))


def score(alerts: list[AlertInfo], tactics: list[str], rule_share: dict[str, float]
          ) -> tuple[float, dict[str, float]]:
    """0–100 from severity (40), tactic coverage (30), rarity of the rules (20) and volume
    (10). Rarity: a rule that produces a large share of the case's alerts says little."""
    worst = max((LEVEL_WEIGHT.get(alert.level, 1.0) for alert in alerts), default=0.0)
    severity = 40.0 * worst / 10.0
    coverage = 30.0 * min(1.0, len(set(tactics)) / 6.0)
    rules = {str(alert.rule.get("id")) for alert in alerts}
    rarity = 20.0 * (sum(1.0 - rule_share.get(rule, 0.0) for rule in rules) / len(rules)
                     if rules else 0.0)
    volume = 10.0 * min(1.0, math.log10(1 + len(alerts)) / 3.0)
    parts = {"severity": round(severity, 1), "tactics": round(coverage, 1),
             "rarity": round(rarity, 1), "volume": round(volume, 1)}
    return min(100.0, severity + coverage + rarity + volume), parts


def severity_label(value: float) -> str:
    for threshold, label in ((80, "critical"), (60, "high"), (40, "medium"), (20, "low")):
        if value >= threshold:
            return label
    return "informational"


def incident_id(alert_ids: list[str]) -> str:
    """A stable id from the incident's alerts (MD5 as a name, not for security; the SQL of
    `singles.ID_SQL` computes the same for one alert)."""
    digest = hashlib.md5(usedforsecurity=False)
    for alert_id in sorted(alert_ids):
        digest.update(alert_id.encode() + b"\0")
    return f"INC-{digest.hexdigest()[:12]}"
