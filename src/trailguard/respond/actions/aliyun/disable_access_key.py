"""Disable a RAM user's AccessKey (``UpdateAccessKey Status=Inactive``); rollback re-enables it
(the shared logic: ``actions/_access_key.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from trailguard.respond.actions._access_key import DisableAccessKeyAction, DisableAccessKeyParams
from trailguard.respond.actions.aliyun._ecs import items
from trailguard.respond.actions.base import Provider, register_action
from trailguard.respond.clients.aliyun import AliyunClient

__all__ = ["DisableAccessKey", "DisableAccessKeyParams"]


@register_action
class DisableAccessKey(DisableAccessKeyAction[AliyunClient]):
    """Set a RAM user's AccessKey to Inactive."""

    provider: ClassVar[Provider] = "aliyun"
    READ_PERMISSIONS = ("ram:ListAccessKeys",)
    WRITE_PERMISSIONS = ("ram:UpdateAccessKey",)
    SERVICE = "ram"
    KEY_PARAMETER = "UserAccessKeyId"
    NOUN = "RAM AccessKey"

    def _keys(self, listed: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        return items(listed, "AccessKeys", "AccessKey")
