"""Snapshot every disk of an ECS instance, tagged ``trailguard-incident=<id>``.

Idempotent twice over: a snapshot that already carries the incident tag for a disk is reused
(failed ones are not), and each ``CreateSnapshot`` carries a ``ClientToken`` derived from
(incident, disk), so a retried or resumed call cannot create a second snapshot.
Not reversible: snapshots are evidence; delete them by hand when the case is closed.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import ClassVar

from trailguard.respond.actions.aliyun._ecs import items
from trailguard.respond.actions.base import Action, Params, Provider, register_action
from trailguard.respond.clients.aliyun import AliyunClient
from trailguard.respond.errors import ParamsError
from trailguard.respond.model import Plan, ref

INCIDENT_TAG = "trailguard-incident"


@dataclass(frozen=True)
class SnapshotDisksParams(Params):
    instance_id: str
    incident_id: str
    retention_days: int | None = None

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,100}", self.incident_id):
            raise ParamsError(f"incident_id must be letters, digits and ._:- : "
                              f"{self.incident_id!r}")
        if self.retention_days is not None and not 1 <= self.retention_days <= 65536:
            raise ParamsError("retention_days must be 1 to 65536")


def client_token(incident_id: str, disk_id: str) -> str:
    return hashlib.sha256(f"{incident_id}/{disk_id}".encode()).hexdigest()[:40]


def ref_name(disk_id: str) -> str:
    return "snapshot_" + re.sub(r"[^a-z0-9_]", "_", disk_id.lower())


@register_action
class SnapshotDisks(Action[SnapshotDisksParams, AliyunClient]):
    """Preserve every disk of an instance before anything else touches it."""

    name: ClassVar[str] = "snapshot_disks"
    provider: ClassVar[Provider] = "aliyun"
    Params = SnapshotDisksParams
    READ_PERMISSIONS = ("ecs:DescribeDisks", "ecs:DescribeSnapshots")
    # Tags are set at creation (Tag.N); accounts that authorize tagging separately also need
    # ecs:TagResources for that.
    WRITE_PERMISSIONS = ("ecs:CreateSnapshot", "ecs:TagResources")
    NOT_REVERSIBLE_BECAUSE = ("snapshots are evidence and are never deleted automatically; "
                              "delete them by hand (DeleteSnapshot) when the case is closed")

    def plan(self, client: AliyunClient, params: SnapshotDisksParams) -> Plan:
        b = self.builder(params)
        region = client.region_id
        disks = items(b.read(client, "ecs", "DescribeDisks",
                             {"RegionId": region, "InstanceId": params.instance_id,
                              "PageSize": "100"}), "Disks", "Disk")
        existing = items(b.read(client, "ecs", "DescribeSnapshots",
                                {"RegionId": region, "InstanceId": params.instance_id,
                                 "Tag.1.Key": INCIDENT_TAG, "Tag.1.Value": params.incident_id,
                                 "PageSize": "100"}), "Snapshots", "Snapshot")
        reusable = {str(s.get("SourceDiskId")): str(s.get("SnapshotId")) for s in existing
                    if str(s.get("Status", "")).lower() != "failed"}
        snapshots: dict[str, str] = {}
        for disk in disks:
            disk_id = str(disk["DiskId"])
            if disk_id in reusable:
                snapshots[disk_id] = reusable[disk_id]
                continue
            call = {"DiskId": disk_id,
                    "SnapshotName": f"trailguard-{params.incident_id}-{disk_id}"[:128],
                    "Description": f"TrailGuard evidence for incident {params.incident_id}, "
                                   f"{disk.get('Type', 'disk')} disk of {params.instance_id}",
                    "Tag.1.Key": INCIDENT_TAG, "Tag.1.Value": params.incident_id,
                    "Tag.2.Key": "trailguard-instance", "Tag.2.Value": params.instance_id,
                    "ClientToken": client_token(params.incident_id, disk_id)}
            if params.retention_days is not None:
                call["RetentionDays"] = str(params.retention_days)
            b.call("ecs", "CreateSnapshot", call, outputs={ref_name(disk_id): "SnapshotId"})
            b.change(f"disk {disk_id}", "snapshot", None, call["SnapshotName"])
            snapshots[disk_id] = ref(ref_name(disk_id))
        if not disks:
            b.note(f"instance {params.instance_id} has no disks")
        b.state.update({"instance_id": params.instance_id, "incident_id": params.incident_id,
                        "snapshots": snapshots})
        return b.build()
