"""Playbook parsing and load-time validation: every error names the file, step and line."""

from __future__ import annotations

import textwrap

import pytest

from trailguard.respond.playbooks import PlaybookError, parse_playbook
from trailguard.respond.playbooks.model import Conditions

GOOD = """\
id: contain-key
title: Contain a key
when:
  tactics: [credential-access, persistence]
  techniques: [T1078]
  entities: [access_key]
  min_score: 60
  providers: [aliyun]
vars:
  cidr: 10.0.0.0/24
steps:
  - id: snapshot
    action: aliyun.snapshot_disks
    for_each: impact.instances
    params: {instance_id: "{item}", incident_id: "{incident.id}"}
  - id: disable-keys
    action: aliyun.disable_access_key
    for_each: indicators.access-key
    params: {access_key_id: "{item}", user_name: "{principal_of_key}"}
    approval: required
    on_failure: continue
  - id: notify
    action: notify.slack
    params: {incident_id: "{incident.id}", text: "{summary}"}
    after: [snapshot]
"""


def parse(text: str, name: str = "pb.yml"):
    return parse_playbook(textwrap.dedent(text), name)


def test_good_playbook_parses_with_defaults() -> None:
    playbook = parse(GOOD)
    assert playbook.when == Conditions(tactics=("credential-access", "persistence"),
                                       techniques=("T1078",), entities=("access_key",),
                                       min_score=60.0, providers=("aliyun",))
    snapshot, disable, notify = playbook.steps
    assert (snapshot.approval, snapshot.on_failure, snapshot.after) == ("none", "stop", ())
    assert disable.after == ("snapshot",)  # default: the previous step
    assert notify.after == ("snapshot",)
    assert [s.line for s in playbook.steps] == [12, 16, 22]
    assert [s.id for s in playbook.ordered()] == ["snapshot", "disable-keys", "notify"]


def test_yaml_round_trip() -> None:
    playbook = parse(GOOD)
    assert parse_playbook(playbook.to_yaml(), "again.yml") == playbook


def _error(text: str) -> PlaybookError:
    with pytest.raises(PlaybookError) as caught:
        parse(text)
    return caught.value


def _with_step(step: str, extra: str = "") -> str:
    return ("id: p\ntitle: P\nwhen: {}\n" + extra + "steps:\n"
            "  - id: first\n    action: notify.slack\n"
            "    params: {incident_id: x, text: y}\n" + textwrap.indent(step, "  "))


@pytest.mark.parametrize(("step", "message"), [
    ("- id: two\n  action: aws.nope\n", "unknown response action 'aws.nope'"),
    ("- id: two\n  action: notify.slack\n  params: {incident_id: x, text: '{incident.secret}'}\n",
     "incident fields are"),
    ("- id: two\n  action: notify.slack\n  params: {incident_id: x, text: '{evil()}'}\n",
     "is not a placeholder name"),
    ("- id: two\n  action: notify.slack\n  params: {incident_id: x, text: '{nope}'}\n",
     "unknown placeholder {nope}"),
    ("- id: two\n  action: notify.slack\n  params: {incident_id: x, text: '{item}'}\n",
     "{item} needs for_each"),
    ("- id: two\n  action: notify.slack\n  params: {incident_id: x, text: '{vars.nope}'}\n",
     "no such variable"),
    ("- id: two\n  action: notify.slack\n  params: {incident_id: x, text: 'a { b'}\n",
     "unbalanced"),
    ("- id: two\n  action: notify.slack\n  params: {incident_id: x}\n",
     "missing parameter(s) text"),
    ("- id: two\n  action: notify.slack\n  params: {incident_id: x, text: y, colour: red}\n",
     "unknown parameter(s) colour"),
    ("- id: two\n  action: notify.slack\n  for_each: chain.everything\n"
     "  params: {incident_id: x, text: y}\n", "not an allowed path"),
    ("- id: two\n  action: notify.slack\n  approval: maybe\n"
     "  params: {incident_id: x, text: y}\n", "approval must be one of"),
    ("- id: two\n  action: notify.slack\n  on_failure: retry\n"
     "  params: {incident_id: x, text: y}\n", "on_failure must be one of"),
    ("- id: two\n  action: notify.slack\n  after: [ghost]\n"
     "  params: {incident_id: x, text: y}\n", "after: no step 'ghost'"),
    ("- id: two\n  action: notify.slack\n  colour: red\n  params: {incident_id: x, text: y}\n",
     "unknown step key(s) colour"),
])
def test_step_errors_name_file_step_and_line(step: str, message: str) -> None:
    error = _error(_with_step(step))
    assert message in error.message
    assert error.location is not None
    assert (error.location.path, error.location.member, error.location.position) == (
        "pb.yml", "step two", 8)
    assert str(error).endswith("(in pb.yml!step two:8)")


def test_duplicate_step_ids_are_refused() -> None:
    error = _error(_with_step("- id: first\n  action: notify.slack\n"
                              "  params: {incident_id: x, text: y}\n"))
    assert "duplicate step id first" in error.message
    assert error.location is not None and error.location.member == "step first"


def test_after_cycles_are_refused() -> None:
    text = ("id: p\ntitle: P\nsteps:\n"
            "  - {id: a, action: notify.slack, params: {incident_id: x, text: y}, after: [b]}\n"
            "  - {id: b, action: notify.slack, params: {incident_id: x, text: y}, after: [a]}\n")
    error = _error(text)
    assert "cycle among: a, b" in error.message
    assert error.location is not None and error.location.member == "step a"


@pytest.mark.parametrize(("text", "message"), [
    ("- 1\n", "a playbook must be a mapping"),
    ("id: Bad Id\ntitle: x\nsteps: []\n", "id must be lowercase"),
    ("id: p\nsteps: []\n", "title is required"),
    ("id: p\ntitle: P\nsteps: []\n", "steps must be a non-empty list"),
    ("id: p\ntitle: P\nwhen: {colour: red}\nsteps: []\n", "unknown when key(s) colour"),
    ("id: p\ntitle: P\nwhen: {techniques: [T10]}\nsteps: []\n", "'T10' is not well formed"),
    ("id: p\ntitle: P\nwhen: {entities: [dragon]}\nsteps: []\n", "'dragon' is not one of"),
    ("id: p\ntitle: P\nwhen: {min_score: 300}\nsteps: []\n", "min_score must be a number"),
    ("id: p\ntitle: P\nvars: {Bad-Name: 1}\nsteps: []\n", "bad variable name"),
    ("id: p\ntitle: P\nsteps: [\n", "not valid YAML"),
    ("!!python/object:os.system {}\n", "not valid YAML"),
])
def test_playbook_errors_name_the_file(text: str, message: str) -> None:
    error = _error(text)
    assert message in error.message
    assert error.location is not None and error.location.path == "pb.yml"


def test_missing_when_means_never_matched_automatically() -> None:
    playbook = parse("id: p\ntitle: P\nsteps:\n"
                     "  - {id: a, action: notify.slack, params: {incident_id: x, text: y}}\n")
    assert playbook.when is None
