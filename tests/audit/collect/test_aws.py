"""AWS collection through boto3 against moto."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.audit.collect.conftest import SECRETS, must
from tests.audit.collect.test_aliyun import files
from trailguard.audit.collect import collect
from trailguard.audit.collect.aws import AwsCollector
from trailguard.audit.collect.base import Recorder
from trailguard.audit.export import ExportReader
from trailguard.audit.run import audit
from trailguard.respond.clients.aws import AwsClient

TAKEN = "2026-03-02T08:00:00+00:00"
REGIONS = ["us-east-1", "eu-west-1"]


@pytest.fixture
def account() -> Iterator[dict[str, Any]]:
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
        group = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)
        ec2.authorize_security_group_ingress(GroupId=group["GroupId"], IpPermissions=[{
            "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
            "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
        admins = ec2.create_managed_prefix_list(
            PrefixListName="admins", AddressFamily="IPv4", MaxEntries=5,
            Entries=[{"Cidr": "0.0.0.0/0", "Description": "anyone"},
                     {"Cidr": "203.0.113.0/24", "Description": "office"}])["PrefixList"]
        ec2.authorize_security_group_ingress(GroupId=group["GroupId"], IpPermissions=[{
            "IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389,
            "PrefixListIds": [{"PrefixListId": admins["PrefixListId"]}]}])
        ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=subnet,
                          SecurityGroupIds=[group["GroupId"]])
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="trail-logs-123")
        s3.create_bucket(Bucket="public-site-123")
        s3.put_bucket_acl(Bucket="public-site-123", ACL="public-read")
        s3.put_public_access_block(Bucket="trail-logs-123", PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True})
        trail = boto3.client("cloudtrail", region_name="us-east-1")
        trail.create_trail(Name="org-trail", S3BucketName="trail-logs-123",
                           IsMultiRegionTrail=True)
        trail.start_logging(Name="org-trail")
        iam = boto3.client("iam", region_name="us-east-1")
        for user in ("alice", "bob"):
            iam.create_user(UserName=user)
        iam.create_access_key(UserName="alice")
        iam.create_login_profile(UserName="alice", Password="Passw0rd!Passw0rd!")
        yield {"vpc": vpc, "group": group["GroupId"], "prefix_list": admins["PrefixListId"]}


def test_writes_exactly_the_export_layout(tmp_path: Path, account: dict[str, Any]) -> None:
    result = collect("aws", tmp_path, REGIONS, taken_at=TAKEN, sleep=lambda _: None)

    key_id = json.loads((tmp_path / "global" / "ListAccessKeys-alice.json").read_text())[
        "AccessKeyMetadata"][0]["AccessKeyId"]
    regional = {"DescribeSecurityGroups.json", "DescribeInstances.json",
                "DescribeNetworkInterfaces.json", "DescribeNetworkAcls.json",
                "DescribeVpcs.json", "DescribeSubnets.json", "DescribeFlowLogs.json",
                "DescribeTrails.json", "DescribeManagedPrefixLists.json"}

    def entries(region: str) -> set[str]:  # every list, AWS-managed ones included
        lists = boto3.client("ec2", region_name=region).describe_managed_prefix_lists()
        return {f"GetManagedPrefixListEntries-{pl['PrefixListId']}.json"
                for pl in lists["PrefixLists"]}

    assert files(tmp_path) == {
        "global": {"GetCallerIdentity.json", "ListUsers.json", "GetAccountSummary.json",
                   "GetCredentialReport.json", "ListBuckets.json",
                   "GetPublicAccessBlock.json",  # the account's, through S3 Control
                   f"GetAccessKeyLastUsed-{key_id}.json",
                   *(f"{a}-{u}.json" for u in ("alice", "bob")
                     for a in ("ListAccessKeys", "GetLoginProfile", "ListMFADevices",
                               "ListAttachedUserPolicies")),
                   *(f"{a}-{b}.json" for b in ("trail-logs-123", "public-site-123")
                     for a in ("GetBucketAcl", "GetBucketPolicy", "GetBucketPolicyStatus",
                               "GetPublicAccessBlock"))},
        "us-east-1": regional | entries("us-east-1") | {"GetTrailStatus-org-trail.json",
                                                         "GetEventSelectors-org-trail.json"},
        "eu-west-1": regional | entries("eu-west-1"),
    }
    assert f"GetManagedPrefixListEntries-{account['prefix_list']}.json" in files(tmp_path)[
        "us-east-1"]
    assert result.errors == []
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["account"] == "123456789012"
    assert manifest["regions"] == ["eu-west-1", "us-east-1"]


def test_round_trip_gives_the_boto3_bodies(tmp_path: Path, account: dict[str, Any]) -> None:
    collect("aws", tmp_path, ["us-east-1"], taken_at=TAKEN, sleep=lambda _: None)
    reader = ExportReader(tmp_path)
    ec2 = boto3.client("ec2", region_name="us-east-1")

    live = ec2.describe_security_groups()
    live.pop("ResponseMetadata")
    assert reader.body("DescribeSecurityGroups", "us-east-1") == live
    body = reader.body("DescribeInstances", "us-east-1")
    assert body is not None and "ResponseMetadata" not in body
    launch = body["Reservations"][0]["Instances"][0]["LaunchTime"]
    assert isinstance(launch, str) and launch[:4].isdigit()  # datetimes as ISO 8601
    status = reader.body("GetTrailStatus", "us-east-1", "org-trail")
    assert status is not None and status["IsLogging"] is True


def test_absence_is_recorded_as_data(tmp_path: Path, account: dict[str, Any]) -> None:
    collect("aws", tmp_path, ["us-east-1"], taken_at=TAKEN, sleep=lambda _: None)
    reader = ExportReader(tmp_path)
    assert reader.body("GetLoginProfile", "global", "bob") == {
        "LoginProfile": None, "Code": "NoSuchEntity"}
    alice = must(reader.body("GetLoginProfile", "global", "alice"))
    assert alice["LoginProfile"]["UserName"] == "alice"
    assert reader.body("GetPublicAccessBlock", "global", "public-site-123") == {
        "PublicAccessBlockConfiguration": None, "Code": "NoSuchPublicAccessBlockConfiguration"}
    assert reader.body("GetBucketPolicy", "global", "public-site-123") == {
        "Policy": None, "Code": "NoSuchBucketPolicy"}
    grants = must(reader.body("GetBucketAcl", "global", "public-site-123"))["Grants"]
    assert any(g["Grantee"].get("URI", "").endswith("AllUsers") for g in grants)
    report = must(reader.body("GetCredentialReport", "global"))
    assert report["Content"].startswith("user,arn,")


def test_region_discovery(tmp_path: Path, account: dict[str, Any]) -> None:
    recorder = Recorder(tmp_path, "aws", TAKEN)
    regions = AwsCollector(recorder, AwsClient).regions("us-east-1")
    assert "us-east-1" in regions and "eu-west-1" in regions
    assert (tmp_path / "global" / "DescribeRegions.json").is_file()


def test_access_denied_is_noted_and_collection_goes_on(
        tmp_path: Path, account: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    real = AwsCollector.read

    def deny(self: AwsCollector, client_region: str, region: str, service: str, method: str,
             resource: str | None = None, **kwargs: Any) -> dict[str, Any] | None:
        if method == "describe_flow_logs":
            from botocore.exceptions import ClientError

            sdk = self.client(client_region).sdk_client(service)
            stub = {"Error": {"Code": "UnauthorizedOperation", "Message": "You are not "
                              "authorized to perform this operation."}}

            def refuse(**_: Any) -> Any:
                raise ClientError(stub, "DescribeFlowLogs")

            monkeypatch.setattr(sdk, "describe_flow_logs", refuse)
        return real(self, client_region, region, service, method, resource, **kwargs)

    monkeypatch.setattr(AwsCollector, "read", deny)
    result = collect("aws", tmp_path, ["us-east-1"], taken_at=TAKEN, sleep=lambda _: None)
    assert [(e["region"], e["action"], e["code"]) for e in result.errors] == [
        ("us-east-1", "DescribeFlowLogs", "UnauthorizedOperation")]
    assert not (tmp_path / "us-east-1" / "DescribeFlowLogs.json").exists()
    assert (tmp_path / "us-east-1" / "DescribeTrails.json").is_file()


def test_credentials_are_never_written(tmp_path: Path, account: dict[str, Any]) -> None:
    collect("aws", tmp_path, ["us-east-1"], taken_at=TAKEN, sleep=lambda _: None,
            client_factory=AwsClient)
    text = "".join(p.read_text() for p in tmp_path.rglob("*.json"))
    assert SECRETS["AWS_SECRET_ACCESS_KEY"] not in text
    assert SECRETS["AWS_ACCESS_KEY_ID"] not in text


def test_prefix_lists_are_collected_and_audited_with_their_cidrs(
        tmp_path: Path, account: dict[str, Any]) -> None:
    collect("aws", tmp_path, ["us-east-1"], taken_at=TAKEN, sleep=lambda _: None)
    reader = ExportReader(tmp_path)
    pl = account["prefix_list"]
    body = must(reader.body("GetManagedPrefixListEntries", "us-east-1", pl))
    assert [e["Cidr"] for e in body["Entries"]] == ["0.0.0.0/0", "203.0.113.0/24"]
    listed = must(reader.body("DescribeManagedPrefixLists", "us-east-1"))["PrefixLists"]
    assert pl in {p["PrefixListId"] for p in listed}

    report = audit("aws", reader)
    rdp = [f for f in report.findings if f.check == "sg-internet-admin-port"
           and f.evidence["port"] == 3389]
    assert [f.title for f in rdp] == [
        f"RDP (tcp/3389) of {rdp[0].resource} reachable from prefix list {pl}: 0.0.0.0/0"]
    assert rdp[0].cis == "5.2"
    assert pl in rdp[0].remediation["cli"]  # revoke the rule naming the list
    assert not [e for e in report.errors if e["code"] == "PrefixListUnresolved"]


def test_prefix_list_entries_missing_from_the_export_are_noted(
        tmp_path: Path, account: dict[str, Any]) -> None:
    collect("aws", tmp_path, ["us-east-1"], taken_at=TAKEN, sleep=lambda _: None)
    pl = account["prefix_list"]
    (tmp_path / "us-east-1" / f"GetManagedPrefixListEntries-{pl}.json").unlink()

    report = audit("aws", ExportReader(tmp_path))
    notes = [e for e in report.errors if e["code"] == "PrefixListUnresolved"]
    assert [(n["region"], n["service"], n["action"], n["resource"]) for n in notes] == [
        ("us-east-1", "ec2", "GetManagedPrefixListEntries", pl)]
    assert account["group"] in notes[0]["message"]
    assert not [f for f in report.findings if f.check == "sg-internet-admin-port"
                and f.evidence["port"] == 3389]
