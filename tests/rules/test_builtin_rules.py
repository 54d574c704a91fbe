"""Every built-in rule against its own samples: evidence in the real format that must match, and
evidence that must not.

Layout (rules as data with positive and negative samples, as GuardDog and Falco keep them):

    src/trailguard/rules/<pack>/**/<name>.yml     the rule (Sigma)
    tests/rules/<pack>/<name>/match*.<ext>        each must make the rule fire on its own events
    tests/rules/<pack>/<name>/nomatch*.<ext>      the rule must not fire on any of its events
    tests/rules/<pack>/<name>/nearmiss*.<ext>     correlations: a base rule fires, no correlation

Samples are evidence as a victim has it — ActionTrail or CloudTrail JSON, VPC flow-log lines,
auth.log lines, audit.log records, Kubernetes audit JSON — recognised by content like any other
evidence (syslog lines without a year are read as 2024). All samples of a pack are ingested into
one case and the pack is run once. A base rule's matches are checked whether or not a correlation
keeps them quiet; a correlation rule's alerts must have all their member events in the sample.
Keep each sample's entities (users, keys, addresses, hosts) its own, so that bursts in one
sample never join events of another.
"""

from __future__ import annotations

from collections import defaultdict
from functools import cache
from pathlib import Path

import pytest
from sigma.correlations import SigmaCorrelationRule

from trailguard.detect.correlation.rule import references_of
from trailguard.detect.rules import LoadedRule, RuleSet, load_rules
from trailguard.detect.run import detect
from trailguard.detect.sources import builtin_packs
from trailguard.ingest.pipeline import Ingest
from trailguard.store.case import Case

SAMPLES = Path(__file__).resolve().parent
RULE_SUFFIXES = (".yml", ".yaml")


def _rule_files() -> list[tuple[str, Path]]:
    return [(pack, path) for pack, folder in builtin_packs().items()
            for path in sorted(folder.rglob("*")) if path.suffix in RULE_SUFFIXES]


RULE_FILES = _rule_files()


def _sample_folder(pack: str, rule_file: Path) -> Path:
    return SAMPLES / pack / rule_file.stem


@cache
def _pack_results(pack: str, workdir: Path) -> dict[str, dict[Path, int]]:
    """Per rule id: sample file -> how many matches (base rules) or alerts (correlations) lie
    wholly inside that file; a file id of -1 collects those spanning several files."""
    case_dir = workdir / pack
    with Case.open(case_dir, create=True) as case:
        Ingest(case, reference_year=2024).run([SAMPLES / pack])
        ruleset = _pack_rules(pack)
        assert not ruleset.refusals, ruleset.refusals
        run = detect(case.connection, ruleset)
        assert not run.stats.errors and not run.correlation_errors, (
            run.stats.errors, run.correlation_errors)
        paths = _paths_by_file_id(case)
    found: dict[str, dict[Path, int]] = defaultdict(lambda: defaultdict(int))
    for rule_id, matches in run.matches_by_rule.items():
        for match in matches:
            for path in paths[match.file_id]:
                found[rule_id][path] += 1
    for alert in run.alerts:
        if alert.correlation is None:
            continue
        files = {ref.file_id for ref in (alert.event, *alert.members)}
        where = (paths[files.pop() or 0] if len(files) == 1 else {Path("<several files>")})
        for path in where:
            found[alert.rule.id][path] += 1
    return found


def _paths_by_file_id(case: Case) -> dict[int, set[Path]]:
    """Evidence file id -> the sample files holding those bytes (a byte-identical sample of
    another rule is read once and stands for both; archive members stand for their archive)."""
    rows = case.connection.execute("SELECT id, path, root_sha256 FROM files").fetchall()
    by_root: dict[str, set[Path]] = defaultdict(set)
    for _, path, root in rows:
        by_root[root].add(Path(path).resolve())
    return {file_id: by_root[root] for file_id, _, root in rows}


