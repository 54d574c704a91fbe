"""Disabling an access key, the same on both clouds: read the user's keys, set the key
Inactive unless it already is, and set it Active again on rollback. Deactivation is immediate
and reversible, unlike deletion, so the key and its trail history stay available to the
investigation. The provider modules say only how their API names things."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from trailguard.respond.actions.base import Action, Params
from trailguard.respond.clients.base import ProviderClient
from trailguard.respond.errors import PlanError
from trailguard.respond.model import Plan

C = TypeVar("C", bound=ProviderClient)


@dataclass(frozen=True)
class DisableAccessKeyParams(Params):
    user_name: str
    access_key_id: str


class DisableAccessKeyAction(Action[DisableAccessKeyParams, C]):
    """The shared plan and rollback; subclasses name the service and parameters."""

    name: ClassVar[str] = "disable_access_key"
    Params = DisableAccessKeyParams
    REVERSIBLE = True
    SERVICE: ClassVar[str]  # ram | iam
    KEY_PARAMETER: ClassVar[str]  # the UpdateAccessKey parameter naming the key
    NOUN: ClassVar[str]  # how the provider calls a key, for the diff

    @abstractmethod
    def _keys(self, listed: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        """The keys in a ListAccessKeys response."""

    def _update(self, user: str, key: str, status: str) -> dict[str, str]:
        return {"UserName": user, self.KEY_PARAMETER: key, "Status": status}

    def plan(self, client: C, params: DisableAccessKeyParams) -> Plan:
        b = self.builder(params)
        keys = self._keys(b.read(client, self.SERVICE, "ListAccessKeys",
                                 {"UserName": params.user_name}))
        key = next((k for k in keys if k.get("AccessKeyId") == params.access_key_id), None)
        if key is None:
            raise PlanError(f"{self.SERVICE.upper()} user {params.user_name} has no "
                            f"{self.NOUN} {params.access_key_id}")
        status = str(key.get("Status", ""))
        b.state.update({"user_name": params.user_name, "access_key_id": params.access_key_id,
                        "previous_status": status})
        if status != "Inactive":
            b.call(self.SERVICE, "UpdateAccessKey",
                   self._update(params.user_name, params.access_key_id, "Inactive"))
            b.change(f"{self.NOUN} {params.access_key_id} of {params.user_name}", "status",
                     status, "Inactive")
        return b.build()

    def rollback_plan(self, state: Mapping[str, Any]) -> Plan:
        b = self.builder({"user_name": state["user_name"],
                          "access_key_id": state["access_key_id"]}, rollback=True)
        if state.get("previous_status", "Active") == "Active":
            b.call(self.SERVICE, "UpdateAccessKey",
                   self._update(state["user_name"], state["access_key_id"], "Active"))
            b.change(f"{self.NOUN} {state['access_key_id']} of {state['user_name']}",
                     "status", "Inactive", "Active")
        return b.build()
