"""Loading the hand-written API response fixtures of tests/fixtures/audit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from trailguard.audit.network.model import Snapshot, parse_aliyun, parse_aws

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "audit"


def body(provider: str, name: str) -> Any:
    return json.loads((FIXTURES / provider / f"{name}.json").read_text(encoding="utf-8"))


def aliyun_snapshot() -> Snapshot:
    attributes = [json.loads(p.read_text(encoding="utf-8"))
                  for p in sorted((FIXTURES / "aliyun").glob("DescribeSecurityGroupAttribute-*"))]
    return parse_aliyun(attributes, body("aliyun", "DescribeSecurityGroups"),
                        body("aliyun", "DescribeInstances"),
                        body("aliyun", "DescribeNetworkInterfaces"), region="cn-hangzhou")


def aws_snapshot() -> Snapshot:
    return parse_aws(body("aws", "DescribeSecurityGroups"), body("aws", "DescribeInstances"),
                     body("aws", "DescribeNetworkAcls"), region="us-east-1")


def interface(snapshot: Snapshot, interface_id: str) -> Any:
    return next(i for i in snapshot.interfaces if i.interface_id == interface_id)
