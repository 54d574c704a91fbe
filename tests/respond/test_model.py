"""Plans and results: references, diff text, JSON round trips."""

from __future__ import annotations

import json

import pytest

from trailguard.respond.model import ApiCall, Change, Plan, dig, ref, resolve_refs


def test_references_resolve_recursively():
    call = ApiCall("ec2", "ModifyInstanceAttribute", {"InstanceId": "i-1", "Groups": [ref("q")]})
    assert call.resolve({"q": "sg-9"}).parameters == {"InstanceId": "i-1", "Groups": ["sg-9"]}
    assert resolve_refs({"a": "${missing}"}, {}) == {"a": "${missing}"}
    assert call.permission == "ec2:ModifyInstanceAttribute"
    with pytest.raises(ValueError, match="bad reference"):
        ref("Bad-Name")


def test_dig():
    body = {"A": {"B": [{"C": 1}]}}
    assert dig(body, "A.B.0.C") == 1 and dig(body, "A.X") is None and dig(body, "A.B.5") is None


def test_plan_round_trip_and_diff():
    plan = Plan("aws.stop_instance", {"instance_id": "i-1"},
                calls=(ApiCall("ec2", "StopInstances", {"InstanceIds": ["i-1"]}),),
                changes=(Change("instance i-1", "state", "running", "stopped"),
                         Change("group g", "rule", None, "allow"),
                         Change("group g", "rule", "deny", None)),
                state={"k": ("a", "b")}, notes=("careful",))
    again = Plan.from_dict(json.loads(json.dumps(plan.to_dict())))
    assert again.to_dict() == plan.to_dict()
    assert plan.diff().splitlines() == [
        "aws.stop_instance: 1 call(s)",
        "  ~ instance i-1: state: running -> stopped",
        "  + group g: rule = allow",
        "  - group g: rule = deny",
        "  note: careful"]
    assert str(plan.calls[0]) == 'ec2:StopInstances(InstanceIds=["i-1"])'
