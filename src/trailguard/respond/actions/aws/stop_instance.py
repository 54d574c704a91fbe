"""Stop an EC2 instance (``StopInstances``).

Not reversible: memory and process state are lost; start it again during recovery.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from trailguard.respond.actions.aws._ec2 import describe_instance
from trailguard.respond.actions.base import Action, Params, Provider, register_action
from trailguard.respond.clients.aws import AwsClient
from trailguard.respond.model import Plan

DONE = frozenset({"stopping", "stopped", "shutting-down", "terminated"})


@dataclass(frozen=True)
class StopInstanceParams(Params):
    instance_id: str
    force: bool = False


@register_action
class StopInstance(Action[StopInstanceParams, AwsClient]):
    """Stop an EC2 instance unless it is already stopped or stopping."""

    name: ClassVar[str] = "stop_instance"
    provider: ClassVar[Provider] = "aws"
    Params = StopInstanceParams
    READ_PERMISSIONS = ("ec2:DescribeInstances",)
    WRITE_PERMISSIONS = ("ec2:StopInstances",)
    NOT_REVERSIBLE_BECAUSE = ("memory and process state are lost when an instance stops; "
                              "start it again deliberately (StartInstances) during recovery")

    def plan(self, client: AwsClient, params: StopInstanceParams) -> Plan:
        b = self.builder(params)
        state = str((describe_instance(b, client, params.instance_id).get("State") or {})
                    .get("Name", ""))
        b.state.update({"instance_id": params.instance_id, "previous_state": state})
        if state in DONE:
            return b.build()
        b.call("ec2", "StopInstances", {"InstanceIds": [params.instance_id],
                                        "Force": params.force})
        b.change(f"instance {params.instance_id}", "state", state, "stopped")
        b.note("memory is lost on stop: capture it first if it matters")
        return b.build()
