"""attack-layer.json: an ATT&CK Navigator layer in format 4.5."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import orjson

from trailguard.report.attack import ENTERPRISE_TACTICS
from trailguard.report.navigator import build_layer, write_navigator
from trailguard.trace.model import TraceResult

REQUIRED = {"name": str, "versions": dict, "domain": str}
OPTIONAL = {
    "description": str, "sorting": int, "layout": dict, "hideDisabled": bool,
    "techniques": list, "gradient": dict, "legendItems": list,
    "showTacticRowBackground": bool, "tacticRowBackground": str,
    "selectTechniquesAcrossTactics": bool, "selectSubtechniquesWithParent": bool,
    "selectVisibleTechniques": bool, "metadata": list, "links": list, "filters": dict,
    "customDataURL": str,
}
TECHNIQUE_KEYS = {
    "techniqueID": str, "tactic": str, "comment": str, "enabled": bool, "score": int,
    "color": str, "metadata": list, "links": list, "showSubtechniques": bool,
}
HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


def check_layer(layer: dict[str, Any]) -> None:
    """The layer follows the Navigator's layer format 4.5 (keys, types, values)."""
    for key, kind in REQUIRED.items():
        assert isinstance(layer[key], kind), key
    for key, value in layer.items():
        assert key in REQUIRED or key in OPTIONAL, f"unknown key {key}"
        if key in OPTIONAL:
            assert isinstance(value, OPTIONAL[key]), key
    assert layer["versions"]["layer"] == "4.5"
    assert tuple(int(part) for part in layer["versions"]["navigator"].split(".")) >= (4, 9, 0)
    assert isinstance(layer["versions"]["attack"], str)
    assert layer["domain"] in {"enterprise-attack", "mobile-attack", "ics-attack"}
    assert layer["sorting"] in {0, 1, 2, 3}
    layout = layer["layout"]
    assert layout["layout"] in {"side", "flat", "mini"}
    assert layout["aggregateFunction"] in {"average", "min", "max", "sum"}
    assert layout["expandedSubtechniques"] in {"none", "all", "annotated"}
    for flag in ("showID", "showName", "showAggregateScores", "countUnscored"):
        assert isinstance(layout[flag], bool)
    gradient = layer["gradient"]
    assert len(gradient["colors"]) >= 2
    assert all(HEX_COLOR.match(color) for color in gradient["colors"])
    assert gradient["maxValue"] > gradient["minValue"]
    for technique in layer["techniques"]:
        assert re.match(r"^T\d{4}(\.\d{3})?$", technique["techniqueID"])
        for key, value in technique.items():
            assert key in TECHNIQUE_KEYS, key
            assert isinstance(value, TECHNIQUE_KEYS[key]), key
        for item in technique.get("metadata", []):
            assert set(item) == {"name", "value"}
            assert all(isinstance(value, str) for value in item.values())


def entry(layer: dict[str, Any], technique: str, tactic: str) -> dict[str, Any]:
    return next(item for item in layer["techniques"]
                if item["techniqueID"] == technique and item.get("tactic") == tactic)


def test_layer_follows_format_4_5(result: TraceResult) -> None:
    layer = build_layer(result, title="Case 7")
    check_layer(layer)
    assert layer["name"] == "Case 7"
    assert layer["versions"] == {"attack": "18", "navigator": "5.1.0", "layer": "4.5"}
    assert layer["hideDisabled"] is False
    assert layer["selectTechniquesAcrossTactics"] is True
    assert layer["legendItems"] == []


def test_one_entry_per_alerted_technique_and_tactic(result: TraceResult) -> None:
    layer = build_layer(result, title="t")
    scored = {(item["techniqueID"], item.get("tactic")): item["score"]
              for item in layer["techniques"] if "score" in item}
    assert scored == {
        ("T1078.004", "initial-access"): 3, ("T1190", "initial-access"): 1,
        ("T1098.001", "persistence"): 1, ("T1136.001", "persistence"): 1,
        ("T1021.004", "lateral-movement"): 2, ("T1567", "exfiltration"): 12,
        ("T1489", "impact"): 1,
    }
    # The context step (T1580) is no detection; the step without a technique has no entry.
    assert all(item["techniqueID"] != "T1580" for item in layer["techniques"])
    assert all(item.get("tactic") in ENTERPRISE_TACTICS for item in layer["techniques"])
    assert layer["gradient"]["maxValue"] == 12


def test_entries_name_their_incidents(result: TraceResult) -> None:
    twin = dataclasses.replace(result.incidents[0], id="INC-0009")
    layer = build_layer(dataclasses.replace(result, incidents=[*result.incidents, twin]),
                        title="t")
    login = entry(layer, "T1078.004", "initial-access")
    assert login["score"] == 6
    assert login["comment"] == "Incidents: INC-0001, INC-0009"
    assert {"name": "incident", "value": "INC-0009"} in login["metadata"]
    assert login["enabled"] is True


def test_parents_of_subtechniques_show_them(result: TraceResult) -> None:
    layer = build_layer(result, title="t")
    parent = entry(layer, "T1078", "initial-access")
    assert parent["showSubtechniques"] is True
    assert "score" not in parent


def test_written_file_is_the_layer(result: TraceResult, tmp_path: Path) -> None:
    path = write_navigator(result, tmp_path / "attack-layer.json", title="t")
    written = orjson.loads(path.read_bytes())
    check_layer(written)
    assert written == build_layer(result, title="t")


def test_empty_result_still_makes_a_valid_layer() -> None:
    layer = build_layer(TraceResult([], 0, [], {}), title="empty")
    check_layer(layer)
    assert layer["techniques"] == []
