"""Scoring a trace against labelled public data: the attack stages a dataset's metadata names
(OTRF Security-Datasets `attack_mappings`) and the attacker's address it records.

Used by `bench/trace_acceptance.py` and the data-heavy tests: a stage is found in an incident
when one of its chain steps carries the stage's technique (or a sub-technique of it); the stages
are in order when their first steps are.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from trailguard.trace.model import Incident

# Tactics before the attack reaches the host: the host's evidence cannot show them.
_OFF_HOST_TACTICS = frozenset({"TA0042", "TA0043"})
_LHOST = re.compile(r"set\s+lhost\s+(\S+)", re.IGNORECASE)


@dataclass(frozen=True)
class Stage:
    technique: str  # T1055.002
    tactics: tuple[str, ...]  # TA0005

    def found_in(self, technique: str) -> bool:
        return technique == self.technique or technique.startswith(self.technique + ".") or (
            "." in self.technique and technique == self.technique.split(".")[0])


@dataclass(frozen=True)
class DatasetLabels:
    title: str
    stages: tuple[Stage, ...]
    attacker_addresses: tuple[str, ...]


def read_otrf_metadata(path: Path) -> DatasetLabels:
    document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    stages = []
    for mapping in document.get("attack_mappings") or []:
        tactics = tuple(str(t) for t in mapping.get("tactics") or ())
        if set(tactics) & _OFF_HOST_TACTICS:
            continue
        technique = str(mapping.get("technique", ""))
        sub = mapping.get("sub-technique")
        if sub:
            technique += f".{sub}"
        stages.append(Stage(technique, tactics))
    view = str((document.get("simulation") or {}).get("adversary_view") or "")
    addresses = tuple(dict.fromkeys(_LHOST.findall(view)))
    return DatasetLabels(str(document.get("title", path.stem)), tuple(stages), addresses)


@dataclass
class StageReport:
    incident: str | None
    found: list[str]  # stage techniques found, in the order of their first step
    missing: list[str]
    in_order: bool  # the found stages' first steps follow the labelled order
    attacker_in_indicators: bool

    def as_dict(self) -> dict[str, Any]:
        return {"incident": self.incident, "found": self.found, "missing": self.missing,
                "stages_found": len(self.found), "stages": len(self.found) + len(self.missing),
                "in_order": self.in_order,
                "attacker_in_indicators": self.attacker_in_indicators}


def score_stages(incidents: list[Incident], labels: DatasetLabels) -> StageReport:
    """The incident holding most labelled stages, and how it holds them. Stages that share a
    tactic (discovery: T1082, T1033, T1057) count as one stage, as the issue counts them. The
    stages are in order when their first steps' times never decrease along the labelled order
    (two stages shown by one event, at one time, are not out of order)."""
    groups: dict[tuple[str, ...], list[Stage]] = {}
    for stage in labels.stages:
        groups.setdefault(stage.tactics, []).append(stage)

    def first_times(incident: Incident) -> dict[tuple[str, ...], Any]:
        times: dict[tuple[str, ...], Any] = {}
        for step in incident.chain:
            if step.context or step.time is None:
                continue
            for key, stages in groups.items():
                if key not in times and any(stage.found_in(step.technique) for stage in stages):
                    times[key] = step.time
        return times

    best = max(incidents, key=lambda incident: len(first_times(incident)), default=None)
    if best is None:
        return StageReport(None, [], ["+".join(s.technique for s in g) for g in groups.values()],
                           False, False)
    times = first_times(best)
    order = list(groups)
    found_keys = sorted(times, key=lambda key: (times[key], order.index(key)))
    labelled = [times[key] for key in order if key in times]
    in_order = all(a <= b for a, b in itertools.pairwise(labelled))
    names = {key: "/".join(stage.technique for stage in stages) for key, stages in groups.items()}
    indicators = {indicator.value for indicator in best.indicators}
    return StageReport(
        best.id, [names[key] for key in found_keys],
        [names[key] for key in order if key not in times], in_order,
        bool(labels.attacker_addresses) and all(
            address in indicators for address in labels.attacker_addresses))
