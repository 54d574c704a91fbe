"""Snapshot every EBS volume of an EC2 instance, tagged ``trailguard-incident=<id>``.

Idempotent: a snapshot already tagged for this incident and volume (and not in ``error``) is
reused. Not reversible: snapshots are evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from trailguard.respond.actions.aws._ec2 import describe_instance
from trailguard.respond.actions.base import Action, Params, Provider, register_action
from trailguard.respond.clients.aws import AwsClient
from trailguard.respond.errors import ParamsError
from trailguard.respond.model import Plan, ref

INCIDENT_TAG = "trailguard-incident"


@dataclass(frozen=True)
class SnapshotDisksParams(Params):
    instance_id: str
    incident_id: str

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,100}", self.incident_id):
            raise ParamsError(f"incident_id must be letters, digits and ._:- : "
                              f"{self.incident_id!r}")


def ref_name(volume_id: str) -> str:
    return "snapshot_" + re.sub(r"[^a-z0-9_]", "_", volume_id.lower())


@register_action
class SnapshotDisks(Action[SnapshotDisksParams, AwsClient]):
    """Preserve every EBS volume of an instance before anything else touches it."""

    name: ClassVar[str] = "snapshot_disks"
    provider: ClassVar[Provider] = "aws"
    Params = SnapshotDisksParams
    READ_PERMISSIONS = ("ec2:DescribeInstances", "ec2:DescribeSnapshots")
    WRITE_PERMISSIONS = ("ec2:CreateSnapshot", "ec2:CreateTags")  # CreateTags: tag-on-create
    NOT_REVERSIBLE_BECAUSE = ("snapshots are evidence and are never deleted automatically; "
                              "delete them by hand (DeleteSnapshot) when the case is closed")

    def plan(self, client: AwsClient, params: SnapshotDisksParams) -> Plan:
        b = self.builder(params)
        instance = describe_instance(b, client, params.instance_id)
        volumes = [(str(m["Ebs"]["VolumeId"]), str(m.get("DeviceName", "")))
                   for m in instance.get("BlockDeviceMappings", []) if m.get("Ebs")]
        existing = b.read(client, "ec2", "DescribeSnapshots", {
            "OwnerIds": ["self"],
            "Filters": [{"Name": f"tag:{INCIDENT_TAG}", "Values": [params.incident_id]}]})
        reusable = {str(s.get("VolumeId")): str(s.get("SnapshotId"))
                    for s in existing.get("Snapshots", []) if s.get("State") != "error"}
        snapshots: dict[str, str] = {}
        for volume, device in volumes:
            if volume in reusable:
                snapshots[volume] = reusable[volume]
                continue
            b.call("ec2", "CreateSnapshot", {
                "VolumeId": volume,
                "Description": f"TrailGuard evidence for incident {params.incident_id}, "
                               f"{device or 'volume'} of {params.instance_id}",
                "TagSpecifications": [{"ResourceType": "snapshot", "Tags": [
                    {"Key": INCIDENT_TAG, "Value": params.incident_id},
                    {"Key": "trailguard-instance", "Value": params.instance_id},
                    {"Key": "Name", "Value": f"trailguard-{params.incident_id}-{volume}"}]}]},
                outputs={ref_name(volume): "SnapshotId"})
            b.change(f"volume {volume}", "snapshot", None,
                     f"trailguard-{params.incident_id}-{volume}")
            snapshots[volume] = ref(ref_name(volume))
        if not volumes:
            b.note(f"instance {params.instance_id} has no EBS volumes")
        b.state.update({"instance_id": params.instance_id, "incident_id": params.incident_id,
                        "snapshots": snapshots})
        return b.build()
