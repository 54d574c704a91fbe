"""Loading built-in and site playbooks from files and folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from trailguard.respond.playbooks import PlaybookError, load_playbooks

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "respond" / "playbooks"


def test_builtins_load_by_default() -> None:
    ids = [p.id for p in load_playbooks()]
    assert "contain-stolen-key-aliyun" in ids and "notify-critical" in ids
    assert load_playbooks(builtin=False) == []


def test_folder_loads_yaml_and_cacao_recursively() -> None:
    playbooks = load_playbooks([FIXTURES / "site"], builtin=False)
    assert [(p.id, Path(p.source or "").name) for p in playbooks] == [
        ("leaked-cloud-key-response-soar-export", "leaked-key.json"),
        ("stop-miner-aws", "stop-miner.yml"),
    ]
    assert playbooks[1].steps[1].after == ("snapshot",)


def test_duplicate_ids_are_refused_naming_both_files() -> None:
    with pytest.raises(PlaybookError) as caught:
        load_playbooks([FIXTURES / "duplicate-notify-critical.yaml"])
    assert "duplicate playbook id notify-critical (also in builtin/notify-critical.yml)" in (
        caught.value.message)
    assert caught.value.location is not None
    assert caught.value.location.path.endswith("duplicate-notify-critical.yaml")


def test_missing_path_and_bad_json(tmp_path: Path) -> None:
    with pytest.raises(PlaybookError, match="no such playbook file"):
        load_playbooks([tmp_path / "nope.yml"])
    bad = tmp_path / "bad.json"
    bad.write_text('{"type": "playbook",\n  oops}')
    with pytest.raises(PlaybookError) as caught:
        load_playbooks([bad], builtin=False)
    assert str(caught.value.location) == f"{bad}:2"


def test_errors_in_a_file_name_it(tmp_path: Path) -> None:
    path = tmp_path / "broken.yml"
    path.write_text("id: broken\ntitle: B\nsteps:\n  - id: x\n    action: gcp.nuke\n")
    with pytest.raises(PlaybookError) as caught:
        load_playbooks([tmp_path], builtin=False)
    assert str(caught.value.location) == f"{path}!step x:4"
