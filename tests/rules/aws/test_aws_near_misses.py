"""Near misses of the aws correlation rules: `nearmiss*` samples.

`test_builtin_rules.py` checks every rule of a file against the file's `match*` and `nomatch*`
samples, base rules included. A correlation file carries its base rules (a correlation cannot
be loaded without the rules it names), so its `nomatch*` samples can hold no event a base rule
matches: they cannot show a burst that stays under the threshold, events too far apart or in
the wrong order, or events of two different principals. The `nearmiss*` samples do: in each of
them at least one base rule of the file fires, and no correlation of the file that is not
itself referenced by another correlation may alert.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sigma.correlations import SigmaCorrelationRule
from tests.rules.test_builtin_rules import RULE_FILES, SAMPLES, _pack_results, _rules_of

from trailguard.detect.correlation.rule import references_of

PACK = "aws"
CORRELATION_FILES = [
    path for pack, path in RULE_FILES
    if pack == PACK and any(loaded.is_correlation for loaded in _rules_of(PACK, path))
]


@pytest.fixture(scope="session")
def aws_near_miss_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("aws-near-misses")


@pytest.mark.parametrize("rule_file", CORRELATION_FILES, ids=lambda path: path.stem)
def test_correlation_near_misses(rule_file: Path, aws_near_miss_workdir: Path) -> None:
    samples = sorted((SAMPLES / PACK / rule_file.stem).glob("nearmiss*"))
    assert samples, f"no nearmiss* sample for the correlation file {rule_file.name}"
    found = _pack_results(PACK, aws_near_miss_workdir)
    rules = _rules_of(PACK, rule_file)
    referenced = {reference for loaded in rules if isinstance(loaded.rule, SigmaCorrelationRule)
                  for reference in references_of(loaded.rule)}
    final = [loaded for loaded in rules
             if loaded.is_correlation and not (loaded.names & referenced)]
    bases = [loaded for loaded in rules if not loaded.is_correlation]
    for sample in samples:
        where = sample.resolve()
        assert any(found.get(base.id, {}).get(where, 0) for base in bases), (
            f"{sample.name}: no base rule fires, so it is not a near miss")
        for loaded in final:
            assert found.get(loaded.id, {}).get(where, 0) == 0, (
                f"{loaded.title}: alert in {sample.name}")
