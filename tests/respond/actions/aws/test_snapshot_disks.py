"""aws.snapshot_disks on moto: tagged snapshots, reused on the second run."""

from __future__ import annotations

import pytest

from tests.respond.aws_env import build
from tests.respond.helpers import assert_permitted
from trailguard.respond.actions.aws.snapshot_disks import SnapshotDisks
from trailguard.respond.clients.aws import AwsClient
from trailguard.respond.errors import NotReversibleError


def test_snapshot_each_volume_once(aws: AwsClient):
    estate = build(aws)
    action = SnapshotDisks()
    params = action.parse_params({"instance_id": estate.instance, "incident_id": "INC-7"})
    plan = action.plan(aws, params)
    assert [c.action for c in plan.calls] == ["CreateSnapshot"]
    call = plan.calls[0]
    assert call.parameters["TagSpecifications"][0]["Tags"][0] == {
        "Key": "trailguard-incident", "Value": "INC-7"}
    result = action.execute(aws, plan)
    (volume, snapshot), = result.state["snapshots"].items()
    assert snapshot.startswith("snap-") and call.parameters["VolumeId"] == volume
    tags = aws.sdk_client("ec2").describe_snapshots(SnapshotIds=[snapshot])["Snapshots"][0]["Tags"]
    assert {"Key": "trailguard-incident", "Value": "INC-7"} in tags
    again = action.plan(aws, params)
    assert again.empty and again.state["snapshots"] == {volume: snapshot}
    with pytest.raises(NotReversibleError):
        action.rollback_plan(result.state)
    assert_permitted(action, [*plan.reads, *plan.calls])
