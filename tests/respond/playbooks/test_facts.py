"""Facts read from incident documents."""

from __future__ import annotations

from tests.respond.playbooks import incidents
from trailguard.respond.playbooks.facts import FOR_EACH, document, providers, user_name


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
