"""Ingest benchmark: events/s, CPU time per event and peak memory on public data.

Run: ``.venv/bin/python bench/ingest.py`` (from the project root). Each dataset is ingested by
a fresh child process into a new case, so peak memory (max RSS) belongs to that run alone.

Datasets (from ../shared/data, see ../shared/README.md):
* otrf-lsass: OTRF LSASS_campaign_01 + _02 Windows NDJSON in zips (about 96 k events);
* evtx-attack-samples: 277 EVTX files (8,255 records);
* stratus: Stratus Red Team CloudTrail detonations (310 events);
* synthetic CloudTrail JSON Lines at 1×, 2× and 4× size, to show memory stays flat as input grows;
* duckdb-floor: DuckDB alone, one thread, storing the OTRF LSASS records (unzipped beforehand)
  into a case-like table — `read_json` into one column per field, and the raw lines beside
  them — with no normalised view, no provenance and no checks;
* parse-floor and store-floor: the two halves of that work done the fastest ways a Python
  program has — pyarrow's C++ JSON reader parsing the same records on one thread (nothing
  stored), and DuckDB appending them from ready Arrow columns (parsing not counted). Their sum
  is the least any ingest keeping these records as TrailGuard must can cost on this machine.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("TRAILGUARD_SHARED_DATA", ROOT.parent / "shared" / "data")).resolve()

CHILD = """
import json, resource, sys, time
from pathlib import Path
from trailguard.ingest.pipeline import Ingest
from trailguard.store.case import Case
paths = [Path(p) for p in json.loads(sys.argv[1])]
start = time.perf_counter()
cpu0 = time.process_time()
with Case.open(Path(sys.argv[2]), create=True) as case:
    report = Ingest(case).run(paths)
wall = time.perf_counter() - start
cpu = time.process_time() - cpu0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
workers_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
children = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu += children.ru_utime + children.ru_stime
print(json.dumps({"records": report.records, "stored": report.stored,
                  "quarantined": report.quarantined, "wall": wall, "cpu": cpu,
                  "peak_kib": peak, "workers_peak_kib": workers_peak,
                  "sources": sorted(report.sources)}))
"""


FLOOR_CHILD = """
import json, resource, sys, time
import duckdb
files = json.loads(sys.argv[1])
con = duckdb.connect(sys.argv[2])
con.execute("SET threads = 1")
start = time.perf_counter()
cpu0 = time.process_time()
con.execute("CREATE TABLE fields AS SELECT * FROM read_json(?, format = 'newline_delimited', "
            "sample_size = -1, union_by_name = true)", [files])
