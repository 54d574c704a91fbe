"""Trail and flow-log coverage over hand-written exports (positive and negative samples)."""

from __future__ import annotations

from tests.audit.logging._support import by_check, run


def test_aliyun_bad_export_fails_every_coverage_check() -> None:
    found = by_check(run("aliyun", "aliyun-bad", prefix="aliyun.logging."))
    assert [f.resource for f in found["aliyun.logging.trail_not_logging"]] == ["t-off"]
    assert [f.resource for f in found["aliyun.logging.trail_not_multi_region"]] == ["t-off"]
    assert [f.resource for f in found["aliyun.logging.trail_not_read_write"]] == ["t-off"]
    assert [f.resource for f in found["aliyun.logging.trail_no_destination"]] == ["t-off"]
    [public] = found["aliyun.logging.trail_bucket_public"]
    assert public.resource == "trail-logs" and public.evidence["acl"] == "public-read"
    assert public.cis == "2.2"
    flows = {f.resource: f.evidence for f in found["aliyun.logging.flow_log_missing"]}
    assert flows["vpc-a"]["vswitches_without_flow_log"] == ["vsw-a2"]  # vsw-a1 has one
    assert flows["vpc-b"]["vswitches_without_flow_log"] == []  # its VPC log is inactive
    assert "aliyun.logging.no_trail" not in found
    for finding in found["aliyun.logging.trail_not_logging"]:
        assert finding.remediation["cli"].startswith("aliyun ")
        assert "alicloud_actiontrail_trail" in finding.remediation["terraform"]
        assert finding.cis == "2.1"


def test_aliyun_good_export_passes() -> None:
    assert run("aliyun", "aliyun-good", prefix="aliyun.logging.") == []


def test_aws_bad_export_fails_every_coverage_check() -> None:
    found = by_check(run("aws", "aws-bad", prefix="aws.logging."))
    expected = {"aws.logging.trail_not_logging": "3.1", "aws.logging.trail_not_multi_region": "3.1",
                "aws.logging.trail_not_read_write": "3.1",
                "aws.logging.trail_log_validation_off": "3.2",
                "aws.logging.trail_not_kms_encrypted": "3.7"}
    for check, cis in expected.items():
        [finding] = found[check]
        assert finding.resource == "weak" and finding.cis == cis
        assert finding.remediation["cli"].startswith("aws ")
    assert found["aws.logging.trail_not_read_write"][0].evidence["records"] == "WriteOnly"
    [flow] = found["aws.logging.flow_log_missing"]
    assert flow.resource == "vpc-2" and flow.cis == "3.9"


def test_aws_good_export_passes() -> None:
    assert run("aws", "aws-good", prefix="aws.logging.") == []
