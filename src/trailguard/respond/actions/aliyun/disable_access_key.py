"""Disable a RAM user's AccessKey (``UpdateAccessKey Status=Inactive``); rollback re-enables it.

Deactivation is immediate and reversible, unlike deletion, so the key and its ActionTrail
history stay available to the investigation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from trailguard.respond.actions.aliyun._ecs import items
from trailguard.respond.actions.base import Action, Params, Provider, register_action
from trailguard.respond.clients.aliyun import AliyunClient
from trailguard.respond.errors import PlanError
from trailguard.respond.model import Plan


@dataclass(frozen=True)
class DisableAccessKeyParams(Params):
    user_name: str
    access_key_id: str


@register_action
class DisableAccessKey(Action[DisableAccessKeyParams, AliyunClient]):
    """Set a RAM user's AccessKey to Inactive."""

    name: ClassVar[str] = "disable_access_key"
    provider: ClassVar[Provider] = "aliyun"
    Params = DisableAccessKeyParams
    READ_PERMISSIONS = ("ram:ListAccessKeys",)
    WRITE_PERMISSIONS = ("ram:UpdateAccessKey",)
    REVERSIBLE = True

    def plan(self, client: AliyunClient, params: DisableAccessKeyParams) -> Plan:
        b = self.builder(params)
        keys = items(b.read(client, "ram", "ListAccessKeys", {"UserName": params.user_name}),
                     "AccessKeys", "AccessKey")
        key = next((k for k in keys if k.get("AccessKeyId") == params.access_key_id), None)
        if key is None:
            raise PlanError(f"RAM user {params.user_name} has no AccessKey "
                            f"{params.access_key_id}")
        status = str(key.get("Status", ""))
        b.state.update({"user_name": params.user_name, "access_key_id": params.access_key_id,
                        "previous_status": status})
        if status != "Inactive":
            b.call("ram", "UpdateAccessKey", {"UserName": params.user_name,
                                              "UserAccessKeyId": params.access_key_id,
                                              "Status": "Inactive"})
            b.change(f"RAM AccessKey {params.access_key_id} of {params.user_name}", "status",
                     status, "Inactive")
        return b.build()

    def rollback_plan(self, state: Mapping[str, Any]) -> Plan:
        b = self.builder({"user_name": state["user_name"],
                          "access_key_id": state["access_key_id"]}, rollback=True)
        if state.get("previous_status", "Active") == "Active":
            b.call("ram", "UpdateAccessKey", {"UserName": state["user_name"],
                                              "UserAccessKeyId": state["access_key_id"],
                                              "Status": "Active"})
            b.change(f"RAM AccessKey {state['access_key_id']} of {state['user_name']}",
                     "status", "Inactive", "Active")
        return b.build()
