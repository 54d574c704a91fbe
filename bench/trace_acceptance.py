"""Attack tracing on public data nobody here wrote, and on the demo: the acceptance figures.

Run from the project root: ``.venv/bin/python bench/trace_acceptance.py [--only NAME] [--json F]``
(``TRAILGUARD_SHARED_DATA`` overrides ``../shared/data``).

* ``lsass``: OTRF LSASS_campaign_01 and _02 (Windows NDJSON, Zeek logs), each in its own case,
  TrailGuard's packs + SigmaHQ ``rules/windows``. The stages are the campaign metadata's
  ``attack_mappings`` without resource development (discovery techniques count as one stage);
  the attacker's address is the ``set lhost`` of its adversary view. Reported: the incident
  holding most stages, the stages found, whether their first steps are in the labelled order,
  whether the attacker's address is among its indicators, and alerts vs incidents (every alert
  on a labelled stage technique must be in that incident).
* ``stratus``: every Stratus Red Team detonation log in its own case, TrailGuard's ``aws`` pack
  + SigmaHQ ``rules/cloud/aws``: how many incidents the log's alerts make (the target is one),
  and whether that incident's tactics include the technique's tactic (``index.yaml``).
* ``demo``: the demo incident (seed 7): entry point, hop count and exfiltrated bytes against its
  ground truth, alerts vs incidents, attack alerts kept in the attack incident.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("TRAILGUARD_SHARED_DATA", ROOT.parent / "shared" / "data")).resolve()
OTRF = DATA / "otrf" / "datasets" / "compound"
STRATUS = DATA / "stratus" / "docs"
SIGMA = DATA / "sigma" / "rules"


def _run_case(paths: list[Path], rules: list[tuple[Path, str]], folder: Path) -> dict[str, Any]:
    from trailguard.detect.alerts import store
    from trailguard.detect.cache import CompileCache
    from trailguard.detect.rules import load_rules
    from trailguard.detect.run import detect
    from trailguard.ingest.pipeline import Ingest
    from trailguard.store.case import Case
    from trailguard.trace.tracer import trace

    cache = CompileCache(folder / "cache")
    ruleset = load_rules(rules, cache)
    started = time.perf_counter()
    with Case.open(folder / "case", create=True) as case:
        report = Ingest(case).run(paths)
        run = detect(case.connection, ruleset, cache=cache)
        store(case.connection, run.alerts)
        traced = trace(case.connection)
    return {"report": report, "alerts": run.alerts, "trace": traced.result,
            "seconds": time.perf_counter() - started, "trace_seconds": traced.seconds["total"]}


def _builtin(pack: str | None = None) -> list[tuple[Path, str]]:
    from trailguard.detect.sources import builtin_packs

    return [(folder, "builtin") for name, folder in builtin_packs().items()
            if pack is None or name == pack]


def lsass() -> list[dict[str, Any]]:
    from trailguard.trace.labels import read_otrf_metadata, score_stages

    results = []
    for name in ("LSASS_campaign_01", "LSASS_campaign_02"):
        labels = read_otrf_metadata(OTRF / "_metadata" / f"{name}.yaml")
        with tempfile.TemporaryDirectory() as folder:
            done = _run_case([OTRF / name], [*_builtin(), (SIGMA / "windows", "sigmahq")],
                             Path(folder))
        result = done["trace"]
        scored = score_stages(result.incidents, labels)
        incident = next((i for i in result.incidents if i.id == scored.incident), None)
        labelled = [alert for alert in done["alerts"]
                    if any(stage.found_in(t) for stage in labels.stages
                           for t in _techniques(alert))]
        kept = sum(1 for alert in labelled if incident and alert.alert_id in incident.alert_ids)
        results.append({
            "dataset": name, "events": done["report"].stored, "alerts": len(done["alerts"]),
            "incidents": len(result.incidents),
            "incident_alerts": incident.alerts if incident else 0,
            **scored.as_dict(), "attacker": list(labels.attacker_addresses),
            "labelled_alerts": len(labelled), "labelled_alerts_in_incident": kept,
            "seconds": round(done["seconds"], 2), "trace_seconds": round(done["trace_seconds"], 3),
        })
    return results


def _techniques(alert: Any) -> list[str]:
    from trailguard.detect.attack import from_tags

    return list(from_tags(alert.rule.tags).techniques)


def stratus() -> dict[str, Any]:
    from trailguard.detect.attack import same_tactic

    index = yaml.safe_load((STRATUS / "index.yaml").read_text(encoding="utf-8"))
    tactic_of: dict[str, list[str]] = {}
    for techniques in index.get("AWS", {}).values():
        for item in techniques:
            tactic_of[item["id"]] = [t.lower().replace(" ", "-")
                                     for t in item.get("mitreAttackTactics", [])]
    rows = []
    rules = [*_builtin("aws"), (SIGMA / "cloud" / "aws", "sigmahq")]
    for log in sorted((STRATUS / "detonation-logs").glob("*.json")):
        technique = log.stem
        with tempfile.TemporaryDirectory() as folder:
            done = _run_case([log], rules, Path(folder))
        result = done["trace"]
        expected = tactic_of.get(technique, [])
        top = result.incidents[0] if result.incidents else None
        tactics = {t for incident in result.incidents[:1] for step in incident.chain
                   for t in step.tactics}
        rows.append({"technique": technique, "events": done["report"].stored,
                     "alerts": len(done["alerts"]), "incidents": len(result.incidents),
                     "top_alerts": top.alerts if top else 0, "expected_tactics": expected,
                     "tactics": sorted(tactics),
                     "right_tactic": any(same_tactic(a, b) for a in expected for b in tactics)})
    with_alerts = [row for row in rows if row["alerts"]]
    return {
        "logs": len(rows), "logs_with_alerts": len(with_alerts),
        "one_incident": sum(1 for row in with_alerts if row["incidents"] == 1),
        "right_tactic": sum(1 for row in with_alerts if row["right_tactic"]),
        "alerts": sum(row["alerts"] for row in rows),
        "incidents": sum(row["incidents"] for row in rows),
        "rows": rows,
    }


def demo() -> dict[str, Any]:
    from trailguard.demo.generate import DEFAULT_SEED, generate
    from trailguard.demo.measure import ingest_and_detect

    with tempfile.TemporaryDirectory() as folder:
        made = generate(Path(folder) / "demo", DEFAULT_SEED)
        run = ingest_and_detect(made.evidence, Path(folder) / "case", made.truth)
    assert run.trace_measurement is not None
    return {"alerts": len(run.run.alerts), **run.trace_measurement.as_dict(),
            "seconds": {k: round(v, 2) for k, v in run.seconds.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("lsass", "stratus", "demo"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if not DATA.is_dir() and args.only != "demo":
        sys.exit(f"public data not found at {DATA} (set TRAILGUARD_SHARED_DATA)")
    figures: dict[str, Any] = {}
    if args.only in (None, "demo"):
        figures["demo"] = demo()
        d = figures["demo"]
        print(f"demo: {d['alerts']} alerts → {d['incidents']} incidents; attack incident holds "
              f"{d['attack_alerts_in_main_incident']}/{d['attack_alerts']} attack alerts, "
              f"{d['steps_in_main_incident']}/{d['steps_total']} steps; entry point "
              f"{'ok' if d['entry_point']['match'] else 'WRONG'}; hops "
              f"{d['lateral_movement']['found']}/{d['lateral_movement']['truth']}; exfiltrated "
              f"{d['exfiltration']['found_bytes']:,} of {d['exfiltration']['truth_bytes']:,} B "
              f"(error {d['exfiltration']['relative_error']:.4%})")
    if args.only in (None, "lsass"):
        figures["lsass"] = lsass()
        for row in figures["lsass"]:
            print(f"{row['dataset']}: {row['events']:,} events, {row['alerts']} alerts → "
                  f"{row['incidents']} incidents; {row['incident']} ({row['incident_alerts']} "
                  f"alerts) holds {row['stages_found']}/{row['stages']} stages "
                  f"{row['found']} (missing {row['missing']}), in order: {row['in_order']}, "
                  f"attacker {row['attacker']} in indicators: {row['attacker_in_indicators']}; "
                  f"labelled alerts kept {row['labelled_alerts_in_incident']}/"
                  f"{row['labelled_alerts']}; {row['seconds']} s (trace {row['trace_seconds']} s)")
    if args.only in (None, "stratus"):
        figures["stratus"] = s = stratus()
        print(f"stratus: {s['logs']} logs, {s['logs_with_alerts']} with alerts; one incident: "
              f"{s['one_incident']}/{s['logs_with_alerts']}; right tactic: "
              f"{s['right_tactic']}/{s['logs_with_alerts']}; {s['alerts']} alerts → "
              f"{s['incidents']} incidents")
        for row in s["rows"]:
            if row["incidents"] != 1 or not row["right_tactic"]:
                print(f"  {row['technique']}: {row['alerts']} alerts, {row['incidents']} "
                      f"incidents, tactics {row['tactics']} (expected {row['expected_tactics']})")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
