"""RAM/IAM checks over hand-written exports, and the demo trail."""

from __future__ import annotations

from pathlib import Path

from tests.audit.logging._support import by_check, demo_case, run


def test_aliyun_identity_findings() -> None:
    found = by_check(run("aliyun", "aliyun-bad", prefix="aliyun.identity."))
    [root] = found["aliyun.identity.root_access_key"]
    assert root.cis == "1.2" and root.evidence["keys"][0]["key"] == "access_key_1"
    assert [f.resource for f in found["aliyun.identity.access_key_not_rotated"]] == [
        "alice/LTAIold"]
    assert [f.resource for f in found["aliyun.identity.access_key_unused"]] == ["alice/LTAIold"]
    # bob has a virtual MFA device; alice has none
    assert [f.resource for f in found["aliyun.identity.console_user_without_mfa"]] == ["alice"]
    assert [f.resource for f in found["aliyun.identity.admin_policy_on_user"]] == ["alice"]
    assert found["aliyun.identity.admin_policy_on_user"][0].remediation["cli"].startswith(
        "aliyun ram DetachPolicyFromUser")


def test_aws_identity_findings() -> None:
    found = by_check(run("aws", "aws-bad", prefix="aws.identity."))
    assert found["aws.identity.root_access_key"][0].cis == "1.4"
    assert [f.resource for f in found["aws.identity.access_key_not_rotated"]] == [
        "dave/access_key_1"]
    assert [f.resource for f in found["aws.identity.console_user_without_mfa"]] == ["dave"]
    [admin] = found["aws.identity.admin_policy_on_user"]
    assert admin.resource == "dave" and admin.cis == "1.15"


def test_good_exports_pass() -> None:
    assert run("aliyun", "aliyun-good", prefix="aliyun.identity.") == []
    assert run("aws", "aws-good", prefix="aws.identity.") == []


def test_the_demo_instance_session_used_from_outside_is_found() -> None:
    with demo_case().connect() as connection:
        found = by_check(run("aliyun", connection=connection, prefix="aliyun.identity."))
    [key] = found["aliyun.identity.key_used_from_many_addresses"]
    addresses = {a["address"]: a["public"] for a in key.evidence["addresses"]}
    attacker = demo_case().truth["environment"]["attacker"]["api_and_ssh"]
    assert addresses[attacker] is True and False in addresses.values()
    assert key.evidence["countries"] == []  # documentation and private addresses have none
    assert "aliyun.identity.root_access_key_used_in_trail" not in found


def test_a_key_used_from_two_countries_in_a_day_is_found(tmp_path: Path) -> None:
    from datetime import datetime

    import pyarrow as pa

    from trailguard.audit.identity.keys import keys_from_many_addresses
    from trailguard.store.case import Case

    with Case.open(tmp_path / "case", create=True) as case:
        rows = pa.table({
            "uid": ["a", "b", "c"], "source_type": ["actiontrail"] * 3,
            "time": pa.array([datetime(2026, 10, 1, 1), datetime(2026, 10, 1, 3),
                              datetime(2026, 10, 3, 3)], pa.timestamp("us")),
            "actor_access_key": ["LTAI5tTRAVELLER00001"] * 3,
            "src_ip": ["8.8.8.8", "1.2.4.8", "8.8.4.4"]})
        case.connection.register("rows", rows)
        case.connection.execute("INSERT INTO events BY NAME SELECT * FROM rows")
        [found] = keys_from_many_addresses(case.connection, "actiontrail")
    assert found["countries"] == ["CN", "US"]
    assert found["reason"] == ">= 2 countries within the window"
