"""aws.disable_access_key on moto."""

from __future__ import annotations

from tests.respond.helpers import assert_permitted, calls
from trailguard.respond.actions.aws.disable_access_key import DisableAccessKey
from trailguard.respond.clients.aws import AwsClient


def test_disable_idempotent_rollback(aws: AwsClient):
    iam = aws.sdk_client("iam")
    iam.create_user(UserName="ci")
    key = iam.create_access_key(UserName="ci")["AccessKey"]["AccessKeyId"]
    action = DisableAccessKey()
    params = action.parse_params({"user_name": "ci", "access_key_id": key})
    plan = action.plan(aws, params)
    assert calls(plan) == [("iam", "UpdateAccessKey", {"UserName": "ci", "AccessKeyId": key,
                                                       "Status": "Inactive"})]
    result = action.execute(aws, plan)
    assert iam.list_access_keys(UserName="ci")["AccessKeyMetadata"][0]["Status"] == "Inactive"
    assert action.plan(aws, params).empty
    undo = action.rollback_plan(result.state)
    action.execute(aws, undo)
    assert iam.list_access_keys(UserName="ci")["AccessKeyMetadata"][0]["Status"] == "Active"
    assert_permitted(action, [*plan.reads, *plan.calls, *undo.calls])
