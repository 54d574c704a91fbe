"""SigmaHQ regression_data: every case's match count, from the .evtx and from the .json form.

Run: ``.venv/bin/python bench/sigma_regression.py [--json FILE]`` (from the project root).
Prints the summary and every case that does not pass, with the counts found; ``--json`` also
writes the full per-case report. Data: ../shared/data/sigma (rules and regression_data).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("TRAILGUARD_SHARED_DATA", ROOT.parent / "shared" / "data")).resolve()
SIGMA = DATA / "sigma"
RULE_FOLDERS = ("rules", "rules-emerging-threats", "rules-threat-hunting", "rules-dfir")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the per-case report here")
    args = parser.parse_args()
    if not (SIGMA / "regression_data").is_dir():
        print(f"no SigmaHQ data under {SIGMA}", file=sys.stderr)
        return 2
    from trailguard.detect.cache import CompileCache
    from trailguard.detect.regression import run_regression, summary

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        results = run_regression([SIGMA / name for name in RULE_FOLDERS],
                                 SIGMA / "regression_data", Path(scratch) / "case",
                                 CompileCache.default())
    report = summary(results)
    print(f"{report['cases']} cases in {time.perf_counter() - started:.1f} s; "
          f"passed: evtx {report['passed']['evtx']}, json {report['passed']['json']}, "
          f"both {report['passed_both']}")
    print("verdicts:", json.dumps(report["verdicts"]))
    for case in report["not_passed"]:
        print(f"- {case['title']} ({case['rule_id']}): expected {case['match_count']}, "
              f"found {case['counts']} {case['verdicts']}"
              + (f" — {case['problem']}" if case["problem"] else ""))
    if args.json:
        args.json.write_text(json.dumps({**report, "cases_detail": [r.as_dict() for r in results]},
                                        indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
