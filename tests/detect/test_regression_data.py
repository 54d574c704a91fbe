"""SigmaHQ `regression_data`: every case's rule finds exactly what its samples hold, in the EVTX
file and in its JSON export (../shared/data/sigma; skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from trailguard.detect.regression import FORMS, run_regression, summary

RULE_FOLDERS = ("rules", "rules-emerging-threats", "rules-threat-hunting", "rules-dfir")

# Samples holding more true matches than their `match_count` says (the corpus is wrong; these
# are our verified counts, the same from the EVTX file and from the JSON export).
VERIFIED_COUNTS = {
    "0b9ad457-2554-44c1-82c2-d56a99c42377": ("Anydesk Temporary Artefact", 3),
    "8fbf3271-1ef6-4e94-8210-03c2317947f6": ("Cred Dump Tools Dropped Files", 3),
    "45e112d0-7759-4c2a-aa36-9f8fb79d3393": ("IE Change Domain Zone", 3),
    "c7dcacd0-cc59-4004-b0a4-1d6cdebe6f3e": ("Disable Administrative Share Creation at Startup",
                                             2),
}


@pytest.mark.slow
def test_sigmahq_regression_data(shared_data: Path, tmp_path: Path) -> None:
    sigma = shared_data / "sigma"
    if not (sigma / "regression_data").is_dir():
        pytest.skip(f"no SigmaHQ regression_data under {sigma}")
    results = run_regression([sigma / name for name in RULE_FOLDERS], sigma / "regression_data",
                             tmp_path / "case")
    assert len(results) == 202

    failures = []
    for result in results:
        rule_id = result.case.rule_id
        assert set(result.counts) == set(FORMS), result.as_dict()  # both samples were read
        if rule_id in VERIFIED_COUNTS:
            title, count = VERIFIED_COUNTS[rule_id]
            assert result.case.title == title
            assert result.problem is None
            assert result.counts == {"evtx": count, "json": count}, result.as_dict()
            assert result.case.match_count is not None and result.case.match_count < count
            continue
        if not all(result.passed(form) for form in FORMS):
            failures.append(result.as_dict())
    assert failures == []

    overview = summary(results)
    assert overview["passed"] == {"evtx": 198, "json": 198}
    assert overview["passed_both"] == 198
    assert {r["rule_id"] for r in overview["not_passed"]} == set(VERIFIED_COUNTS)
