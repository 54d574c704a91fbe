"""aliyun.snapshot_disks: one tagged snapshot per disk, reused on the next run."""

from __future__ import annotations

import pytest

from tests.respond.fake_aliyun import FakeAliyun
from tests.respond.helpers import assert_permitted, calls
from trailguard.respond.actions.aliyun.snapshot_disks import SnapshotDisks, client_token
from trailguard.respond.clients.aliyun import AliyunClient
from trailguard.respond.errors import NotReversibleError, ParamsError


def test_snapshots_every_disk_once(fake: FakeAliyun, aliyun: AliyunClient):
    fake.add_instance("i-db1", "vpc-a", ["sg-db"], disks=("d-sys", "d-data"))
    action = SnapshotDisks()
    params = action.parse_params({"instance_id": "i-db1", "incident_id": "INC-42",
                                  "retention_days": 30})
    plan = action.plan(aliyun, params)
    assert fake.calls == [
        ("ecs", "DescribeDisks", {"RegionId": "cn-hangzhou", "InstanceId": "i-db1",
                                  "PageSize": "100"}),
        ("ecs", "DescribeSnapshots", {"RegionId": "cn-hangzhou", "InstanceId": "i-db1",
                                      "Tag.1.Key": "trailguard-incident", "Tag.1.Value": "INC-42",
                                      "PageSize": "100"})]
    assert calls(plan)[0] == ("ecs", "CreateSnapshot", {
        "DiskId": "d-sys", "SnapshotName": "trailguard-INC-42-d-sys",
        "Description": "TrailGuard evidence for incident INC-42, system disk of i-db1",
        "Tag.1.Key": "trailguard-incident", "Tag.1.Value": "INC-42",
        "Tag.2.Key": "trailguard-instance", "Tag.2.Value": "i-db1",
        "ClientToken": client_token("INC-42", "d-sys"), "RetentionDays": "30"})
    assert [c[2]["DiskId"] for c in calls(plan)] == ["d-sys", "d-data"]

    result = action.execute(aliyun, plan)
    snaps = result.state["snapshots"]
    assert set(snaps) == {"d-sys", "d-data"}
    assert all(v.startswith("s-fake") for v in snaps.values())
    assert {s["tags"]["trailguard-incident"] for s in fake.snapshots.values()} == {"INC-42"}

    again = action.plan(aliyun, params)
    assert again.empty
    assert again.state["snapshots"] == snaps  # the existing snapshots are reused
    assert len(fake.snapshots) == 2
    with pytest.raises(NotReversibleError, match="evidence"):
        action.rollback_plan(result.state)
    assert_permitted(action, fake.calls)


def test_a_failed_snapshot_is_taken_again(fake: FakeAliyun, aliyun: AliyunClient):
    fake.add_instance("i-db1", "vpc-a", ["sg-db"], disks=("d-sys",))
    fake.snapshots["s-old"] = {"disk": "d-sys", "status": "failed", "instance": "i-db1",
                               "tags": {"trailguard-incident": "INC-42"}, "token": None}
    action = SnapshotDisks()
    plan = action.plan(aliyun, action.parse_params({"instance_id": "i-db1",
                                                    "incident_id": "INC-42"}))
    assert [c[1] for c in calls(plan)] == ["CreateSnapshot"]


def test_incident_ids_are_checked():
    with pytest.raises(ParamsError):
        SnapshotDisks().parse_params({"instance_id": "i-1", "incident_id": "http://x"})
