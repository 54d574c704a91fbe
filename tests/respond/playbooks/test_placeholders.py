"""The placeholder language: parsing, literal braces, typing, resolvers."""

from __future__ import annotations

import pytest

from tests.respond.playbooks import incidents
from trailguard.respond.playbooks.placeholders import (
    RESOLVERS,
    Placeholder,
    PlaceholderError,
    UnresolvedError,
    parse,
    substitute,
)


def test_parse_splits_text_and_placeholders() -> None:
    assert parse("key {item} of {incident.id}, {{literal}} {vars.cidr}", {"cidr": None}) == [
        "key ", Placeholder("item", "item"), " of ", Placeholder("incident", "id"),
        ", {literal} ", Placeholder("vars", "cidr")]


@pytest.mark.parametrize("template", ["{__import__}", "{incident.__class__}", "{a.b.c}",
                                      "{os.system}", "{ item() }", "x}", "{"])
def test_no_expressions(template: str) -> None:
    with pytest.raises(PlaceholderError):
        parse(template, {})


def test_whole_value_keeps_its_type_and_text_is_text() -> None:
    doc = incidents.aliyun_key_theft().to_json()
    variables = {"groups": ["sg-1", "sg-2"], "port": 22}
    assert substitute("{vars.groups}", doc, None, variables) == ["sg-1", "sg-2"]
    assert substitute("{vars.port}", doc, None, variables) == 22
    assert substitute("{incident.alerts}", doc, None, variables) == 3
    assert substitute("port {vars.port}", doc, None, variables) == "port 22"
    assert substitute(["{incident.id}", {"k": "{item}"}], doc, "x", variables) == [
        "INC-ALI-KEY", {"k": "x"}]
    with pytest.raises(UnresolvedError, match="only be a whole value"):
        substitute("groups {vars.groups}", doc, None, variables)
    with pytest.raises(UnresolvedError, match="variable port has no value"):
        substitute("{vars.port}", doc, None, {"port": None})


def test_principal_of_key_strips_account_and_arn() -> None:
    ali = incidents.aliyun_key_theft().to_json()
    aws = incidents.aws_key_theft().to_json()
    resolve = RESOLVERS["principal_of_key"].function
    assert resolve(ali, "LTAI5tATTACKERKEY01") == "ops-bot"
    assert resolve(aws, "AKIAATTACKERKEY00001") == "deploy"
    assert resolve(incidents.benign_scan().to_json(), "AKIAOTHER") is None


def test_principal_of_key_refuses_to_guess() -> None:
    doc = incidents.aws_key_theft().to_json()
    doc["entities"].append({"kind": "principal", "value": "111122223333:other", "role": "x"})
    assert RESOLVERS["principal_of_key"].function(doc, "AKIAATTACKERKEY00001") == "deploy"
    with pytest.raises(UnresolvedError, match="several users"):
        RESOLVERS["principal_of_key"].function(doc, "AKIANOTINCHAIN00000")


def test_instance_of_host_provider_and_attacker_ips() -> None:
    host = incidents.aliyun_host_compromise().to_json()
    assert RESOLVERS["instance_of_host"].function(host, "web-01") == "i-bp1abcdef0123456"
    assert RESOLVERS["instance_of_host"].function(host, "i-bp1second00000001") == (
        "i-bp1second00000001")
    assert RESOLVERS["provider"].function(host, None) == "aliyun"
    assert RESOLVERS["attacker_ips"].function(host, None) == "198.51.100.77"
    assert RESOLVERS["provider"].function(incidents.benign_scan().to_json(), None) is None


def test_a_keys_owner_is_the_user_named_with_it_most_often() -> None:
    from trailguard.respond.playbooks.placeholders import UnresolvedError, _principal_of_key

    def step(principal: str, alerts: int = 1) -> dict[str, object]:
        return {"alerts": alerts, "entities": [
            {"kind": "access_key", "value": "LTAI5tNEWKEY000001"},
            {"kind": "principal", "value": f"1234:{principal}"}]}

    created_then_used = {"chain": [step("wchen"), step("ops-automation", 3)]}
    assert _principal_of_key(created_then_used, "LTAI5tNEWKEY000001") == "ops-automation"
    with pytest.raises(UnresolvedError, match="several users"):
        _principal_of_key({"chain": [step("a"), step("b")]}, "LTAI5tNEWKEY000001")
