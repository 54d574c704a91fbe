"""`bench/cloud_coverage.py`: its scope table stays true to the data and to the aws pack, and the
Stratus Red Team coverage the pack was built for holds."""

from __future__ import annotations

from fnmatch import fnmatch
from pathlib import Path

import pytest
from bench import cloud_coverage

from trailguard.detect.sources import builtin_packs

needs_data = pytest.mark.skipif(not cloud_coverage.PANTHER.is_dir()
                                or not cloud_coverage.STRATUS.is_dir(),
                                reason="../shared/data is not available")


def _aws_stems() -> set[str]:
    return {path.stem for path in cloud_coverage.rule_files(builtin_packs()["aws"])}


@needs_data
def test_every_intent_names_a_panther_rule() -> None:
    panther = {path.stem for folder in cloud_coverage.PANTHER_FOLDERS
               for path in (cloud_coverage.PANTHER / folder).glob("*.yml")}
    assert [i.panther for i in cloud_coverage.INTENTS if i.panther not in panther] == []


def test_every_aws_intent_names_an_aws_rule_file() -> None:
    stems = _aws_stems()
    unclaimed = [intent.panther for intent in cloud_coverage.INTENTS if intent.pack == "aws"
                 and not any(fnmatch(stem, p) for stem in stems for p in intent.rules)]
    assert unclaimed == []


def test_intent_relations_are_known() -> None:
    assert {intent.relation for intent in cloud_coverage.INTENTS} <= {"same", "narrower"}


def test_written_events_get_unique_ids() -> None:
    test = cloud_coverage.PantherTest("rule", "name", True, "AWS.CloudTrail",
                                      {"eventID": "1234", "eventName": "X"})
    assert b'"eventID": "1234#panther-7"' in cloud_coverage._written(test, 7)
    assert test.event["eventID"] == "1234"


@needs_data
@pytest.mark.slow
def test_stratus_coverage(tmp_path: Path) -> None:
    result = cloud_coverage.stratus(tmp_path, builtin_packs())
    assert result["techniques"] == 35
    assert result["detected_either"] >= 30
    assert result["detected_builtin"] >= 28
    assert result["cross_file_alerts"] == []
