"""Each built-in playbook matches its hand-built incident and not the others."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.respond.playbooks import incidents
from trailguard.respond.playbooks import builtin_playbooks, expand, matching
from trailguard.trace.model import Incident

#: playbook id -> (incidents it must match, incidents it must not match)
SAMPLES: dict[str, tuple[list[Callable[[], Incident]], list[Callable[[], Incident]]]] = {
    "contain-stolen-key-aliyun": ([incidents.aliyun_key_theft],
                                  [incidents.aws_key_theft, incidents.aliyun_host_compromise,
                                   incidents.benign_scan]),
    "contain-stolen-key-aws": ([incidents.aws_key_theft],
                               [incidents.aliyun_key_theft, incidents.benign_scan]),
    "isolate-compromised-hosts-aliyun": ([incidents.aliyun_host_compromise],
                                         [incidents.aws_key_theft, incidents.benign_scan]),
    "block-attacker-addresses-aliyun": ([incidents.aliyun_host_compromise,
                                         incidents.aliyun_key_theft],
                                        [incidents.aws_key_theft, incidents.benign_scan]),
    "notify-critical": ([incidents.aliyun_key_theft],
                        [incidents.aws_key_theft, incidents.benign_scan]),
}
VARIABLES: dict[str, dict[str, Any]] = {
    "isolate-compromised-hosts-aliyun": {"forensic_cidr": "10.10.0.0/24"},
    "block-attacker-addresses-aliyun": {"security_group_ids": ["sg-bp1web"]},
}


def test_every_builtin_has_samples() -> None:
    assert sorted(p.id for p in builtin_playbooks()) == sorted(SAMPLES)


@pytest.mark.parametrize("playbook_id", sorted(SAMPLES))
def test_builtin_matches_positive_and_not_negative(playbook_id: str) -> None:
    playbook = next(p for p in builtin_playbooks() if p.id == playbook_id)
    positive, negative = SAMPLES[playbook_id]
    for make in positive:
        incident = make()
        assert matching([playbook], incident) == [playbook], make.__name__
        planned = expand(playbook, incident, VARIABLES.get(playbook_id))
        assert planned, make.__name__
    for make in negative:
        assert matching([playbook], make()) == [], make.__name__


def test_stolen_aliyun_key_plan() -> None:
    playbook = next(p for p in builtin_playbooks() if p.id == "contain-stolen-key-aliyun")
    planned = expand(playbook, incidents.aliyun_key_theft())
    assert [p.key for p in planned] == ["disable-keys[LTAI5tATTACKERKEY01]", "notify"]
    assert planned[0].params == {"access_key_id": "LTAI5tATTACKERKEY01",
                                 "user_name": "ops-bot"}
    assert planned[0].needs_approval and planned[0].on_failure == "continue"
    assert planned[1].after == ("disable-keys[LTAI5tATTACKERKEY01]",)
    assert planned[1].params["text"].startswith("INC-ALI-KEY [critical, score 82.0]")


def test_isolation_snapshots_first_then_isolates_then_notifies() -> None:
    playbook = next(p for p in builtin_playbooks()
                    if p.id == "isolate-compromised-hosts-aliyun")
    planned = expand(playbook, incidents.aliyun_host_compromise(),
                     {"forensic_cidr": "10.10.0.0/24"})
    assert [p.key for p in planned] == [
        "snapshot[i-bp1abcdef0123456]", "snapshot[i-bp1second00000001]",
        "isolate[i-bp1abcdef0123456]", "isolate[i-bp1second00000001]", "notify"]
    isolate = planned[2]
    assert isolate.after == ("snapshot[i-bp1abcdef0123456]", "snapshot[i-bp1second00000001]")
    assert isolate.params == {"instance_id": "i-bp1abcdef0123456",
                              "forensic_cidr": "10.10.0.0/24", "forensic_port": 22}
    assert isolate.on_failure == "rollback" and isolate.reversible
    assert not planned[0].reversible
