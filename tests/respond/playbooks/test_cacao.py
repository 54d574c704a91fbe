"""CACAO 2.0 export and import."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import pytest

from trailguard.respond.playbooks import (
    CacaoError,
    PlaybookError,
    builtin_playbooks,
    from_cacao,
    parse_playbook,
    to_cacao,
    validate_cacao,
)
from trailguard.respond.playbooks.cacao import EXTENSION_ID

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "respond" / "cacao"
WHEN = dt.datetime(2026, 3, 1, 8, 0, 0, 123456, tzinfo=dt.UTC)


@pytest.mark.parametrize("playbook", builtin_playbooks(), ids=lambda p: p.id)
def test_exports_validate_and_round_trip_exactly(playbook) -> None:
    document = to_cacao(playbook, created=WHEN)
    assert validate_cacao(document) == []
    assert json.loads(json.dumps(document)) == document
    back = from_cacao(document)
    assert back == playbook
    assert back.notes == ()
    assert document["created"] == "2026-03-01T08:00:00.123Z"


def test_export_is_stable_and_shaped_as_cacao() -> None:
    playbook = next(p for p in builtin_playbooks()
                    if p.id == "isolate-compromised-hosts-aliyun")
    document = to_cacao(playbook, created=WHEN)
    assert to_cacao(playbook, created=WHEN) == document
    assert document["id"].startswith("playbook--")
    assert document["playbook_types"] == ["mitigation", "notification"]
    steps = document["workflow"]
    start = steps[document["workflow_start"]]
    first = steps[start["on_completion"]]
    assert first["name"] == "Snapshot every disk"
    isolate = steps[first["on_success"]]
    end = [k for k, v in steps.items() if v["type"] == "end"]
    assert isolate["on_failure"] == end[0]  # rollback: the playbook stops there
    assert isolate["step_extensions"][EXTENSION_ID]["on_failure"] == "rollback"
    assert isolate["commands"][0]["type"] == "manual"
    assert isolate["agent"] in document["agent_definitions"]
    assert all(t in document["target_definitions"] for t in isolate["targets"])


def test_out_of_order_steps_round_trip() -> None:
    playbook = parse_playbook(
        "id: p\ntitle: P\nwhen: {}\nsteps:\n"
        "  - {id: b, action: notify.slack, params: {incident_id: x, text: y}, after: [a],"
        " on_failure: continue}\n"
        "  - {id: a, action: notify.slack, params: {incident_id: x, text: z}, after: []}\n",
        "p.yml")
    assert from_cacao(to_cacao(playbook)) == playbook


def test_third_party_playbook_imports_what_maps_and_reports_the_rest() -> None:
    document = json.loads((FIXTURES / "third-party.json").read_text())
    playbook = from_cacao(document, source="third-party.json")
    assert playbook.id == "leaked-cloud-key-response-soar-export"
    assert [(s.id, s.action, s.after) for s in playbook.steps] == [
        ("disable-the-leaked-key", "aliyun.disable_access_key", ()),
        ("page-on-call", "notify.slack", ("disable-the-leaked-key",)),
    ]
    assert playbook.steps[0].approval == "required"
    assert playbook.when is None  # never matched automatically
    notes = "\n".join(playbook.notes)
    assert "$.workflow['action--0a1b2c3d-0000-4000-8000-000000000002']" in notes
    assert "'Call the key owner' has no TrailGuard action (commands: manual)" in notes
    assert "if-condition step 'Production key?'" in notes
    assert "no TrailGuard conditions" in notes


def test_third_party_without_trailguard_steps_is_refused() -> None:
    document = json.loads((FIXTURES / "third-party.json").read_text())
    for step in document["workflow"].values():
        step.pop("step_extensions", None)
    with pytest.raises(CacaoError, match="nothing to import") as caught:
        from_cacao(document, source="x.json")
    assert len(caught.value.problems) == 4


def test_third_party_step_with_bad_params_names_the_step() -> None:
    document = json.loads((FIXTURES / "third-party.json").read_text())
    document = copy.deepcopy(document)
    step = document["workflow"]["action--0a1b2c3d-0000-4000-8000-000000000005"]
    step["step_extensions"][EXTENSION_ID]["params"]["colour"] = "red"
    with pytest.raises(PlaybookError) as caught:
        from_cacao(document, source="x.json")
    assert "unknown parameter(s) colour" in caught.value.message
    assert caught.value.location is not None
    assert caught.value.location.member == "step page-on-call"
