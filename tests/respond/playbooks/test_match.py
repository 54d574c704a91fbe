"""Matching playbooks to incidents and expanding them into planned steps."""

from __future__ import annotations

import pytest

from tests.respond.playbooks import incidents
from trailguard.respond.playbooks import PlaybookError, expand, matching, parse_playbook
from trailguard.respond.playbooks.match import conditions_hold, technique_matches
from trailguard.respond.playbooks.model import Conditions


def test_technique_prefix_matches_at_the_dot() -> None:
    assert technique_matches("T1078", "T1078.004")
    assert technique_matches("T1078.004", "T1078.004")
    assert not technique_matches("T1078.004", "T1078")
    assert not technique_matches("T107", "T1078")


@pytest.mark.parametrize(("when", "expected"), [
    (Conditions(), True),
    (Conditions(tactics=("persistence", "impact")), True),
    (Conditions(tactics=("impact",)), False),
    (Conditions(techniques=("T1078",)), True),
    (Conditions(techniques=("T1078.001",)), False),
    (Conditions(entities=("access_key",)), True),
    (Conditions(entities=("host",)), False),
    (Conditions(min_score=82), True),
    (Conditions(min_score=82.1), False),
    (Conditions(severities=("critical",)), True),
    (Conditions(severities=("high", "medium")), False),
    (Conditions(providers=("aliyun",)), True),
    (Conditions(providers=("aws",)), False),
    (Conditions(tactics=("persistence",), providers=("aws",)), False),
])
def test_conditions(when: Conditions, expected: bool) -> None:
    assert conditions_hold(when, incidents.aliyun_key_theft().to_json()) is expected


PLAYBOOK = """\
id: p
title: P
when: {entities: [access_key]}
vars: {groups: null, cidr: 10.0.0.0/24}
steps:
  - id: notify-first
    action: notify.slack
    params: {incident_id: "{incident.id}", text: "start"}
    after: []
  - id: disable
    action: aliyun.disable_access_key
    for_each: attacker.access_key
    params: {access_key_id: "{item}", user_name: "{principal_of_key}"}
  - id: block
    action: aliyun.block_address
    for_each: attacker.ip
    params: {address: "{item}", security_group_ids: "{vars.groups}"}
    after: [disable, notify-first]
"""


def test_matching_accepts_incidents_and_stored_documents() -> None:
    playbook = parse_playbook(PLAYBOOK, "p.yml")
    assert matching([playbook], incidents.aliyun_key_theft()) == [playbook]
    assert matching([playbook], incidents.aliyun_key_theft().to_json()) == [playbook]
    assert matching([playbook], incidents.benign_scan()) == []


def test_expand_orders_keys_and_dependencies() -> None:
    playbook = parse_playbook(PLAYBOOK, "p.yml")
    planned = expand(playbook, incidents.aliyun_key_theft(), {"groups": ["sg-1"]})
    assert [(p.key, p.after) for p in planned] == [
        ("notify-first", ()),
        ("disable[LTAI5tATTACKERKEY01]", ("notify-first",)),
        ("block[198.51.100.77]", ("disable[LTAI5tATTACKERKEY01]", "notify-first")),
    ]
    assert planned[2].params == {"address": "198.51.100.77", "security_group_ids": ["sg-1"]}
    assert planned[2].to_dict()["item"] == "198.51.100.77"


def test_for_each_without_values_makes_no_instances() -> None:
    playbook = parse_playbook(PLAYBOOK, "p.yml")
    planned = expand(playbook, incidents.aws_key_theft().to_json() | {"entities": []},
                     {"groups": ["sg-1"]})
    assert [p.key for p in planned] == ["notify-first"]


def test_missing_variable_names_file_and_step() -> None:
    playbook = parse_playbook(PLAYBOOK, "p.yml")
    with pytest.raises(PlaybookError) as caught:
        expand(playbook, incidents.aliyun_key_theft())
    assert "variable groups has no value" in caught.value.message
    assert str(caught.value.location) == "p.yml!step block[198.51.100.77]:14"


def test_unknown_variable_override_is_refused() -> None:
    playbook = parse_playbook(PLAYBOOK, "p.yml")
    with pytest.raises(PlaybookError, match="unknown variable"):
        expand(playbook, incidents.aliyun_key_theft(), {"grups": ["sg-1"]})


def test_params_are_checked_after_substitution() -> None:
    playbook = parse_playbook(PLAYBOOK, "p.yml")
    with pytest.raises(PlaybookError) as caught:
        expand(playbook, incidents.aliyun_key_theft(), {"groups": []})
    assert "security_group_ids must name at least one group" in caught.value.message
    assert caught.value.location is not None
    assert caught.value.location.member == "step block[198.51.100.77]"


def test_unresolvable_resolver_names_the_item() -> None:
    playbook = parse_playbook(PLAYBOOK, "p.yml")
    doc = incidents.aliyun_key_theft().to_json()
    doc["entities"] = [e for e in doc["entities"] if e["kind"] != "principal"]
    doc["chain"] = []
    with pytest.raises(PlaybookError) as caught:
        expand(playbook, doc, {"groups": ["sg-1"]})
    assert "{principal_of_key} found no value for LTAI5tATTACKERKEY01" in caught.value.message
