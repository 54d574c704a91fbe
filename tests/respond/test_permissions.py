"""Least-privilege policy documents for RAM and IAM."""

from __future__ import annotations

import pytest

from trailguard.respond.errors import ParamsError
from trailguard.respond.permissions import policy_document


def test_ram_policy_for_one_action():
    doc = policy_document("aliyun", ["disable_access_key"])
    assert doc == {"Version": "1", "Statement": [
        {"Effect": "Allow", "Action": ["ram:ListAccessKeys", "ram:UpdateAccessKey"],
         "Resource": "*"}]}


def test_iam_policy_for_chosen_actions_is_the_union():
    doc = policy_document("aws", ["aws.stop_instance", "block_address"])
    assert doc["Version"] == "2012-10-17"
    assert doc["Statement"][0]["Action"] == [
        "ec2:CreateNetworkAclEntry", "ec2:DeleteNetworkAclEntry", "ec2:DescribeInstances",
        "ec2:DescribeNetworkAcls", "ec2:StopInstances"]


def test_all_actions_of_a_provider():
    ram = policy_document("aliyun")["Statement"][0]["Action"]
    assert "ecs:ModifyInstanceAttribute" in ram and "ram:UpdateAccessKey" in ram
    assert all(a.split(":")[0] in ("ecs", "ram") for a in ram)
    assert ram == sorted(set(ram))
    iam = policy_document("aws")["Statement"][0]["Action"]
    assert all(a.split(":")[0] in ("ec2", "iam") for a in iam)
    assert "iam:UpdateAccessKey" in iam and "*" not in "".join(iam)


def test_unknown_providers_and_actions():
    with pytest.raises(ParamsError):
        policy_document("gcp")
    with pytest.raises(ParamsError, match="not a aws action"):
        policy_document("aws", ["aliyun.stop_instance"])
