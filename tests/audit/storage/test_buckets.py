"""Public buckets in exports, and the demo's bucket made public in the trail."""

from __future__ import annotations

from tests.audit.logging._support import by_check, demo_case, run
from trailguard.audit.storage.buckets import public_statements
from trailguard.audit.storage.trail import classify


def test_aliyun_public_acl_policy_and_block() -> None:
    found = by_check(run("aliyun", "aliyun-bad", prefix="aliyun.storage."))
    assert [f.resource for f in found["aliyun.storage.bucket_public_acl"]] == ["trail-logs"]
    # private-one's Principal * is narrowed by acs:SourceIp: not public
    assert [f.resource for f in found["aliyun.storage.bucket_public_policy"]] == ["open-policy"]
    assert found["aliyun.storage.public_access_block_off"][0].resource == "account"
    assert found["aliyun.storage.bucket_public_acl"][0].cis == "5.1"


def test_aws_public_acl_policy_and_block() -> None:
    found = by_check(run("aws", "aws-bad", prefix="aws.storage."))
    [acl] = found["aws.storage.bucket_public_acl"]
    assert acl.resource == "pub-acl" and acl.evidence["acl"] == "AllUsers:READ"
    assert [f.resource for f in found["aws.storage.bucket_public_policy"]] == ["pub-policy"]
    blocks = {f.resource for f in found["aws.storage.public_access_block_off"]}
    assert blocks == {"pub-acl", "pub-policy"}
    assert found["aws.storage.public_access_block_off"][0].cis == "2.1.4"


def test_good_exports_pass() -> None:
    assert run("aliyun", "aliyun-good", prefix="aliyun.storage.") == []
    assert run("aws", "aws-good", prefix="aws.storage.") == []


def test_policy_conditions_that_narrow_who_make_a_statement_private() -> None:
    open_ = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:*"}]}
    narrowed = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*",
                               "Condition": {"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}}]}
    transport = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*",
                                "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]}
    assert public_statements(open_) and public_statements(transport)
    assert not public_statements(narrowed)


def test_cloudtrail_acl_changes_are_classified() -> None:
    grant = {"bucketName": "b", "AccessControlPolicy": {"AccessControlList": {"Grant": [
        {"Grantee": {"URI": "http://acs.amazonaws.com/groups/global/AllUsers"},
         "Permission": "READ"}]}}}
    assert classify("PutBucketAcl", grant) == ("grants AllUsers", True)
    assert classify("PutBucketAcl", {"x-amz-acl": ["private"]}) == ("private", False)
    assert classify("DeletePublicAccessBlock", {})[1] is True
    assert classify("PutPublicAccessBlock", {"PublicAccessBlockConfiguration": {
        "BlockPublicAcls": True, "BlockPublicPolicy": False}})[1] is True


def test_the_demo_backup_bucket_made_public_is_found_with_who_when_where() -> None:
    with demo_case().connect() as connection:
        found = by_check(run("aliyun", connection=connection, prefix="aliyun.storage."))
    [opened] = found["aliyun.storage.bucket_made_public_in_trail"]
    assert opened.resource == "acme-prod-backups"
    assert opened.evidence["set_to"] == "public-read"
    assert opened.evidence["actor"] and opened.evidence["source_ip"]
    assert opened.evidence["closed_by"]["set_to"] == "private"
    attacker = demo_case().truth["environment"]["attacker"]["api_and_ssh"]
    assert opened.evidence["source_ip"] == attacker