con.execute("CREATE TABLE raw AS SELECT json FROM read_ndjson_objects(?)", [files])
records = con.execute("SELECT count(*) FROM raw").fetchall()[0][0]
print(json.dumps({"records": records, "stored": records, "quarantined": 0,
                  "wall": time.perf_counter() - start, "cpu": time.process_time() - cpu0,
                  "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "workers_peak_kib": 0, "sources": []}))
"""


#: The fastest JSON parser a Python program has (pyarrow's C++ reader, one thread), parsing the
#: same records into Arrow columns, nothing stored; and DuckDB alone appending those columns
#: (every field as text, and the raw lines) into a case-like table from ready Arrow data, the
#: parsing not counted. Together: what parsing and storing these records costs at the least.
_ARROW_BLOCKS = """
import io, json, sys
import pyarrow as pa, pyarrow.json as pj
def blocks(files):
    for name in files:
        data = open(name, "rb").read()
        start = 0
        while start < len(data):
            end = data.find(b"\\n", start + 16_000_000)
            end = len(data) if end < 0 else end + 1
            yield data[start:end]
            start = end
def parsed(block):
    return pj.read_json(io.BytesIO(block), read_options=pj.ReadOptions(
        use_threads=False, block_size=1 << 25), parse_options=pj.ParseOptions(
        unexpected_field_behavior="infer"))
files = json.loads(sys.argv[1])
"""

PARSE_FLOOR_CHILD = _ARROW_BLOCKS + """
import resource, time
start, cpu0, records = time.perf_counter(), time.process_time(), 0
for block in blocks(files):
    records += parsed(block).num_rows
print(json.dumps({"records": records, "stored": 0, "quarantined": 0,
                  "wall": time.perf_counter() - start, "cpu": time.process_time() - cpu0,
                  "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "workers_peak_kib": 0, "sources": []}))
"""

STORE_FLOOR_CHILD = _ARROW_BLOCKS + """
import resource, time
import duckdb
tables = []
for block in blocks(files):
    table = parsed(block).flatten()
    seen, columns, names = set(), [], []
    for name, column in zip(table.column_names, table.columns):
        if name.lower() not in seen:  # DuckDB's names ignore case
            seen.add(name.lower())
            names.append(name)
            columns.append(column.cast(pa.string()))
    lines = [line for line in block.split(b"\\n") if line.strip()]
    tables.append(pa.table([*columns, pa.array(lines, pa.string())], names=[*names, "_raw"]))
con = duckdb.connect(sys.argv[2] + ".duckdb")
con.execute("SET threads = 1")
start, cpu0 = time.perf_counter(), time.process_time()
con.execute("BEGIN")
known = set()
con.execute('CREATE TABLE t ("_raw" VARCHAR USING COMPRESSION zstd)')
for table in tables:
    for name in table.column_names:
        if name.lower() not in known:
            known.add(name.lower())
            if name != "_raw":
                con.execute('ALTER TABLE t ADD COLUMN "%s" VARCHAR' % name.replace('"', '""'))
    con.register("batch", table)
    con.execute("INSERT INTO t BY NAME SELECT * FROM batch")
    con.unregister("batch")
con.execute("COMMIT")
records = con.execute("SELECT count(*) FROM t").fetchall()[0][0]
print(json.dumps({"records": records, "stored": records, "quarantined": 0,
                  "wall": time.perf_counter() - start, "cpu": time.process_time() - cpu0,
                  "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "workers_peak_kib": 0, "sources": []}))
"""


def unzipped(folder: Path, archives: list[Path]) -> list[Path]:
    """The JSON members of zip archives, extracted into `folder`."""
    import zipfile

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for archive in archives:
        with zipfile.ZipFile(archive) as opened:
            for member in opened.namelist():
                if member.endswith(".json"):
                    target = folder / Path(member).name
                    target.write_bytes(opened.read(member))
                    paths.append(target)
    return paths


def synthetic_cloudtrail(folder: Path, events: int) -> list[Path]:
    """CloudTrail JSON Lines with realistic nesting, in files of 50,000 events."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    per_file = 50_000
    for index in range(0, events, per_file):
        path = folder / f"trail-{index // per_file:04d}.json"
        with path.open("w") as out:
            for number in range(index, min(index + per_file, events)):
                out.write(json.dumps({
                    "eventVersion": "1.08",
                    "userIdentity": {"type": "IAMUser", "principalId": f"AIDA{number % 97}",
                                     "arn": f"arn:aws:iam::123456789012:user/u{number % 97}",
                                     "accountId": "123456789012",
                                     "accessKeyId": f"AKIA{number % 13:016d}",
                                     "userName": f"u{number % 97}"},
                    "eventTime": f"2024-03-01T{number // 3600 % 24:02d}:{number // 60 % 60:02d}:"
                                 f"{number % 60:02d}Z",
                    "eventSource": "ec2.amazonaws.com", "eventName": "DescribeInstances",
                    "awsRegion": "us-east-1", "sourceIPAddress": f"203.0.113.{number % 250}",
                    "userAgent": "aws-cli/2.15.0 Python/3.11",
                    "requestParameters": {"instancesSet": {"items": [{"instanceId": "i-0abc"}]},
                                          "filterSet": {}},
                    "responseElements": None, "requestID": f"req-{number}",
                    "eventID": f"3f1c{number:032d}", "readOnly": True,
                    "eventType": "AwsApiCall", "managementEvent": True,
                    "recipientAccountId": "123456789012", "eventCategory": "Management",
                }) + "\n")
        paths.append(path)
    return paths


def synthetic_s3_deliveries(folder: Path, files: int, per_file: int) -> list[Path]:
    """Many small gzipped CloudTrail S3 delivery files, as a trail bucket export holds."""
    folder.mkdir(parents=True, exist_ok=True)
    number = 0
    for index in range(files):
        records = []
        for _ in range(per_file):
            number += 1
            records.append({
                "eventVersion": "1.08", "eventTime": f"2024-03-01T10:{number // 60 % 60:02d}:"
                f"{number % 60:02d}Z", "eventSource": "s3.amazonaws.com",
                "eventName": "GetObject", "eventID": f"s3-{number}",
                "userIdentity": {"type": "IAMUser", "userName": f"u{number % 7}"},
                "awsRegion": "us-east-1", "sourceIPAddress": "203.0.113.9",
                "requestParameters": {"bucketName": "payroll", "key": f"k/{number}"},
            })
        name = f"123456789012_CloudTrail_us-east-1_20240301T1000Z_{index:05d}.json.gz"
        (folder / name).write_bytes(gzip.compress(json.dumps({"Records": records}).encode()))
    return [folder]


def run(name: str, paths: list[Path], note: str, child: str = CHILD) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="tg-bench-") as folder:
        result = subprocess.run(
            [sys.executable, "-c", child, json.dumps([str(p) for p in paths]),
             str(Path(folder) / "case")],
            check=True, capture_output=True, text=True,
        )
        figures = json.loads(result.stdout.strip().splitlines()[-1])
    records = figures["records"]
    return {
        "dataset": name,
        "data": note,
        "events": records,
        "stored": figures["stored"],
        "seconds": round(figures["wall"], 2),
        "events_per_s": round(records / figures["wall"]),
        "events_per_cpu_s": round(records / figures["cpu"]) if figures["cpu"] else None,
        "peak_mib": round(figures["peak_kib"] / 1024, 1),
        "worker_peak_mib": round(figures["workers_peak_kib"] / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only",
                        help="run one dataset (otrf-lsass, evtx, stratus, s3, synthetic, "
                             "duckdb-floor)")
    parser.add_argument("--synthetic-events", type=int, default=100_000,
                        help="events in the 1× synthetic set (default 100,000)")
    args = parser.parse_args()
    rows: list[dict[str, object]] = []
    plans = []
    if DATA.is_dir():
        compound = DATA / "otrf" / "datasets" / "compound"
        plans.append(("otrf-lsass", [
            compound / "LSASS_campaign_01" / "metasploit_logonpasswords_lsass_memory_dump.zip",
            compound / "LSASS_campaign_02" / "metasploit_procdump_lsass_memory_dump.zip",
        ], "OTRF LSASS_campaign_01 + _02 Windows NDJSON (zipped)"))
        plans.append(("evtx", [DATA / "evtx-attack-samples"], "EVTX-ATTACK-SAMPLES, 277 files"))
        plans.append(("stratus", [DATA / "stratus" / "docs" / "detonation-logs"],
                      "Stratus Red Team CloudTrail, 35 files"))
    else:
        print(f"public data not found at {DATA}: running the synthetic sets only", file=sys.stderr)
    for name, paths, note in plans:
        if args.only in (None, name):
            rows.append(run(name, paths, note))
    if DATA.is_dir() and args.only in (None, "duckdb-floor"):
        with tempfile.TemporaryDirectory(prefix="tg-floor-") as folder:
            records = unzipped(Path(folder), plans[0][1])
            rows.append(run("duckdb-floor", records,
                            "DuckDB alone storing the OTRF LSASS records (fields + raw lines)",
                            FLOOR_CHILD))
            rows.append(run("parse-floor", records, "pyarrow's C++ JSON reader parsing the "
                            "OTRF LSASS records, one thread, nothing stored", PARSE_FLOOR_CHILD))
            rows.append(run("store-floor", records, "DuckDB alone appending them from ready "
                            "Arrow columns (fields as text + raw), parsing not counted",
                            STORE_FLOOR_CHILD))
    if args.only in (None, "s3"):
        with tempfile.TemporaryDirectory(prefix="tg-s3-") as folder:
            rows.append(run("synthetic-s3-deliveries",
                            synthetic_s3_deliveries(Path(folder), 2000, 10),
                            "2,000 small .json.gz CloudTrail delivery files, 10 events each"))
    if args.only in (None, "synthetic"):
        with tempfile.TemporaryDirectory(prefix="tg-synth-") as folder:
            for scale in (1, 2, 4):
                events = args.synthetic_events * scale
                paths = synthetic_cloudtrail(Path(folder) / f"x{scale}", events)
                rows.append(run(f"synthetic-cloudtrail-{scale}x", paths,
                                f"generated CloudTrail JSON Lines, {events:,} events"))
    header = ["dataset", "events", "seconds", "events_per_s", "events_per_cpu_s", "peak_mib",
              "worker_peak_mib", "data"]
    titles: dict[str, object] = dict(zip(header, header, strict=True))
    widths = [max(len(str(row[h])) for row in [*rows, titles]) for h in header]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for row in rows:
        print("  ".join(str(row[h]).ljust(w) for h, w in zip(header, widths, strict=True)))
    print(f"\nmachine: {os.cpu_count()} cores; python {sys.version.split()[0]}; "
          "peak = max RSS of the main ingest process; worker_peak = largest worker process;\n"
          "events_per_cpu_s counts the CPU time of the main process and its workers")


if __name__ == "__main__":
    main()
