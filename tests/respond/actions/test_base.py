"""The action contract, checked for every registered action, and the shared machinery."""

from __future__ import annotations

import dataclasses
import inspect
import re

import pytest

from trailguard.respond.actions import ACTIONS, BUILTIN, Action, Params
from trailguard.respond.actions.aliyun.block_address import BlockAddressParams
from trailguard.respond.actions.aws.revoke_security_group_rule import RevokeRuleParams
from trailguard.respond.errors import NotReversibleError, ParamsError

PERMISSION = re.compile(r"^(ecs|ram|vpc|ec2|iam):[A-Z][A-Za-z0-9]+$")


def test_every_builtin_is_registered():
    assert sorted(ACTIONS.names()) == sorted(BUILTIN)


@pytest.mark.parametrize("action_id", BUILTIN)
def test_action_contract(action_id: str):
    cls = ACTIONS.get(action_id)
    action = cls()
    assert issubclass(cls, Action) and not inspect.isabstract(cls)
    assert action.id == action_id == f"{cls.provider}.{cls.name}"
    assert cls.__module__ == f"trailguard.respond.actions.{action_id}"  # id = module path
    module = inspect.getmodule(cls)
    assert cls.__doc__ and module is not None and module.__doc__
    assert dataclasses.is_dataclass(cls.Params) and issubclass(cls.Params, Params)
    assert cls.Params.__dataclass_params__.frozen  # type: ignore[attr-defined]
    overrides_rollback = cls.rollback_plan is not Action.rollback_plan
    if cls.REVERSIBLE:
        assert overrides_rollback
    else:
        with pytest.raises(NotReversibleError):
            action.rollback_plan({})
    if cls.provider == "notify":
        assert action.permissions() == () and not cls.IDEMPOTENT
    else:
        assert action.permissions() and all(PERMISSION.match(p) for p in action.permissions())
        assert any(":Describe" in p or ":List" in p for p in cls.READ_PERMISSIONS)


def test_params_from_playbook_data():
    p = BlockAddressParams.from_mapping({"address": "198.51.100.23",
                                         "security_group_ids": ["sg-1", "sg-2"]})
    assert p.address == "198.51.100.23/32" and p.security_group_ids == ("sg-1", "sg-2")
    with pytest.raises(ParamsError, match="unknown parameter"):
        BlockAddressParams.from_mapping({"address": "1.2.3.4", "security_group_ids": ["s"],
                                         "colour": "red"})
    with pytest.raises(ParamsError, match="expected a list"):
        BlockAddressParams.from_mapping({"address": "1.2.3.4", "security_group_ids": "sg-1"})
    with pytest.raises(ParamsError, match="not an IP address"):
        BlockAddressParams.from_mapping({"address": "evil.example", "security_group_ids": ["s"]})
    with pytest.raises(ParamsError, match="missing"):
        BlockAddressParams.from_mapping({"address": "1.2.3.4"})
    with pytest.raises(ParamsError, match="expected"):
        RevokeRuleParams.from_mapping({"group_id": "sg-1", "port": "22"})
    assert RevokeRuleParams.from_mapping({"group_id": "sg-1", "port": None,
                                          "protocol": "tcp"}).port is None


def test_a_plan_for_another_action_is_refused():
    from trailguard.respond.model import Plan

    with pytest.raises(ParamsError, match="plan is for"):
        ACTIONS.get("aws.stop_instance")().execute(None, Plan("aws.block_address", {}))
