"""iocs.stix.json: a valid STIX 2.1 bundle with safe patterns and deterministic ids."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import stix2  # type: ignore[import-untyped]
from stix2.pattern_visitor import create_pattern_object  # type: ignore[import-untyped]
from stix2patterns.v21.pattern import Pattern  # type: ignore[import-untyped]
from stix2patterns.validator import run_validator  # type: ignore[import-untyped]

from tests.report.conftest import HOSTILE, PATTERN_HOSTILE
from trailguard.report.stix import attack_url, build_bundle, literal, pattern, write_stix
from trailguard.trace.model import Indicator, TraceResult

WHEN = datetime(2026, 3, 1, tzinfo=UTC)


def objects(result: TraceResult, tmp_path: Path) -> list[dict[str, Any]]:
    path = write_stix(result, tmp_path / "iocs.stix.json")
    stix2.parse(path.read_text(encoding="utf-8"), allow_custom=False)
    return list(json.loads(path.read_text(encoding="utf-8"))["objects"])


def of_type(items: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [item for item in items if item["type"] == kind]


def unescape(text: str) -> str:
    """The value of a STIX pattern string literal."""
    assert text[0] == text[-1] == "'"
    return re.sub(r"\\(.)", r"\1", text[1:-1], flags=re.DOTALL)


def test_written_bundle_parses_strictly(result: TraceResult, tmp_path: Path) -> None:
    path = write_stix(result, tmp_path / "iocs.stix.json")
    bundle = stix2.parse(path.read_text(encoding="utf-8"), allow_custom=False)
    assert bundle.type == "bundle"
    kinds = {item.type for item in bundle.objects}
    assert kinds == {"incident", "indicator", "attack-pattern", "sighting", "relationship"}


def test_incidents_are_named_and_described(result: TraceResult, tmp_path: Path) -> None:
    incidents = of_type(objects(result, tmp_path), "incident")
    assert [item["name"] for item in incidents] == [
        incident.title for incident in result.incidents]
    assert incidents[0]["external_references"] == [
        {"source_name": "trailguard", "external_id": "INC-0001"}]
    assert "severity critical" in incidents[0]["description"]
    assert {"kill_chain_name": "mitre-attack", "phase_name": "initial-access"} in (
        incidents[0]["kill_chain_phases"])


def test_one_indicator_per_distinct_value(result: TraceResult, tmp_path: Path) -> None:
    indicators = of_type(objects(result, tmp_path), "indicator")
    # 198.51.100.77 is in both incidents: one indicator, two sightings.
    assert len(indicators) == 7
    patterns = {item["pattern"] for item in indicators}
    assert "[ipv4-addr:value = '198.51.100.77']" in patterns
    assert "[user-account:user_id = 'AKIAEXAMPLEKEY000001']" in patterns
    for item in indicators:
        assert item["pattern_type"] == "stix"
        assert run_validator(item["pattern"], "2.1") == []
    sightings = of_type(objects(result, tmp_path), "sighting")
    address = next(item["id"] for item in indicators
                   if item["pattern"] == "[ipv4-addr:value = '198.51.100.77']")
    seen = [item for item in sightings if item["sighting_of_ref"] == address]
    assert len(seen) == 2
    assert {item["count"] for item in seen} == {3, 1}
    assert all(item["first_seen"] <= item["last_seen"] for item in sightings)


def test_attack_patterns_reference_mitre(result: TraceResult, tmp_path: Path) -> None:
    patterns = of_type(objects(result, tmp_path), "attack-pattern")
    cloud = next(item for item in patterns
                 if item["external_references"][0]["external_id"] == "T1078.004")
    assert cloud["name"] == "Cloud Accounts"
    assert cloud["external_references"] == [{
        "source_name": "mitre-attack", "external_id": "T1078.004",
        "url": "https://attack.mitre.org/techniques/T1078/004/"}]
    ids = sorted(item["external_references"][0]["external_id"] for item in patterns)
    assert ids == sorted(["T1078.004", "T1580", "T1098.001", "T1567", "T1190", "T1136.001",
                          "T1021.004", "T1489"])
    assert attack_url("T1190") == "https://attack.mitre.org/techniques/T1190/"


def test_relationships_use_allowed_types(result: TraceResult, tmp_path: Path) -> None:
    items = objects(result, tmp_path)
    kind_of = {item["id"]: item["type"] for item in items}
    relationships = of_type(items, "relationship")
    pairs = {(kind_of[item["source_ref"]], item["relationship_type"],
              kind_of[item["target_ref"]]) for item in relationships}
    assert pairs == {("indicator", "indicates", "attack-pattern"),
                     ("incident", "related-to", "indicator"),
                     ("incident", "related-to", "attack-pattern")}
    address = next(item["id"] for item in items if item["type"] == "indicator"
                   and item["pattern"] == "[ipv4-addr:value = '198.51.100.77']")
    indicated = {item["target_ref"] for item in relationships
                 if item["source_ref"] == address and item["relationship_type"] == "indicates"}
    names = {item["id"]: item["name"] for item in items if item["type"] == "attack-pattern"}
    assert {names[target] for target in indicated} == {
        "Cloud Accounts", "Cloud Infrastructure Discovery", "Exfiltration Over Web Service"}


def test_bundle_is_deterministic(result: TraceResult, tmp_path: Path) -> None:
    first = write_stix(result, tmp_path / "a.json").read_bytes()
    second = write_stix(result, tmp_path / "b.json").read_bytes()
    assert first == second
    assert build_bundle(result).id == build_bundle(result).id


HOSTILE_VALUES = [
    "it's", "back\\slash", "trailing\\", "\\'", "']", "] OR [ipv4-addr:value = '1.1.1.1'",
    "line\nbreak\r\n", "tab\there", PATTERN_HOSTILE, HOSTILE, "ünïcödé ✓", "",
]


@pytest.mark.parametrize("value", HOSTILE_VALUES)
@pytest.mark.parametrize("kind", ["ipv4-addr", "domain-name", "url", "user-agent",
                                  "access-key", "ipv6-addr"])
def test_hostile_values_make_valid_single_comparisons(kind: str, value: str) -> None:
    text = pattern(Indicator(kind, value, WHEN, WHEN, 1))
    assert text is not None
    assert run_validator(text, "2.1") == []
    create_pattern_object(text, version="2.1")  # the stix2 pattern visitor accepts it too
    comparisons = Pattern(text).inspect().comparisons
    assert sum(len(found) for found in comparisons.values()) == 1
    ((_, _, found),) = next(iter(comparisons.values()))
    assert unescape(found) == value


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_hostile_indicators_build_valid_stix_objects(value: str) -> None:
    indicator = stix2.Indicator(pattern=pattern(Indicator("url", value, WHEN, WHEN, 1)),
                                pattern_type="stix", valid_from=WHEN)
    assert stix2.parse(indicator.serialize(), allow_custom=False).pattern == indicator.pattern


@pytest.mark.parametrize(("value", "expected"), [
    ("/var/www/shell.php",
     "[file:name = 'shell.php' AND file:parent_directory_ref.path = '/var/www']"),
    ("C:\\Temp\\a'b.exe",
     "[file:name = 'a\\'b.exe' AND file:parent_directory_ref.path = 'C:\\\\Temp']"),
    ("/x", "[file:name = 'x' AND file:parent_directory_ref.path = '/']"),
    ("payload.bin", "[file:name = 'payload.bin']"),
    ("A" * 64, "[file:hashes.'SHA-256' = '" + "a" * 64 + "']"),
    ("D41D8CD98F00B204E9800998ECF8427E",
     "[file:hashes.'MD5' = 'd41d8cd98f00b204e9800998ecf8427e']"),
])
def test_file_patterns(value: str, expected: str) -> None:
    text = pattern(Indicator("file", value, WHEN, WHEN, 1))
    assert text == expected
    assert run_validator(text, "2.1") == []


def test_unknown_indicator_kind_is_left_out() -> None:
    assert pattern(Indicator("mutex", "Global\\x", WHEN, WHEN, 1)) is None


def test_literal_escapes_backslash_before_quote() -> None:
    assert literal("a\\'b") == "'a\\\\\\'b'"