@cache
def _pack_rules(pack: str) -> RuleSet:
    """A pack loaded whole (a correlation may name rules of other files of its pack)."""
    return load_rules([(builtin_packs()[pack], "builtin")])


def _rules_of(pack: str, rule_file: Path) -> list[LoadedRule]:
    rules = [r for r in _pack_rules(pack).rules if r.path.resolve() == rule_file.resolve()]
    assert rules, f"no rule loaded from {rule_file}"
    return rules


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("builtin-rules")


def _id(item: tuple[str, Path]) -> str:
    return f"{item[0]}/{item[1].stem}"


@pytest.mark.parametrize("item", RULE_FILES, ids=_id)
def test_rule_is_complete(item: tuple[str, Path]) -> None:
    """id, title, author, level, ATT&CK tags, falsepositives; samples that match and that don't."""
    pack, rule_file = item
    ruleset = _pack_rules(pack)
    assert not ruleset.refusals, ruleset.refusals
    for loaded in _rules_of(pack, rule_file):
        rule = loaded.rule
        assert rule is not None and rule.id is not None, "every rule needs an id"
        assert loaded.title and loaded.author and loaded.level
        assert any(tag.startswith("attack.") for tag in loaded.tags), "ATT&CK tags"
        assert rule.falsepositives, "falsepositives"
    samples = _sample_folder(pack, rule_file)
    assert list(samples.glob("match*")), f"no match* sample in {samples}"
    assert list(samples.glob("nomatch*")), f"no nomatch* sample in {samples}"


@pytest.mark.parametrize("item", RULE_FILES, ids=_id)
def test_rule_samples(item: tuple[str, Path], workdir: Path) -> None:
    pack, rule_file = item
    found = _pack_results(pack, workdir)
    samples = _sample_folder(pack, rule_file)
    for loaded in _rules_of(pack, rule_file):
        hits = found.get(loaded.id, {})
        for sample in sorted(samples.glob("match*")):
            assert hits.get(sample.resolve(), 0) >= 1, f"{loaded.title}: no hit in {sample.name}"
        for sample in sorted(samples.glob("nomatch*")):
            assert hits.get(sample.resolve(), 0) == 0, f"{loaded.title}: hit in {sample.name}"
        assert Path("<several files>") not in hits, f"{loaded.title}: alert across samples"


def _correlation_files() -> list[tuple[str, Path]]:
    return [(pack, path) for pack, path in RULE_FILES
            if any(loaded.is_correlation for loaded in _rules_of(pack, path))]


NEAR_MISS_PATTERNS = ("nearmiss*", "below_threshold*")


@pytest.mark.parametrize("item", _correlation_files(), ids=_id)
def test_correlation_near_misses(item: tuple[str, Path], workdir: Path) -> None:
    """A correlation file's `nearmiss*` (or `below_threshold*`) samples hold events its base
    rules match that stay under the count, outside the window, out of order or spread over
    other entities: a base rule fires, no final correlation of the file does. (`nomatch*`
    cannot show this: there every rule of the file, base rules included, must stay silent.)"""
    pack, rule_file = item
    folder = _sample_folder(pack, rule_file)
    samples = sorted(path for pattern in NEAR_MISS_PATTERNS for path in folder.glob(pattern))
    assert samples, f"no nearmiss* sample for the correlation file {rule_file.name}"
    found = _pack_results(pack, workdir)
    rules = _rules_of(pack, rule_file)
    referenced = {reference for loaded in rules if isinstance(loaded.rule, SigmaCorrelationRule)
                  for reference in references_of(loaded.rule)}
    final = [loaded for loaded in rules if loaded.is_correlation and not loaded.names & referenced]
    bases = [loaded for loaded in rules if not loaded.is_correlation]
    for sample in samples:
        where = sample.resolve()
        assert any(found.get(base.id, {}).get(where, 0) for base in bases), (
            f"{sample.name}: no base rule fires, so it is not a near miss")
        for loaded in final:
            assert found.get(loaded.id, {}).get(where, 0) == 0, (
                f"{loaded.title}: alert in {sample.name}")
