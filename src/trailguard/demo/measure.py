"""The demo's main job and its measurement: ingest the evidence into a case, run the built-in
rule packs, and compare the alerts with the ground truth.

A step counts as alerted when an alert names one of its evidence records (a rule's event, or
any member of a correlation). A benign record is alerted when an alert names it and it belongs
to no step; the benign-alert rate is those records over all benign records.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from trailguard.detect.alerts import Alert, EventDetails, store, write_jsonl
from trailguard.detect.cache import CompileCache
from trailguard.detect.rules import RuleSet, load_rules
from trailguard.detect.run import DetectionRun, detect
from trailguard.detect.sources import builtin_packs
from trailguard.ingest.pipeline import Ingest
from trailguard.ingest.report import IngestReport
from trailguard.store.case import Case
from trailguard.trace.model import TraceResult
from trailguard.trace.tracer import trace

RecordKey = tuple[str, int]
"""(path relative to the evidence folder, record number)"""


@dataclass
class StepResult:
    id: str
    title: str
    technique: str
    tactic: str
    evidence: int
    alerted_records: int = 0
    rules: list[str] = field(default_factory=list)

    @property
    def alerted(self) -> bool:
        return self.alerted_records > 0

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "technique": self.technique,
                "tactic": self.tactic, "evidence_records": self.evidence,
                "alerted_records": self.alerted_records, "alerted": self.alerted,
                "rules": self.rules}


@dataclass
class Measurement:
    steps: list[StepResult]
    benign_records: int
    benign_alerted: int
    alerts: int
    benign_alerts: int
    """Alerts that name no attack record at all."""
    benign_rules: dict[str, int]
    """Rule title -> benign records it alerted on."""

    @property
    def steps_alerted(self) -> int:
        return sum(1 for step in self.steps if step.alerted)

    @property
    def missed(self) -> list[StepResult]:
        return [step for step in self.steps if not step.alerted]

    @property
    def benign_rate(self) -> float:
        return self.benign_alerted / self.benign_records if self.benign_records else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "steps_total": len(self.steps),
            "steps_alerted": self.steps_alerted,
            "missed": [step.id for step in self.missed],
            "benign_records": self.benign_records,
            "benign_records_alerted": self.benign_alerted,
            "benign_alert_rate": round(self.benign_rate, 6),
            "alerts": self.alerts,
            "benign_alerts": self.benign_alerts,
            "benign_rules": dict(sorted(self.benign_rules.items(), key=lambda kv: -kv[1])),
            "steps": [step.as_dict() for step in self.steps],
        }

    def table(self) -> list[tuple[str, str, str, str, int, str]]:
        """(id, technique, tactic, title, evidence records, alerted by) per step."""
        return [(step.id, step.technique, step.tactic, step.title, step.evidence,
                 "; ".join(step.rules) if step.rules else "—") for step in self.steps]


def builtin_ruleset(cache: CompileCache | None = None) -> RuleSet:
    """Every built-in pack (the SigmaHQ release a user may have installed is not used: the
    demo measures TrailGuard's own packs, the same on every machine)."""
    return load_rules([(folder, "builtin") for folder in builtin_packs().values()], cache)


@dataclass
class TraceMeasurement:
    """Tracing against the ground truth's "trace" facts."""

    incidents: int
    main_incident: str | None
    attack_alerts: int  # alerts naming an attack record
    attack_alerts_in_main: int
    steps_in_main: int  # ground-truth steps with an alerted record in the main incident
    steps_total: int
    entry_point: dict[str, Any]
    hops: dict[str, Any]
    exfiltration: dict[str, Any]

    @property
    def passed(self) -> bool:
        return bool(self.entry_point["match"] and self.hops["match"]
                    and self.exfiltration["match"])

    def as_dict(self) -> dict[str, Any]:
        return {"incidents": self.incidents, "main_incident": self.main_incident,
                "attack_alerts": self.attack_alerts,
                "attack_alerts_in_main_incident": self.attack_alerts_in_main,
                "steps_in_main_incident": self.steps_in_main, "steps_total": self.steps_total,
                "entry_point": self.entry_point, "lateral_movement": self.hops,
                "exfiltration": self.exfiltration, "passed": self.passed}


@dataclass
class CaseRun:
    report: IngestReport
    run: DetectionRun
    measurement: Measurement
    alerts_written: int
    seconds: dict[str, float]
    trace: TraceResult | None = None
    trace_measurement: TraceMeasurement | None = None


def ingest_and_detect(evidence: Path, case_dir: Path, truth: dict[str, Any],
                      alerts_file: Path | None = None, workers: int | None = None) -> CaseRun:
    """Ingest ``evidence`` into a new case, run the built-in packs, measure against ``truth``."""
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    with Case.open(case_dir, create=True) as case:
        report = Ingest(case, workers=workers).run([evidence])
        seconds["ingest"] = time.perf_counter() - started
        started = time.perf_counter()
        cache = CompileCache.default()
        run = detect(case.connection, builtin_ruleset(cache), cache=cache)
        store(case.connection, run.alerts)
        written = 0
        if alerts_file is not None:
            details = EventDetails.read(
                case.connection,
                [ref.uid for alert in run.alerts for ref in (alert.event, *alert.members)])
            with alerts_file.open("w", encoding="utf-8") as handle:
                written = write_jsonl(handle, run.alerts, details)
        measurement = measure(case.connection, run.alerts, truth, evidence)
        seconds["detect"] = time.perf_counter() - started
        started = time.perf_counter()
        traced = trace(case.connection).result
        traced_measurement = measure_trace(case.connection, run.alerts, traced, truth, evidence)
        seconds["trace"] = time.perf_counter() - started
    return CaseRun(report, run, measurement, written, seconds, traced, traced_measurement)


def measure_trace(connection: duckdb.DuckDBPyConnection, alerts: list[Alert],
                  result: TraceResult, truth: dict[str, Any], evidence: Path
                  ) -> TraceMeasurement:
    """The main incident is the one holding most alerts that name attack records; its entry
    point, hops and exfiltrated bytes are compared with the ground truth's "trace" facts."""
    paths = file_paths(connection, evidence)
    owner = {(item["file"], int(item["record"])): step["id"]
             for step in truth["steps"] for item in step["evidence"]}
    attack_steps: dict[str, set[str]] = {}
    for alert in alerts:
        steps = {owner.get((paths.get(ref.file_id, ""), int(ref.record)))
                 for ref in (alert.event, *alert.members)
                 if ref.file_id is not None and ref.record is not None}
        steps.discard(None)
        if steps:
            attack_steps[alert.alert_id] = {str(step) for step in steps}
    holding = {incident.id: sum(1 for a in incident.alert_ids if a in attack_steps)
               for incident in result.incidents}
    main = max(result.incidents, key=lambda i: holding[i.id], default=None)
    facts = truth.get("trace", {})
    steps_in_main: set[str] = set()
    if main is not None:
        for alert_id in main.alert_ids:
            steps_in_main |= attack_steps.get(alert_id, set())
    entry_truth = facts.get("entry_point", {})
    entry = main.entry_point if main is not None else None
    first_step = next((step for step in truth["steps"] if step["id"] == entry_truth.get("step")),
                      None)
    entry_time = entry.time.isoformat()[:19] if entry and entry.time else None
    entry_match = bool(entry and first_step and entry.host == entry_truth.get("host")
                       and entry_time is not None
                       and first_step["first"][:19] <= entry_time <= first_step["last"][:19])
    hops_truth = {(hop["from"], hop["to"], hop["method"]) for hop in facts.get("lateral_movement",
                                                                              [])}
    hops_found = {(hop.source, hop.target, hop.method)
                  for hop in (main.lateral_movement if main else [])}
    bytes_truth = int(facts.get("exfiltrated_bytes", 0))
    bytes_found = sum(item.bytes or 0 for item in (main.exfiltration if main else [])
                      if item.channel == "vpc-flow")
    error = abs(bytes_found - bytes_truth) / bytes_truth if bytes_truth else 0.0
    return TraceMeasurement(
        incidents=len(result.incidents), main_incident=main.id if main else None,
        attack_alerts=len(attack_steps),
        attack_alerts_in_main=holding.get(main.id, 0) if main else 0,
        steps_in_main=len(steps_in_main), steps_total=len(truth["steps"]),
        entry_point={"truth": entry_truth, "found": entry.to_json() if entry else None,
                     "match": entry_match},
        hops={"truth": len(hops_truth), "found": len(hops_found),
              "match": hops_truth == hops_found,
              "found_hops": sorted(list(hop) for hop in hops_found)},
        exfiltration={"truth_bytes": bytes_truth, "found_bytes": bytes_found,
                      "relative_error": round(error, 6), "match": error <= 0.01})


def file_paths(connection: duckdb.DuckDBPyConnection, evidence: Path) -> dict[int, str]:
    """files.id -> path relative to the evidence folder (as the ground truth names files)."""
    root = evidence.resolve()
    paths: dict[int, str] = {}
    for file_id, path, member in connection.execute(
            "SELECT id, path, member FROM files").fetchall():
        try:
            relative = Path(path).resolve().relative_to(root).as_posix()
        except ValueError:
            relative = str(path)
        paths[file_id] = relative + (f"!{member}" if member else "")
    return paths


def measure(connection: duckdb.DuckDBPyConnection, alerts: list[Alert], truth: dict[str, Any],
            evidence: Path) -> Measurement:
    paths = file_paths(connection, evidence)
    owner: dict[RecordKey, str] = {}
    for step in truth["steps"]:
        for item in step["evidence"]:
            owner[(item["file"], int(item["record"]))] = step["id"]
    alerted: dict[str, set[RecordKey]] = defaultdict(set)
    rules: dict[str, list[str]] = defaultdict(list)
    benign: set[RecordKey] = set()
    benign_rules: dict[str, set[RecordKey]] = defaultdict(set)
    benign_alerts = 0
    for alert in alerts:
        touched_attack = False
        for ref in (alert.event, *alert.members):
            if ref.file_id is None or ref.record is None:
                continue
            key = (paths.get(ref.file_id, ""), int(ref.record))
            step = owner.get(key)
            if step is None:
                benign.add(key)
                benign_rules[alert.rule.title].add(key)
                continue
            touched_attack = True
            alerted[step].add(key)
            if alert.rule.title not in rules[step]:
                rules[step].append(alert.rule.title)
        benign_alerts += 0 if touched_attack else 1
    steps = [StepResult(step["id"], step["title"], step["technique"], step["tactic"],
                        len(step["evidence"]), len(alerted.get(step["id"], ())),
                        sorted(rules.get(step["id"], [])))
             for step in truth["steps"]]
    return Measurement(steps, int(truth["records"]["benign"]), len(benign), len(alerts),
                       benign_alerts, {title: len(keys) for title, keys in benign_rules.items()})
