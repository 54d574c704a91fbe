"""Response actions: one module per action, registered in :data:`ACTIONS`.

Ids are ``<provider>.<name>`` and equal the module path under this package:
``aliyun.isolate_instance`` lives in ``actions/aliyun/isolate_instance.py``.
"""

import importlib

from trailguard.respond.actions.base import ACTIONS, Action, Params, PlanBuilder, register_action

_CLOUD = ("isolate_instance", "disable_access_key", "snapshot_disks", "block_address",
          "revoke_security_group_rule", "stop_instance")
BUILTIN: tuple[str, ...] = (
    *(f"{provider}.{name}" for provider in ("aliyun", "aws") for name in _CLOUD),
    "notify.webhook", "notify.dingtalk", "notify.slack",
)
"""Ids of the built-in actions; importing their modules registers them."""

for _module in BUILTIN:
    importlib.import_module(f"{__name__}.{_module}")

__all__ = ["ACTIONS", "BUILTIN", "Action", "Params", "PlanBuilder", "register_action"]
