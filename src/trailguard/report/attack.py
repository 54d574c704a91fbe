"""ATT&CK bookkeeping shared by the report writers: tactic order and names, technique names,
and the alerts each (technique, tactic) pair gathered across incidents."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from trailguard.detect import attack
from trailguard.trace.model import Incident, Step

#: The 14 enterprise tactics, in kill-chain order.
ENTERPRISE_TACTICS = (
    "reconnaissance", "resource-development", "initial-access", "execution", "persistence",
    "privilege-escalation", "defense-evasion", "credential-access", "discovery",
    "lateral-movement", "collection", "command-and-control", "exfiltration", "impact",
)

_TECHNIQUE_ID = re.compile(r"^T\d{4}(\.\d{3})?$")


def is_technique_id(value: str) -> bool:
    """True for an ATT&CK technique or sub-technique id ('T1078', 'T1078.004')."""
    return bool(_TECHNIQUE_ID.match(value))


def tactic_order(tactics: Iterable[str]) -> list[str]:
    """The given tactic shortnames in enterprise order, unknown ones after them (sorted)."""
    seen = set(tactics)
    known = [tactic for tactic in ENTERPRISE_TACTICS if tactic in seen]
    return known + sorted(seen.difference(ENTERPRISE_TACTICS))


def tactic_name(shortname: str) -> str:
    """Display name of a tactic ('Initial Access'); the shortname itself when unknown."""
    if not shortname:
        return "(no tactic)"
    return attack.tactic_names().get(shortname, shortname)


def technique_name(technique_id: str, fallback: str = "") -> str:
    """Name of a technique from the offline ATT&CK data, else ``fallback``."""
    found = attack.technique(technique_id) if is_technique_id(technique_id) else None
    return found[0] if found else fallback


def step_tactic(step: Step) -> str:
    """The step's tactic; when the rule names none, the first (in enterprise order) tactic of
    its technique; '' when neither is known."""
    if step.tactic:
        return step.tactic
    found = attack.technique(step.technique) if is_technique_id(step.technique) else None
    if not found:
        return ""
    ordered = tactic_order(found[1])
    return ordered[0] if ordered else ""


@dataclass
class TechniqueUse:
    """Alerted chain steps of one technique under one tactic, over one or more incidents."""

    technique: str
    tactic: str
    name: str
    alerts: int = 0
    steps: int = 0
    incidents: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)


def technique_uses(incidents: Iterable[Incident]) -> list[TechniqueUse]:
    """One entry per (technique, tactic) of the alerted steps, ordered by tactic then technique.

    Context steps are left out: they are unalerted events, not detections. A step that names
    a tactic but no technique counts under the technique ''."""
    uses: dict[tuple[str, str], TechniqueUse] = {}
    for incident in incidents:
        for step in incident.chain:
            if step.context:
                continue
            tactic = step_tactic(step)
            key = (step.technique, tactic)
            use = uses.get(key)
            if use is None:
                name = technique_name(step.technique, step.technique_name)
                use = uses[key] = TechniqueUse(step.technique, tactic, name)
            use.alerts += step.alerts
            use.steps += 1
            if incident.id not in use.incidents:
                use.incidents.append(incident.id)
            title = str(step.rule.get("title") or "")
            if title and title not in use.rules:
                use.rules.append(title)
    rank = {tactic: index for index, tactic in enumerate(tactic_order(t for _, t in uses))}
    return sorted(uses.values(), key=lambda use: (rank[use.tactic], use.technique))
