"""SigmaHQ `regression_data`: does each rule find exactly what its sample says, in the EVTX file
and in its JSON export?

Each case folder holds `info.yml` (the rule's id, and usually a `match_count`), `<id>.evtx` and
`<id>.json`. Everything is ingested into one case once, every rule named by a case is run once,
and matches are counted per rule and evidence file. Where `match_count` is absent the
specification's reading applies: at least one match. SigmaHQ's own runner never checks counts,
so a count that disagrees is reported with the matches found, for a person to judge (the
reference lists four cases whose samples hold more true matches than their `match_count`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from trailguard.detect.cache import CompileCache
from trailguard.detect.rules import RuleSet, load_rules
from trailguard.detect.run import detect
from trailguard.store.case import Case

FORMS = ("evtx", "json")


@dataclass(frozen=True)
class RegressionCase:
    folder: Path
    rule_id: str
    title: str
    match_count: int | None
    samples: dict[str, Path]


@dataclass
class CaseResult:
    case: RegressionCase
    counts: dict[str, int | None] = field(default_factory=dict)
    rule_path: str | None = None
    problem: str | None = None  # why the rule could not run

    def verdict(self, form: str) -> str:
        """exact | at-least-one | count-mismatch | missed | refused | no-rule | no-sample"""
        if self.problem is not None:
            return self.problem.split(":", 1)[0]
        count = self.counts.get(form)
        if count is None:
            return "no-sample"
        expected = self.case.match_count
        if expected is None:
            return "at-least-one" if count >= 1 else "missed"
        if count == expected:
            return "exact"
        return "count-mismatch" if count >= 1 else "missed"

    def passed(self, form: str) -> bool:
        return self.verdict(form) in ("exact", "at-least-one")

    def as_dict(self) -> dict[str, Any]:
        return {
            "case": str(self.case.folder),
            "rule_id": self.case.rule_id,
            "title": self.case.title,
            "rule_path": self.rule_path,
            "match_count": self.case.match_count,
            "counts": self.counts,
            "verdicts": {form: self.verdict(form) for form in FORMS},
            "problem": self.problem,
        }


def discover(regression_root: Path) -> list[RegressionCase]:
    cases = []
    for info_path in sorted(regression_root.rglob("info.yml")):
        info = yaml.safe_load(info_path.read_text(encoding="utf-8")) or {}
        tests = info.get("regression_tests_info") or []
        metadata = info.get("rule_metadata") or [{}]
        if not tests:
            continue  # commented out in the corpus (e.g. a Cisco raw-text case)
        rule_id = str(metadata[0].get("id", ""))
        samples = {
            form: info_path.parent / f"{rule_id}.{form}"
            for form in FORMS
            if (info_path.parent / f"{rule_id}.{form}").is_file()
        }
        count = tests[0].get("match_count")
        cases.append(RegressionCase(info_path.parent, rule_id, str(metadata[0].get("title", "")),
                                    int(count) if count is not None else None, samples))
    return cases


def run_regression(rule_roots: Iterable[Path], regression_root: Path, workdir: Path,
                   cache: CompileCache | None = None) -> list[CaseResult]:
    """Every case's match counts, from one ingest of the samples and one detection run."""
    from trailguard.ingest.pipeline import Ingest

    cases = discover(regression_root)
    wanted = {case.rule_id for case in cases}
    ruleset = load_rules([(root, "sigmahq") for root in rule_roots], cache)
    selected = RuleSet(rules=[r for r in ruleset.rules if r.id in wanted],
                       refusals=[r for r in ruleset.refusals if r.id in wanted],
                       files=ruleset.files)
    with Case.open(workdir, create=True) as case:
        Ingest(case).run([regression_root])
        run = detect(case.connection, selected, cache=cache)
        origin = sample_file_ids(case)
    counts: Counter[tuple[str, int]] = Counter()
    for alert in run.alerts:
        if alert.event.file_id is not None:
            counts[(alert.rule.id, alert.event.file_id)] += 1
    rules_by_id = {rule.id: rule for rule in selected.rules}
    refused = {**run.plan.refused, **{r.id: r.reason for r in selected.refusals}}
    results = []
    for regression in cases:
        result = CaseResult(regression)
        rule = rules_by_id.get(regression.rule_id)
        if regression.rule_id in refused:
            result.problem = f"refused: {refused[regression.rule_id]}"
        elif rule is None:
            result.problem = "no-rule: no rule with this id in the rule folders"
        else:
            result.rule_path = str(rule.path)
        for form, sample in regression.samples.items():
            file_id = origin.get(str(sample.resolve()))
            result.counts[form] = counts[(regression.rule_id, file_id)] if file_id else 0
        results.append(result)
    return results


def sample_file_ids(case: Case) -> dict[str, int]:
    """Evidence path -> the file id whose events it holds (a byte-identical copy read earlier
    stands for a duplicate)."""
    rows = case.connection.execute(
        "SELECT id, path, member, sha256, status FROM files ORDER BY id"
    ).fetchall()
    first_by_sha: dict[str, int] = {}
    for file_id, _, member, sha256, status in rows:
        if status != "duplicate" and not member and sha256 and sha256 not in first_by_sha:
            first_by_sha[sha256] = file_id
    origin: dict[str, int] = {}
    for file_id, path, member, sha256, status in rows:
        if member:
            continue
        origin[path] = first_by_sha.get(sha256, file_id) if status == "duplicate" else file_id
    return origin


def summary(results: list[CaseResult]) -> dict[str, Any]:
    verdicts = {form: Counter(result.verdict(form) for result in results) for form in FORMS}
    return {
        "cases": len(results),
        "passed": {form: sum(result.passed(form) for result in results) for form in FORMS},
        "passed_both": sum(all(result.passed(f) for f in FORMS) for result in results),
        "verdicts": {form: dict(counter) for form, counter in verdicts.items()},
        "not_passed": [result.as_dict() for result in results
                       if not all(result.passed(f) for f in FORMS)],
    }
