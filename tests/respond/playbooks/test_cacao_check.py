"""CACAO validation: schema violations and dangling references, each with its JSON path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from trailguard.respond.playbooks import CacaoError, from_cacao, validate_cacao
from trailguard.respond.playbooks.cacao_check import json_path

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "respond" / "cacao"
ACTION = "action--0a1b2c3d-0000-4000-8000-000000000003"


def sample() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((FIXTURES / "third-party.json").read_text())
    return document


def paths(document: Any) -> list[str]:
    return [p.path for p in validate_cacao(document)]


def test_sample_is_valid() -> None:
    assert validate_cacao(sample()) == []


def test_dangling_step_is_named() -> None:
    document = sample()
    document["workflow"][ACTION]["on_success"] = "action--0a1b2c3d-0000-4000-8000-00000000dead"
    problems = validate_cacao(document)
    assert [str(p) for p in problems] == [
        f"$.workflow['{ACTION}'].on_success: 'action--0a1b2c3d-0000-4000-8000-00000000dead' "
        "is not a step of workflow"]
    with pytest.raises(CacaoError) as caught:
        from_cacao(document, source="bad.json")
    assert f"$.workflow['{ACTION}'].on_success" in str(caught.value)
    assert str(caught.value).endswith("(in bad.json)")


def test_dangling_agent_and_target_are_named() -> None:
    document = sample()
    del document["agent_definitions"]["http-api--0a1b2c3d-0000-4000-8000-0000000000a2"]
    document["target_definitions"] = {"individual--0a1b2c3d-0000-4000-8000-0000000000f1": {
        "type": "individual", "name": "someone"}}
    found = paths(document)
    assert f"$.workflow['{ACTION}'].agent" in found
    assert "$.workflow['action--0a1b2c3d-0000-4000-8000-000000000005'].agent" in found
    assert f"$.workflow['{ACTION}'].targets[0]" in found


def test_missing_workflow_start_is_named() -> None:
    document = sample()
    del document["workflow_start"]
    problems = validate_cacao(document)
    assert "$.workflow_start" in [p.path for p in problems]
    assert any("'workflow_start' is a required property" in p.message for p in problems)


def test_workflow_start_must_be_a_start_step() -> None:
    document = sample()
    document["workflow_start"] = ACTION
    assert [str(p) for p in validate_cacao(document)] == [
        f"$.workflow_start: '{ACTION}' is not a start step"]


@pytest.mark.parametrize(("change", "path", "message"), [
    (lambda d: d.update(spec_version="cacao-1.0"), "$.spec_version", "is not one of"),
    (lambda d: d.update(created="yesterday"), "$.created", "does not match"),
    (lambda d: d["workflow"][ACTION].pop("agent"), f"$.workflow['{ACTION}']",
     "'agent' is a required property"),
    (lambda d: d["workflow"][ACTION].update(commands=[]), f"$.workflow['{ACTION}'].commands",
     "should be non-empty"),
    (lambda d: d["agent_definitions"]["http-api--0a1b2c3d-0000-4000-8000-0000000000a2"]
     .pop("address"), "$.agent_definitions['http-api--0a1b2c3d-0000-4000-8000-0000000000a2']",
     "'address' is a required property"),
    (lambda d: d["data_marking_definitions"][
        "marking-tlp--34098fce-860f-48ae-8e50-ebd3cc5e41da"].update(tlpv2_level="TLP:PINK"),
     "$.data_marking_definitions['marking-tlp--34098fce-860f-48ae-8e50-ebd3cc5e41da']"
     ".tlpv2_level", "is not one of"),
])
def test_schema_violations_are_named(change: Any, path: str, message: str) -> None:
    document = sample()
    change(document)
    problems = validate_cacao(document)
    assert any(p.path == path and message in p.message for p in problems), problems
    with pytest.raises(CacaoError) as caught:
        from_cacao(document)
    assert caught.value.problems == problems


def test_not_an_object() -> None:
    assert paths([1, 2]) == ["$"]


def test_json_path() -> None:
    assert json_path(["workflow", "start--x", "next_steps", 1]) == (
        "$.workflow['start--x'].next_steps[1]")
    assert json_path(["a", "it's"]) == "$.a['it\\'s']"
