"""Deactivate an IAM user's access key (``UpdateAccessKey Status=Inactive``); rollback
re-activates it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from trailguard.respond.actions.base import Action, Params, Provider, register_action
from trailguard.respond.clients.aws import AwsClient
from trailguard.respond.errors import PlanError
from trailguard.respond.model import Plan


@dataclass(frozen=True)
class DisableAccessKeyParams(Params):
    user_name: str
    access_key_id: str


@register_action
class DisableAccessKey(Action[DisableAccessKeyParams, AwsClient]):
    """Set an IAM access key to Inactive."""

    name: ClassVar[str] = "disable_access_key"
    provider: ClassVar[Provider] = "aws"
    Params = DisableAccessKeyParams
    READ_PERMISSIONS = ("iam:ListAccessKeys",)
    WRITE_PERMISSIONS = ("iam:UpdateAccessKey",)
    REVERSIBLE = True

    def plan(self, client: AwsClient, params: DisableAccessKeyParams) -> Plan:
        b = self.builder(params)
        keys = b.read(client, "iam", "ListAccessKeys",
                      {"UserName": params.user_name}).get("AccessKeyMetadata", [])
        key = next((k for k in keys if k.get("AccessKeyId") == params.access_key_id), None)
        if key is None:
            raise PlanError(f"IAM user {params.user_name} has no access key "
                            f"{params.access_key_id}")
        status = str(key.get("Status", ""))
        b.state.update({"user_name": params.user_name, "access_key_id": params.access_key_id,
                        "previous_status": status})
        if status != "Inactive":
            b.call("iam", "UpdateAccessKey", {"UserName": params.user_name,
                                              "AccessKeyId": params.access_key_id,
                                              "Status": "Inactive"})
            b.change(f"IAM access key {params.access_key_id} of {params.user_name}", "status",
                     status, "Inactive")
        return b.build()

    def rollback_plan(self, state: Mapping[str, Any]) -> Plan:
        b = self.builder({"user_name": state["user_name"],
                          "access_key_id": state["access_key_id"]}, rollback=True)
        if state.get("previous_status", "Active") == "Active":
            b.call("iam", "UpdateAccessKey", {"UserName": state["user_name"],
                                              "AccessKeyId": state["access_key_id"],
                                              "Status": "Active"})
            b.change(f"IAM access key {state['access_key_id']} of {state['user_name']}",
                     "status", "Inactive", "Active")
        return b.build()
