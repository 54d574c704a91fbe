"""``timeline.csv``: every chain step of every incident as a Timesketch row, sorted by time.

Timesketch needs ``datetime``, ``timestamp_desc`` and ``message``; the other columns are
extras it shows as attributes. Cells are hostile: the csv module quotes separators, quotes and
newlines, and a cell a spreadsheet would read as a formula gets a leading apostrophe."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from trailguard.report.attack import step_tactic, tactic_name
from trailguard.trace.model import Incident, Step, TraceResult, iso

COLUMNS = (
    "datetime", "timestamp_desc", "message", "incident", "tactic", "technique", "rule_id",
    "rule_title", "level", "source_type", "evidence_file", "evidence_record", "event_id",
    "alerts",
)

#: First characters that make a spreadsheet evaluate a cell (OWASP CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

#: How many of a step's entities the message names.
MESSAGE_ENTITIES = 5


def defuse(cell: str) -> str:
    """The cell, with a leading apostrophe when a spreadsheet would read it as a formula."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def message(step: Step) -> str:
    """One line a timeline reader understands: tactic, technique, rule and key entities."""
    technique = " ".join(part for part in (step.technique, step.technique_name) if part)
    parts = [f"[{tactic_name(step_tactic(step))}]"]
    if technique:
        parts.append(technique)
    text = " ".join(parts) + ": " + str(step.rule.get("title") or "(untitled rule)")
    if step.entities:
        shown = ", ".join(str(ref) for ref in step.entities[:MESSAGE_ENTITIES])
        more = len(step.entities) - MESSAGE_ENTITIES
        text += f" — {shown}" + (f" (+{more} more)" if more > 0 else "")
    return text


def row(incident: Incident, step: Step) -> list[str]:
    """The CSV cells of one step, defused."""
    evidence = step.evidence
    cells = [
        iso(step.time) or "",
        "Context event" if step.context else "Alert",
        message(step),
        incident.id,
        step_tactic(step),
        step.technique,
        str(step.rule.get("id") or ""),
        str(step.rule.get("title") or ""),
        str(step.rule.get("level") or ""),
        evidence.source_type,
        evidence.file or "",
        "" if evidence.record is None else str(evidence.record),
        evidence.uid,
        str(step.alerts),
    ]
    return [defuse(cell) for cell in cells]


def rows(result: TraceResult) -> Iterator[list[str]]:
    """All steps of all incidents by time; steps without a time last; ties in rank order."""
    keyed: list[tuple[float, int, int, Incident, Step]] = []
    for rank, incident in enumerate(result.incidents):
        for index, step in enumerate(incident.chain):
            moment = step.time.timestamp() if step.time else float("inf")
            keyed.append((moment, rank, index, incident, step))
    keyed.sort(key=lambda item: item[:3])
    for _, _, _, incident, step in keyed:
        yield row(incident, step)


def write_timeline(result: TraceResult, path: Path) -> Path:
    """Write ``timeline.csv`` (UTF-8, RFC 4180 quoting) and return its path."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        writer.writerows(rows(result))
    return path
