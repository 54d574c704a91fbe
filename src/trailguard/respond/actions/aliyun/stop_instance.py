"""Stop an ECS instance (``StopInstance``), keeping its resources (``KeepCharging``).

Not reversible: stopping loses memory and process state for good. Capture memory and
snapshot the disks first; start the instance again deliberately (``StartInstance``) as part
of recovery, not as a rollback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from trailguard.respond.actions.aliyun._ecs import describe_instance
from trailguard.respond.actions.base import Action, Params, Provider, register_action
from trailguard.respond.clients.aliyun import AliyunClient
from trailguard.respond.errors import ParamsError
from trailguard.respond.model import Plan


@dataclass(frozen=True)
class StopInstanceParams(Params):
    instance_id: str
    force: bool = False
    stopped_mode: str = "KeepCharging"

    def __post_init__(self) -> None:
        if self.stopped_mode not in ("KeepCharging", "StopCharging"):
            raise ParamsError("stopped_mode must be KeepCharging or StopCharging")


@register_action
class StopInstance(Action[StopInstanceParams, AliyunClient]):
    """Stop an ECS instance unless it is already stopped or stopping."""

    name: ClassVar[str] = "stop_instance"
    provider: ClassVar[Provider] = "aliyun"
    Params = StopInstanceParams
    READ_PERMISSIONS = ("ecs:DescribeInstances",)
    WRITE_PERMISSIONS = ("ecs:StopInstance",)
    NOT_REVERSIBLE_BECAUSE = ("memory and process state are lost when an instance stops; "
                              "start it again deliberately (StartInstance) during recovery")

    def plan(self, client: AliyunClient, params: StopInstanceParams) -> Plan:
        b = self.builder(params)
        status = str(describe_instance(b, client, params.instance_id).get("Status", ""))
        b.state.update({"instance_id": params.instance_id, "previous_status": status})
        if status in ("Stopped", "Stopping"):
            return b.build()
        b.call("ecs", "StopInstance", {"InstanceId": params.instance_id,
                                       "ForceStop": "true" if params.force else "false",
                                       "StoppedMode": params.stopped_mode})
        b.change(f"instance {params.instance_id}", "status", status, "Stopped")
        b.note("memory is lost on stop: capture it first if it matters")
        return b.build()
