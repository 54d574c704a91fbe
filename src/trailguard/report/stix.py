"""``iocs.stix.json``: a STIX 2.1 bundle of the incidents, their indicators and techniques.

Per incident an ``incident`` (a STIX 2.1 stub SDO: name, description, kill-chain phases),
``indicator`` objects with STIX patterns, ``attack-pattern`` objects for the ATT&CK
techniques, a ``sighting`` of each indicator, and relationships: ``indicates`` from an
indicator to the techniques of the chain steps naming it, ``related-to`` from the incident to
its indicators and techniques (STIX 2.1 defines no other relationship for an incident).

The bundle is deterministic: ids are uuid5 of the content in a fixed namespace, and every
object's ``created``/``modified`` is the end of the evidence (the latest time in the case).
Indicator values are attacker-controlled: they only ever enter a pattern as a string literal,
with backslashes and quotes escaped as the STIX patterning grammar requires."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import stix2  # type: ignore[import-untyped]

from trailguard.report.attack import ENTERPRISE_TACTICS, is_technique_id, technique_name
from trailguard.trace.model import EntityRef, Incident, Indicator, TraceResult, iso

#: Namespace of TrailGuard's STIX ids (fixed: the same content always gets the same id).
NAMESPACE = uuid.UUID("6f0b4c8e-2d4a-5e7b-9c1d-7a3e5b9f2c10")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: Indicator kind -> entity kind of the chain steps that name it.
ENTITY_KIND = {
    "ipv4-addr": "ip", "ipv6-addr": "ip", "domain-name": "domain", "url": "url",
    "user-agent": "user_agent", "access-key": "access_key", "file": "file",
}
_HASHES = {32: "MD5", 40: "SHA-1", 64: "SHA-256"}
_HEX = re.compile(r"^[0-9a-fA-F]+$")


def literal(value: str) -> str:
    """A STIX pattern string literal: quoted, with ``\\`` and ``'`` escaped (the only escapes
    the grammar knows; every other character, newlines included, stands as itself)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _file_pattern(value: str) -> str:
    if len(value) in _HASHES and _HEX.match(value):
        return f"[file:hashes.'{_HASHES[len(value)]}' = {literal(value.lower())}]"
    cut = max(value.rfind("/"), value.rfind("\\"))
    if cut < 0 or cut == len(value) - 1:
        return f"[file:name = {literal(value)}]"
    directory = value[:cut] or value[0]
    return (f"[file:name = {literal(value[cut + 1:])} AND "
            f"file:parent_directory_ref.path = {literal(directory)}]")


def pattern(indicator: Indicator) -> str | None:
    """The STIX pattern of an indicator, None for a kind STIX has no object for."""
    value = indicator.value
    match indicator.kind:
        case "ipv4-addr" | "ipv6-addr" | "domain-name" | "url":
            return f"[{indicator.kind}:value = {literal(value)}]"
        case "user-agent":
            return ("[network-traffic:extensions.'http-request-ext'.request_header."
                    f"'User-Agent' = {literal(value)}]")
        case "access-key":
            # A cloud access key id names the credential of an account: user-account.user_id.
            return f"[user-account:user_id = {literal(value)}]"
        case "file":
            return _file_pattern(value)
    return None


def attack_url(technique_id: str) -> str:
    """The technique's page on attack.mitre.org ('T1078.004' -> .../T1078/004/)."""
    return "https://attack.mitre.org/techniques/" + technique_id.replace(".", "/") + "/"


def stix_id(kind: str, *content: str) -> str:
    """A deterministic STIX id of ``kind`` for ``content``."""
    return f"{kind}--{uuid.uuid5(NAMESPACE, chr(31).join((kind, *content)))}"


def _latest(result: TraceResult) -> datetime:
    times = [moment for incident in result.incidents
             for moment in (incident.first, incident.last,
                            *(step.last or step.time for step in incident.chain))
             if moment is not None]
    return max(times, default=EPOCH)


@dataclass
class _Technique:
    name: str
    tactics: set[str] = field(default_factory=set)


