"""Deactivate an IAM user's access key (``UpdateAccessKey Status=Inactive``); rollback
re-activates it (the shared logic: ``actions/_access_key.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from trailguard.respond.actions._access_key import DisableAccessKeyAction, DisableAccessKeyParams
from trailguard.respond.actions.base import Provider, register_action
from trailguard.respond.clients.aws import AwsClient

__all__ = ["DisableAccessKey", "DisableAccessKeyParams"]


@register_action
class DisableAccessKey(DisableAccessKeyAction[AwsClient]):
    """Set an IAM access key to Inactive."""

    provider: ClassVar[Provider] = "aws"
    READ_PERMISSIONS = ("iam:ListAccessKeys",)
    WRITE_PERMISSIONS = ("iam:UpdateAccessKey",)
    SERVICE = "iam"
    KEY_PARAMETER = "AccessKeyId"
    NOUN = "IAM access key"

    def _keys(self, listed: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        return list(listed.get("AccessKeyMetadata", []))
