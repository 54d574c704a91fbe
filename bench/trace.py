"""Tracing benchmark: one million synthetic alerts → incidents, seconds and peak memory.

Run from the project root: ``.venv/bin/python bench/trace.py [--alerts N] [--json FILE]``.

A child process builds a case with N events and one alert on each (made inside DuckDB, so the
build is not timed with the tracing), then runs ``trailguard.trace.tracer.trace`` on it with the
default configuration and reports the seconds of each phase and the peak resident memory of
the process (the case build included: it is the upper bound). The synthetic estate: 5,000
hosts, 2,000 local users, 1,000 cloud principals with a key and an address each, 3,000
public and 2,000 private flow addresses, processes by pid per host, over 30 days; sources in
turn ActionTrail, auditd, VPC flow logs and Windows JSON; levels 10 % high, 25 % medium,
40 % low, 25 % informational; 200 rules; and 50 planted campaigns of 40 alerts sharing one
attacker address and key within two hours, so grouping has real work to do.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from trailguard.detect.alerts import ALERTS_DDL
from trailguard.store.case import Case
from trailguard.trace.tracer import trace

n = int(sys.argv[1]); folder = Path(sys.argv[2])
started = time.perf_counter()
with Case.open(folder, create=True) as case:
    c = case.connection
    c.execute(f'''
        CREATE TEMP TABLE base AS
        SELECT i,
               ['actiontrail', 'auditd', 'vpcflow_aliyun', 'windows_json'][1 + i % 4]
                   AS source_type,
               TIMESTAMP '2026-10-01' + to_seconds((i * 2592000 // {n})::BIGINT) AS time,
               (hash(i) % 1000000007)::BIGINT AS h1, (hash(i * 7 + 1) % 1000000007)::BIGINT AS h2,
               (hash(i * 13 + 3) % 1000000007)::BIGINT AS h3,
               i % 20000 < 40 AS planted
        FROM range({n}) t(i)
    ''')
    c.execute('''
        INSERT INTO events BY NAME
        SELECT 'e' || i AS uid, source_type, 1 AS file_id, i AS record,
               CASE WHEN planted THEN TIMESTAMP '2026-10-01' + to_seconds(((i // 20000) * 51840
                    + (i % 40) * 180)::BIGINT) ELSE time END AS time,
               'op' || (h1 % 300) AS operation,
               CASE WHEN source_type IN ('auditd', 'windows_json') THEN 'host-' || (h1 % 5000) END
                   AS host,
               CASE WHEN source_type = 'actiontrail' THEN 'principal-' || (h2 % 1000)
                    WHEN source_type IN ('auditd', 'windows_json') THEN 'user-' || (h2 % 2000)
               END AS actor_user,
               CASE WHEN source_type = 'actiontrail' THEN 'acct-1' END AS cloud_account,
               CASE WHEN planted THEN 'LTAI5tPlanted' || (i // 20000)
                    WHEN source_type = 'actiontrail' THEN 'LTAI5tKey' || (h2 % 1000) END
                   AS actor_access_key,
               CASE WHEN planted THEN '198.51.' || (i // 20000 % 250) || '.7'
                    WHEN source_type = 'actiontrail'
                    THEN '203.0.' || (h2 % 1000 // 10) || '.' || (h2 % 10)
                    WHEN source_type = 'vpcflow_aliyun'
                    THEN '203.' || (h3 % 60) || '.' || (h3 // 60 % 50) || '.9' END AS src_ip,
               CASE WHEN source_type = 'vpcflow_aliyun'
                    THEN '10.0.' || (h1 % 40) || '.' || (h1 // 40 % 50) END AS dst_ip,
               CASE WHEN source_type IN ('auditd', 'windows_json') THEN h3 % 30000 END
                   AS process_pid,
               CASE WHEN source_type IN ('auditd', 'windows_json') THEN h2 % 30000 END
                   AS parent_pid,
               CASE WHEN source_type IN ('auditd', 'windows_json')
                    THEN 'cmd --run ' || (h3 % 100000) END AS process_cmdline
        FROM base
    ''')
    c.execute(ALERTS_DDL)
    c.execute('''
        INSERT INTO alerts BY NAME
        SELECT 'a' || b.i AS alert_id, 'rule' AS kind, e.time,
               CASE WHEN b.planted THEN 'high'
                    ELSE ['high', 'medium', 'medium', 'low', 'low', 'low', 'low',
                          'informational', 'informational', 'medium'][1 + b.h1 % 10] END AS level,
               'rule-' || (b.h2 % 200) AS rule_id, 'Rule ' || (b.h2 % 200) AS rule_title,
               'bench' AS rule_author, '/rules/r.yml' AS rule_path, 'builtin' AS rule_source,
               ['T1078.004'] AS techniques,
               [['initial-access', 'execution', 'persistence', 'discovery',
                 'exfiltration'][1 + b.h3 % 5]] AS tactics,
               b.source_type, e.uid, []::VARCHAR[] AS members, NULL AS correlation
        FROM base b JOIN events e ON e.uid = 'e' || b.i
    ''')
    c.execute('DROP TABLE base')
    built = time.perf_counter() - started
    started = time.perf_counter()
    run = trace(c)
    seconds = time.perf_counter() - started
result = run.result
sizes = sorted((i.alerts for i in result.incidents), reverse=True)
print(json.dumps({
    "alerts": result.alerts, "incidents": result.incident_count,
    "detailed_incidents": len(result.incidents),
    "single_alert_incidents": result.unlinked_alerts, "largest_incidents": sizes[:5],
    "hubs": len(result.hubs), "build_seconds": round(built, 2),
    "trace_seconds": round(seconds, 2),
    "phases": {k: round(v, 2) for k, v in run.seconds.items()},
    "alerts_per_second": round(result.alerts / seconds),
    "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=1_000_000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        done = subprocess.run([sys.executable, "-c", CHILD, str(args.alerts),
                               str(Path(folder) / "case")],
                              capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(done.stderr)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"{figures['alerts']:,} alerts → {figures['incidents']:,} incidents "
          f"({figures['single_alert_incidents']:,} single-alert; largest "
          f"{figures['largest_incidents']}; {figures['hubs']} hubs) in "
          f"{figures['trace_seconds']} s = {figures['alerts_per_second']:,} alerts/s; "
          f"phases {figures['phases']}; peak {figures['peak_rss_mib']} MiB "
          f"(case built in {figures['build_seconds']} s, not timed)")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
