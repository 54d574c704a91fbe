"""Facts read from incident documents."""

from __future__ import annotations

from tests.respond.playbooks import incidents
from trailguard.respond.playbooks.facts import (
    FOR_EACH,
    co_occurrence_counts,
    co_occurring,
    document,
    providers,
    user_name,
)


def test_providers_from_sources_keys_and_principals() -> None:
    assert providers(document(incidents.aliyun_key_theft())) == {"aliyun"}
    assert providers(document(incidents.aws_key_theft())) == {"aws"}
    assert providers(document(incidents.aliyun_host_compromise())) == {"aliyun"}
    assert providers(document(incidents.benign_scan())) == set()
    assert providers({"entities": [{"kind": "principal",
                                    "value": "acs:ram::123:user/alice"}]}) == {"aliyun"}


def test_for_each_paths() -> None:
    doc = document(incidents.aliyun_key_theft())
    assert FOR_EACH["attacker.access_key"](doc) == ["LTAI5tATTACKERKEY01"]
    assert FOR_EACH["indicators.ipv4-addr"](doc) == ["198.51.100.77"]
    assert FOR_EACH["impact.keys"](doc) == ["LTAI5tATTACKERKEY01"]
    assert FOR_EACH["impact.instances"](doc) == []
    assert FOR_EACH["entities.ip"]({"summarised": True}) == []


def test_user_name() -> None:
    assert user_name("123:alice") == "alice"
    assert user_name("arn:aws:iam::1:user/ops/alice") == "alice"
    assert user_name("alice") == "alice"


def test_long_term_keys_leave_temporary_sts_keys_out() -> None:
    from trailguard.respond.playbooks.facts import long_term_keys

    doc = {"entities": [
        {"kind": "access_key", "value": "LTAI5tLONGTERM0001", "role": "attacker"},
        {"kind": "access_key", "value": "STS.NUAD2r57tpaYRLjf", "role": "attacker"},
        {"kind": "access_key", "value": "ASIAQQQQQQQQQQQQQQQQ", "role": "attacker"},
        {"kind": "access_key", "value": "LTAI5tVICTIM000002", "role": "unknown"}]}
    assert long_term_keys(doc) == ["LTAI5tLONGTERM0001"]


def test_entities_named_together_in_the_chain() -> None:
    def step(alerts: int, *refs: tuple[str, str]) -> dict[str, object]:
        return {"alerts": alerts, "entities": [{"kind": k, "value": v} for k, v in refs]}

    doc = {"chain": [
        step(3, ("host", "web1"), ("instance", "i-2"), ("instance", "i-2")),
        step(1, ("host", "db"), ("instance", "i-9")),
        step(2, ("host", "web1"), ("instance", "i-1"), ("instance", ""), ("instance", "i-2")),
        "not a step",
    ]}
    assert co_occurrence_counts(doc, "host", "web1", "instance") == {"i-2": 5, "i-1": 2, "": 2}
    assert co_occurring(doc, "host", "web1", "instance") == ["i-2", "i-1"]
    assert co_occurring(doc, "host", "nowhere", "instance") == []
