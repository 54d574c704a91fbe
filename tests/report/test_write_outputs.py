"""write_outputs: every file, in one folder, the same bytes for the same input."""

from __future__ import annotations

from pathlib import Path

import orjson

from trailguard.report import write_outputs
from trailguard.trace.model import TraceResult

NAMES = {"report.html", "incidents.json", "timeline.csv", "attack-layer.json", "iocs.stix.json"}


def test_writes_every_output(result: TraceResult, tmp_path: Path) -> None:
    written = write_outputs(result, tmp_path / "out", title="Case 1")
    assert set(written) == NAMES
    for name, path in written.items():
        assert path == tmp_path / "out" / name
        assert path.stat().st_size > 0


def test_incidents_json_is_the_model_in_rank_order(result: TraceResult,
                                                    tmp_path: Path) -> None:
    written = write_outputs(result, tmp_path)
    incidents = orjson.loads(written["incidents.json"].read_bytes())
    assert incidents == [orjson.loads(orjson.dumps(incident.to_json()))
                         for incident in result.incidents]
    assert [item["id"] for item in incidents] == ["INC-0001", "INC-0002"]
    assert written["incidents.json"].read_text(encoding="utf-8").startswith('[\n  {\n    "id"')


def test_same_input_same_bytes(result: TraceResult, tmp_path: Path) -> None:
    first = write_outputs(result, tmp_path / "a")
    second = write_outputs(result, tmp_path / "b")
    for name in NAMES:
        assert first[name].read_bytes() == second[name].read_bytes(), name