@dataclass
class _BundleBuilder:
    stamp: datetime
    incidents: list[Any] = field(default_factory=list)
    techniques: dict[str, _Technique] = field(default_factory=dict)
    indicators: dict[str, Any] = field(default_factory=dict)
    sightings: list[Any] = field(default_factory=list)
    relationships: dict[str, Any] = field(default_factory=dict)

    def _common(self) -> dict[str, Any]:
        return {"created": self.stamp, "modified": self.stamp}

    def relate(self, source: str, kind: str, target: str) -> None:
        identifier = stix_id("relationship", source, kind, target)
        if identifier not in self.relationships:
            self.relationships[identifier] = stix2.Relationship(
                id=identifier, source_ref=source, relationship_type=kind, target_ref=target,
                **self._common())

    def technique(self, technique_id: str, name: str, tactic: str) -> str:
        known = self.techniques.setdefault(technique_id,
                                           _Technique(technique_name(technique_id, name)))
        if tactic:
            known.tactics.add(tactic)
        return stix_id("attack-pattern", technique_id)

    def indicator(self, incident: Incident, indicator: Indicator) -> str | None:
        text = pattern(indicator)
        if text is None:
            return None
        identifier = stix_id("indicator", indicator.kind, indicator.value)
        if identifier not in self.indicators:
            self.indicators[identifier] = stix2.Indicator(
                id=identifier, name=f"{indicator.kind} {indicator.value}",
                description=indicator.note or None, pattern=text, pattern_type="stix",
                pattern_version="2.1", indicator_types=["malicious-activity"],
                valid_from=indicator.first or incident.first or self.stamp, **self._common())
        return str(identifier)

    def sighting(self, incident: Incident, indicator: Indicator, indicator_id: str) -> None:
        seen = sorted(moment for moment in (indicator.first, indicator.last) if moment)
        self.sightings.append(stix2.Sighting(
            id=stix_id("sighting", incident.id, indicator_id), sighting_of_ref=indicator_id,
            first_seen=seen[0] if seen else None, last_seen=seen[-1] if seen else None,
            count=min(max(indicator.steps, 0), 999_999_999),
            description=f"Seen in {indicator.steps} chain step(s) of incident {incident.id}",
            **self._common()))

    def add(self, incident: Incident) -> None:
        incident_id = stix_id("incident", incident.id, iso(incident.first) or "", incident.title)
        technique_ids: dict[str, str] = {}
        for step in incident.chain:
            if is_technique_id(step.technique):
                technique_ids[step.technique] = self.technique(
                    step.technique, step.technique_name, step.tactic)
        for indicator in incident.indicators:
            indicator_id = self.indicator(incident, indicator)
            if indicator_id is None:
                continue
            self.sighting(incident, indicator, indicator_id)
            self.relate(incident_id, "related-to", indicator_id)
            for technique in _techniques_naming(incident, indicator):
                self.relate(indicator_id, "indicates", technique_ids[technique])
        for attack_pattern_id in technique_ids.values():
            self.relate(incident_id, "related-to", attack_pattern_id)
        self.incidents.append(stix2.Incident(
            id=incident_id, name=incident.title or incident.id,
            description=_describe(incident),
            kill_chain_phases=[{"kill_chain_name": "mitre-attack", "phase_name": tactic}
                               for tactic in incident.tactics if tactic] or None,
            external_references=[{"source_name": "trailguard", "external_id": incident.id}],
            **self._common()))

    def objects(self) -> list[Any]:
        patterns = [
            stix2.AttackPattern(
                id=stix_id("attack-pattern", technique_id), name=known.name or technique_id,
                external_references=[{"source_name": "mitre-attack",
                                      "external_id": technique_id,
                                      "url": attack_url(technique_id)}],
                kill_chain_phases=[{"kill_chain_name": "mitre-attack", "phase_name": tactic}
                                   for tactic in _tactic_sort(known.tactics)] or None,
                **self._common())
            for technique_id, known in sorted(self.techniques.items())
        ]
        return [*self.incidents, *patterns,
                *(self.indicators[key] for key in sorted(self.indicators)),
                *sorted(self.sightings, key=lambda item: str(item.id)),
                *(self.relationships[key] for key in sorted(self.relationships))]


def _tactic_sort(tactics: Iterable[str]) -> list[str]:
    rank = {tactic: index for index, tactic in enumerate(ENTERPRISE_TACTICS)}
    return sorted(tactics, key=lambda tactic: (rank.get(tactic, len(rank)), tactic))


def _techniques_naming(incident: Incident, indicator: Indicator) -> list[str]:
    """Techniques of the steps whose entities include the indicator's value."""
    kind = ENTITY_KIND.get(indicator.kind)
    ref = EntityRef(kind, indicator.value) if kind else None
    found = {step.technique for step in incident.chain
             if ref in step.entities and is_technique_id(step.technique)}
    return sorted(found)


def _describe(incident: Incident) -> str:
    lines = [f"TrailGuard incident {incident.id}: severity {incident.severity}, "
             f"score {incident.score:.1f}, {incident.alerts} alert(s), "
             f"{iso(incident.first)} to {iso(incident.last)}."]
    if incident.entry_point:
        lines.append(f"Entry point: {incident.entry_point.description}")
    if incident.techniques:
        lines.append("Techniques: " + ", ".join(incident.techniques))
    return "\n".join(lines)


def build_bundle(result: TraceResult) -> Any:
    """The ``stix2.Bundle`` of a trace result."""
    builder = _BundleBuilder(stamp=_latest(result))
    for incident in result.incidents:
        builder.add(incident)
    objects = builder.objects()
    bundle_id = stix_id("bundle", *(str(item.id) for item in objects))
    return stix2.Bundle(objects=objects, id=bundle_id, allow_custom=False)


def write_stix(result: TraceResult, path: Path) -> Path:
    """Write ``iocs.stix.json`` and return its path."""
    path.write_text(build_bundle(result).serialize(pretty=True) + "\n", encoding="utf-8")
    return path
