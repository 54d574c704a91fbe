"""``attack-layer.json``: an ATT&CK Navigator layer (format 4.5) of the techniques seen.

One technique entry per (technique, tactic) of the alerted chain steps of all incidents,
scored by alerts; a parent technique of a seen sub-technique is added unscored, with its
sub-techniques shown, so the Navigator opens on them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from trailguard.report.attack import TechniqueUse, is_technique_id, technique_uses
from trailguard.trace.model import TraceResult

VERSIONS = {"attack": "18", "navigator": "5.1.0", "layer": "4.5"}
#: White to red: more alerts, hotter.
GRADIENT_COLORS = ["#ffffff", "#ffb3a7", "#e34a33"]


def _entry(use: TechniqueUse) -> dict[str, Any]:
    entry: dict[str, Any] = {"techniqueID": use.technique}
    if use.tactic:
        entry["tactic"] = use.tactic
    entry.update({
        "score": use.alerts,
        "comment": "Incidents: " + ", ".join(use.incidents),
        "enabled": True,
        "metadata": (
            [{"name": "incident", "value": incident} for incident in use.incidents]
            + [{"name": "rule", "value": rule} for rule in use.rules]
            + [{"name": "steps", "value": str(use.steps)}]
        ),
    })
    return entry


def _parent_entries(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Unscored parents of seen sub-techniques, and ``showSubtechniques`` on seen parents."""
    by_key = {(entry["techniqueID"], entry.get("tactic")): entry for entry in entries}
    added: list[dict[str, Any]] = []
    for entry in entries:
        technique, _, sub = entry["techniqueID"].partition(".")
        if not sub:
            continue
        key = (technique, entry.get("tactic"))
        parent = by_key.get(key)
        if parent is None:
            parent = {"techniqueID": technique}
            if key[1]:
                parent["tactic"] = key[1]
            parent.update({"comment": "", "enabled": True, "metadata": []})
            by_key[key] = parent
            added.append(parent)
        parent["showSubtechniques"] = True
    return added


def build_layer(result: TraceResult, *, title: str) -> dict[str, Any]:
    """The layer as a dict, ready for JSON."""
    uses = [use for use in technique_uses(result.incidents) if is_technique_id(use.technique)]
    entries = [_entry(use) for use in uses]
    entries += _parent_entries(entries)
    max_score = max((use.alerts for use in uses), default=0)
    incidents = ", ".join(incident.id for incident in result.incidents)
    return {
        "name": title,
        "versions": dict(VERSIONS),
        "domain": "enterprise-attack",
        "description": (f"Techniques of the alerted chain steps of {len(result.incidents)} "
                        f"incident(s): {incidents}. Score: number of alerts."),
        "sorting": 3,
        "layout": {
            "layout": "side", "aggregateFunction": "sum", "showID": True, "showName": True,
            "showAggregateScores": True, "countUnscored": False,
            "expandedSubtechniques": "annotated",
        },
        "hideDisabled": False,
        "techniques": entries,
        "gradient": {"colors": list(GRADIENT_COLORS), "minValue": 0,
                     "maxValue": max(1, max_score)},
        "legendItems": [],
        "showTacticRowBackground": False,
        "tacticRowBackground": "#dddddd",
        "selectTechniquesAcrossTactics": True,
        "selectSubtechniquesWithParent": False,
        "selectVisibleTechniques": False,
        "metadata": [{"name": "generator", "value": "TrailGuard"}],
    }


def write_navigator(result: TraceResult, path: Path, *, title: str) -> Path:
    """Write ``attack-layer.json`` and return its path."""
    path.write_bytes(orjson.dumps(build_layer(result, title=title), option=orjson.OPT_INDENT_2))
    return path
