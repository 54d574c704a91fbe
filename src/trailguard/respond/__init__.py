"""Respond: containment actions through the Alibaba Cloud and AWS APIs, and notifications.

Public API for playbooks, the CLI and the audit log:

* :data:`ACTIONS` (registry of :class:`Action` classes by id, ``aliyun.isolate_instance``);
* ``Action.plan(client, params) -> Plan`` (dry run: reads state, lists exact calls + diff;
  empty when nothing to do), ``Action.execute(client, plan) -> Result`` (calls made, each
  request/response redacted), ``Action.rollback_plan(result.state) -> Plan``;
* clients: :class:`~trailguard.respond.clients.aliyun.AliyunClient`,
  :class:`~trailguard.respond.clients.aws.AwsClient`,
  :class:`~trailguard.respond.clients.notify.NotifyClient`;
* :func:`~trailguard.respond.permissions.policy_document` for least-privilege policies.
"""

from trailguard.respond.actions import ACTIONS, Action, Params
from trailguard.respond.errors import (
    CallTimeoutError,
    CloudCallError,
    NotReversibleError,
    ParamsError,
    PlanError,
    ResponseError,
    ThrottledError,
)
from trailguard.respond.model import ApiCall, CallRecord, Change, Plan, Result
from trailguard.respond.permissions import policy_document

__all__ = [
    "ACTIONS", "Action", "ApiCall", "CallRecord", "CallTimeoutError", "Change", "CloudCallError",
    "NotReversibleError", "Params", "ParamsError", "Plan", "PlanError", "ResponseError", "Result",
    "ThrottledError", "policy_document",
]
