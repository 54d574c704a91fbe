"""Near misses of the network pack's correlations.

`below_threshold*` samples hold events the base rules match that stay under a correlation's
count, window or order, so no correlation may alert. The pack harness cannot hold them as
`nomatch` samples, since there every rule of the file, base rules included, must stay silent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from trailguard.detect.rules import load_rules
from trailguard.detect.run import detect
from trailguard.detect.sources import builtin_packs
from trailguard.ingest.pipeline import Ingest
from trailguard.store.case import Case

PACK = "network"
SAMPLES = Path(__file__).resolve().parent
BELOW = sorted(SAMPLES.glob("*/below_threshold*"))


@pytest.fixture(scope="module")
def run_below(tmp_path_factory: pytest.TempPathFactory) -> tuple[set[str], set[str]]:
    """The ids of the rules with a match, and of the correlations with an alert, over all the
    pack's near-miss samples."""
    with Case.open(tmp_path_factory.mktemp(PACK) / "case", create=True) as case:
        Ingest(case, reference_year=2024).run(BELOW)
        run = detect(case.connection, load_rules([(builtin_packs()[PACK], "builtin")]))
    matched = {rule_id for rule_id, matches in run.matches_by_rule.items() if matches}
    alerted = {alert.rule.id for alert in run.alerts if alert.correlation is not None}
    return matched, alerted


def test_near_misses_exist() -> None:
    assert BELOW, "no below_threshold samples"


@pytest.mark.parametrize("sample", BELOW, ids=lambda path: path.parent.name)
def test_correlation_stays_quiet(sample: Path, run_below: tuple[set[str], set[str]]) -> None:
    matched, alerted = run_below
    rule_file = next(builtin_packs()[PACK].rglob(f"{sample.parent.name}.yml"))
    rules = load_rules([(rule_file, "builtin")]).rules
    assert any(loaded.id in matched for loaded in rules if not loaded.is_correlation), (
        "the near miss must contain events the base rules match")
    for loaded in rules:
        if loaded.is_correlation:
            assert loaded.id not in alerted, f"{loaded.title} fired on {sample.name}"
