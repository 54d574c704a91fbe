"""Detection benchmark: from the raw evidence files to alerts (ingest + detect), events/s and
peak memory, with the SigmaHQ Windows rules.

Run: ``.venv/bin/python bench/detect.py [--only otrf-lsass|evtx|worst-case]`` (project root).
Each dataset runs in a fresh child process with a fresh case and an empty compiled-rule cache:
ingest, then detect with a cold cache (rules parsed and compiled), then detect again with the
warm cache, as a responder's second and later runs are; each step opens the case as the
`ingest` and `detect` commands do. The headline figure is
events / (ingest + warm detect) seconds.

Datasets (from ../shared/data, see ../shared/README.md):
* otrf-lsass: OTRF LSASS_campaign_01 + _02 Windows NDJSON in zips (96,180 events);
* evtx: EVTX-ATTACK-SAMPLES, the whole folder (8,255 EVTX records and some web logs);
* worst-case: the SigmaHQ regression samples (every event an attack) replicated to 100,000
  Windows JSON events.
Rules: SigmaHQ rules/windows (2,407 files).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("TRAILGUARD_SHARED_DATA", ROOT.parent / "shared" / "data")).resolve()

CHILD = """
import json, os, resource, sys, time
from pathlib import Path
from trailguard.detect.alerts import store
from trailguard.detect.cache import CompileCache
from trailguard.detect.rules import load_rules
from trailguard.detect.run import detect
from trailguard.ingest.pipeline import Ingest
from trailguard.store.case import Case

def main():
    paths = [Path(p) for p in json.loads(sys.argv[1])]
    rules = [(Path(p), "sigmahq") for p in json.loads(sys.argv[3])]
    cache = CompileCache(Path(sys.argv[4]))
    figures = {}
    start = time.perf_counter()
    with Case.open(Path(sys.argv[2]), create=True) as case:
        report = Ingest(case).run(paths)
    figures["ingest"] = time.perf_counter() - start
    for name in ("detect_cold", "detect_warm"):
        begin = time.perf_counter()
        with Case.open(Path(sys.argv[2])) as case:  # as `trailguard detect` opens it
            ruleset = load_rules(rules, cache)
            run = detect(case.connection, ruleset, cache=cache)
            store(case.connection, run.alerts)
        figures[name] = time.perf_counter() - begin
        figures[name + "_parts"] = run.seconds
    figures["alerts"] = len(run.alerts)
    figures["rules_run"] = run.rules_run
    figures["rules_alerting"] = len({a.rule.id for a in run.alerts})
    figures["records"] = report.records
    figures["peak_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    figures["workers_peak_kib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps(figures))

if __name__ == "__main__":
    main()
"""


def worst_case(folder: Path, events: int) -> list[Path]:
    """The SigmaHQ regression samples (JSON form), replicated to `events` NDJSON lines."""
    samples = []
    decoder = json.JSONDecoder()
    for path in sorted((DATA / "sigma" / "regression_data").rglob("*.json")):
        text = path.read_text(encoding="utf-8")
        position = 0
        while position < len(text):
            while position < len(text) and text[position].isspace():
                position += 1
            if position >= len(text):
                break
            value, position = decoder.raw_decode(text, position)
            samples.append(json.dumps(value))
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "worst-case.json"
    with target.open("w", encoding="utf-8") as out:
        for number in range(events):
            out.write(samples[number % len(samples)] + "\n")
    return [target]


def run(name: str, paths: list[Path], note: str, rules: list[Path]) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="tg-bench-") as folder:
        script = Path(folder) / "child.py"
        script.write_text(CHILD)
        result = subprocess.run(
            [sys.executable, str(script), json.dumps([str(p) for p in paths]),
             str(Path(folder) / "case"), json.dumps([str(r) for r in rules]),
             str(Path(folder) / "cache")],
            check=True, capture_output=True, text=True, cwd=ROOT,
        )
        figures = json.loads(result.stdout.strip().splitlines()[-1])
    events = figures["records"]
    total = figures["ingest"] + figures["detect_warm"]
    return {
        "dataset": name,
        "events": events,
        "ingest_s": round(figures["ingest"], 2),
        "detect_cold_s": round(figures["detect_cold"], 2),
        "detect_warm_s": round(figures["detect_warm"], 2),
        "events_per_s": round(events / total),
        "detect_only_events_per_s": round(events / figures["detect_warm"]),
        "peak_mib": round(figures["peak_kib"] / 1024),
        "worker_peak_mib": round(figures["workers_peak_kib"] / 1024),
        "rules_run": figures["rules_run"],
        "alerts": figures["alerts"],
        "rules_alerting": figures["rules_alerting"],
        "data": note,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="run one dataset (otrf-lsass, evtx, worst-case)")
    parser.add_argument("--worst-case-events", type=int, default=100_000)
    args = parser.parse_args()
    if not DATA.is_dir():
        print(f"public data not found at {DATA}", file=sys.stderr)
        sys.exit(2)
    rules = [DATA / "sigma" / "rules" / "windows"]
    compound = DATA / "otrf" / "datasets" / "compound"
    rows = []
    if args.only in (None, "otrf-lsass"):
        rows.append(run("otrf-lsass", [
            compound / "LSASS_campaign_01" / "metasploit_logonpasswords_lsass_memory_dump.zip",
            compound / "LSASS_campaign_02" / "metasploit_procdump_lsass_memory_dump.zip",
        ], "OTRF LSASS_campaign_01 + _02 Windows NDJSON (zipped)", rules))
    if args.only in (None, "evtx"):
        rows.append(run("evtx", [DATA / "evtx-attack-samples"],
                        "EVTX-ATTACK-SAMPLES, whole folder", rules))
    if args.only in (None, "worst-case"):
        with tempfile.TemporaryDirectory(prefix="tg-worst-") as folder:
            rows.append(run("worst-case", worst_case(Path(folder), args.worst_case_events),
                            f"SigmaHQ regression samples replicated to "
                            f"{args.worst_case_events:,} events", rules))
    header = ["dataset", "events", "ingest_s", "detect_cold_s", "detect_warm_s", "events_per_s",
              "detect_only_events_per_s", "peak_mib", "worker_peak_mib", "rules_run", "alerts",
              "rules_alerting"]
    titles: dict[str, object] = dict(zip(header, header, strict=True))
    widths = [max(len(str(row[h])) for row in [*rows, titles]) for h in header]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for row in rows:
        print("  ".join(str(row[h]).ljust(w) for h, w in zip(header, widths, strict=True)))
    for row in rows:
        print(f"{row['dataset']}: {row['data']}")
    print(f"\nmachine: {os.cpu_count()} cores; python {sys.version.split()[0]}; rules: SigmaHQ "
          "rules/windows; events_per_s = events / (ingest + warm detect); peak = max RSS of the "
          "main process; worker_peak = largest ingest worker")


if __name__ == "__main__":
    main()
