"""``report.html``: one self-contained page (inline CSS and SVG, no script) per trace result.

Everything shown comes from evidence, so everything is attacker-controlled: the Jinja2
environment autoescapes every value, templates never place a value inside ``<style>``, a
``style`` attribute or a URL, and colours come from fixed tables (``palette``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import jinja2

from trailguard.display import visible
from trailguard.report.attack import (
    ENTERPRISE_TACTICS,
    TechniqueUse,
    step_tactic,
    tactic_name,
    tactic_order,
    technique_uses,
)
from trailguard.report.graph import NODE_HEIGHT, NODE_WIDTH, AttackGraph, attack_graph
from trailguard.report.palette import heat, role_color, tactic_color
from trailguard.trace.model import EvidenceRef, Incident, Step, TraceResult, human_bytes, iso

#: Chain rows shown per incident; the rest are in incidents.json.
MAX_CHAIN_ROWS = 500
TIMELINE_WIDTH = 960
TIMELINE_LABEL = 150
LANE_HEIGHT = 16


@dataclass
class TimelineMark:
    x: int
    y: int
    width: int
    color: str
    title: str
    context: bool  # every merged step is a context event: drawn hollow


@dataclass
class TimelineStrip:
    width: int
    height: int
    lanes: list[tuple[str, int]] = field(default_factory=list)  # (tactic name, y)
    marks: list[TimelineMark] = field(default_factory=list)
    start: str = ""
    end: str = ""
    untimed: int = 0


@dataclass
class HeatColumn:
    tactic: str
    name: str
    color: str
    cells: list[tuple[TechniqueUse, str]]  # (use, shade)


@dataclass
class IncidentView:
    rank: int
    anchor: str
    incident: Incident
    rows: list[Step]
    more_steps: int
    timeline: TimelineStrip
    graph: AttackGraph
    heatmap: list[HeatColumn]


def evidence_label(evidence: EvidenceRef | None) -> str:
    """'file:record' of an evidence reference; its source type when it names no file."""
    if evidence is None:
        return ""
    if evidence.file is None:
        return evidence.source_type
    return evidence.file if evidence.record is None else f"{evidence.file}:{evidence.record}"


def when(value: datetime | None) -> str:
    return iso(value) or "—"


def present(value: bool | None) -> str:
    return "unknown" if value is None else ("yes" if value else "no")


def timeline_strip(chain: list[Step]) -> TimelineStrip:
    """Steps over time, one lane per tactic; steps falling on the same pixel merge."""
    timed = [(step, step.time) for step in chain if step.time is not None]
    lanes = tactic_order(step_tactic(step) for step, _ in timed)
    lane_y = {tactic: 4 + index * LANE_HEIGHT for index, tactic in enumerate(lanes)}
    strip = TimelineStrip(TIMELINE_WIDTH, 24 + max(1, len(lanes)) * LANE_HEIGHT,
                          [(tactic_name(tactic), lane_y[tactic]) for tactic in lanes],
                          untimed=len(chain) - len(timed))
    if not timed:
        return strip
    first = min(moment for _, moment in timed)
    last = max(moment for _, moment in timed)
    strip.start, strip.end = when(first), when(last)
    start, end = first.timestamp(), last.timestamp()
    span = max(end - start, 1.0)
    usable = TIMELINE_WIDTH - TIMELINE_LABEL - 10
    merged: dict[tuple[int, str], list[Step]] = {}
    for step, moment in timed:
        x = TIMELINE_LABEL + round((moment.timestamp() - start) / span * usable)
        merged.setdefault((x, step_tactic(step)), []).append(step)
    for (x, tactic), steps in sorted(merged.items(), key=lambda item: (item[0][0], item[0][1])):
        titles = list(dict.fromkeys(str(step.rule.get("title") or "") for step in steps))
        title = (f"{iso(steps[0].time)} {tactic_name(tactic)}: {len(steps)} step(s): "
                 + "; ".join(titles[:3]) + (" …" if len(titles) > 3 else ""))
        context = all(step.context for step in steps)
        strip.marks.append(TimelineMark(x, lane_y[tactic], 4, tactic_color(tactic), title,
                                        context))
    return strip


def heatmap(incident: Incident) -> list[HeatColumn]:
    """The 14 enterprise tactics as columns (plus any other tactic seen), with the techniques
    seen under each, shaded by alerts."""
    uses = technique_uses([incident])
    most = max((use.alerts for use in uses), default=0)
    tactics = list(ENTERPRISE_TACTICS) + [tactic for tactic in tactic_order(
        use.tactic for use in uses) if tactic not in ENTERPRISE_TACTICS]
    return [HeatColumn(tactic, tactic_name(tactic), tactic_color(tactic),
                       [(use, heat(use.alerts, most)) for use in uses if use.tactic == tactic])
            for tactic in tactics]


def incident_view(rank: int, incident: Incident) -> IncidentView:
    return IncidentView(
        rank=rank, anchor=f"incident-{rank}", incident=incident,
        rows=incident.chain[:MAX_CHAIN_ROWS],
        more_steps=max(0, len(incident.chain) - MAX_CHAIN_ROWS),
        timeline=timeline_strip(incident.chain), graph=attack_graph(incident),
        heatmap=heatmap(incident))


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The report's Jinja2 environment: package templates, autoescape always on."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("trailguard.report", "templates"),
        autoescape=True, finalize=visible, undefined=jinja2.StrictUndefined, trim_blocks=True,
        lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(when=when, human_bytes=human_bytes, evidence=evidence_label,
                       tactic_name=tactic_name, tactic_color=tactic_color,
                       role_color=role_color, present=present)
    env.globals.update(node_width=NODE_WIDTH, node_height=NODE_HEIGHT)
    return env


def render_html(result: TraceResult, *, title: str) -> str:
    """The report page as text."""
    views = [incident_view(rank, incident)
             for rank, incident in enumerate(result.incidents, start=1)]
    return environment().get_template("report.html.j2").render(
        title=title, result=result, views=views, max_rows=MAX_CHAIN_ROWS)


def write_html(result: TraceResult, path: Path, *, title: str) -> Path:
    """Write ``report.html`` and return its path."""
    path.write_text(render_html(result, title=title), encoding="utf-8")
    return path
