"""Bucket checks: public ACL, public policy, public access block off (export) and buckets made
public in the trail (case). CIS: Alibaba Cloud Foundations 2.0.0 5.1 ("OSS bucket is not
anonymously or publicly accessible"); AWS Foundations 3.0.0 2.1.4 (S3 Block Public Access),
as numbered by turbot's compliance mods."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from trailguard.audit.checks import AuditCheck, AuditContext, register_audit_check
from trailguard.audit.finding import Finding
from trailguard.audit.storage.buckets import block_state, exposures, fully_blocked
from trailguard.audit.storage.trail import bucket_changes, openings

ALIYUN_CIS = "CIS Alibaba Cloud Foundations Benchmark 2.0.0"
AWS_CIS = "CIS Amazon Web Services Foundations Benchmark 3.0.0"


class _PublicAcl(AuditCheck):
    severity: ClassVar[str] = "high"
    title: ClassVar[str] = "Bucket ACL grants public access"

    def run(self, context: AuditContext) -> Iterator[Finding]:
        if context.export is None:
            return
        for item in exposures(context.export):
            if item.acl is None:
                continue
            severity = ("low" if item.blocked else
                        "critical" if "write" in item.acl.lower() else self.severity)
            yield self.finding(item.bucket, item.evidence(), severity=severity,
                               title=f"Bucket {item.bucket} ACL is {item.acl}"
                               + (" (neutralised by a public access block)"
                                  if item.blocked else ""))


class _PublicPolicy(AuditCheck):
    severity: ClassVar[str] = "high"
    title: ClassVar[str] = "Bucket policy allows anyone (Principal *) without a condition"

    def run(self, context: AuditContext) -> Iterator[Finding]:
        if context.export is None:
            return
        for item in exposures(context.export):
            if not item.policy and item.policy_status_public is not True:
                continue
            yield self.finding(item.bucket, item.evidence(),
                               severity="low" if item.blocked else self.severity)


class _BlockOff(AuditCheck):
    severity: ClassVar[str] = "medium"
    title: ClassVar[str] = "Public access block is off"

    def run(self, context: AuditContext) -> Iterator[Finding]:
        if context.export is None:
            return
        account = block_state(context.export.body("GetPublicAccessBlock", "global"))
        if account is not None and not fully_blocked(account):
            yield self.finding("account", {"level": "account", "flags": account},
                               title="Account-level public access block is off")
        if fully_blocked(account):
            return
        for item in exposures(context.export):
            if item.bucket_block is not None and not fully_blocked(item.bucket_block):
                yield self.finding(item.bucket, {"level": "bucket", "bucket": item.bucket,
                                                 "flags": item.bucket_block,
                                                 "account_flags": account},
                                   title=f"Bucket {item.bucket} public access block is off")


class _MadePublic(AuditCheck):
    severity: ClassVar[str] = "high"
    title: ClassVar[str] = "Bucket made public (from the trail)"
    source: ClassVar[str]

    def run(self, context: AuditContext) -> Iterator[Finding]:
        if context.connection is None:
            return
        for change in openings(bucket_changes(context.connection, self.source)):
            closed = change["closed_by"]
            yield self.finding(
                change["bucket"], change,
                title=(f"{change['operation']} set {change['bucket']} to {change['set_to']} "
                       f"(was {change['before']}) by {change['actor']} from "
                       f"{change['source_ip']} at {change['time']}"
                       + (f"; closed {closed['time']} by {closed['actor']}" if closed
                          else "; still open at the end of the evidence")))


_OSS_ACL = {
    "cli": "aliyun oss set-acl oss://<bucket> private -b",
    "terraform": 'resource "alicloud_oss_bucket_acl" "private" {\n  bucket = "<bucket>"\n'
                 '  acl    = "private"\n}',
}
_S3_ACL = {
    "cli": "aws s3api put-bucket-acl --bucket <bucket> --acl private",
    "terraform": 'resource "aws_s3_bucket_acl" "private" {\n  bucket = "<bucket>"\n'
                 '  acl    = "private"\n}',
}
_OSS_BLOCK = {
    "cli": "aliyun oss bucket-public-access-block put oss://<bucket> "
           "--block-public-access true  # account: aliyun oss public-access-block put "
           "--block-public-access true",
    "terraform": 'resource "alicloud_oss_bucket_public_access_block" "block" {\n'
                 '  bucket              = "<bucket>"\n  block_public_access = true\n}',
}
_S3_BLOCK = {
    "cli": "aws s3api put-public-access-block --bucket <bucket> --public-access-block-"
           "configuration BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,"
           "RestrictPublicBuckets=true",
    "terraform": 'resource "aws_s3_bucket_public_access_block" "block" {\n'
                 '  bucket                  = "<bucket>"\n  block_public_acls       = true\n'
                 '  ignore_public_acls      = true\n  block_public_policy     = true\n'
                 '  restrict_public_buckets = true\n}',
}
_OSS_POLICY = {
    "cli": "aliyun oss bucket-policy --method delete oss://<bucket>  # or rewrite the "
           "statement with a Principal list and an acs:SourceIp/acs:SourceVpc condition",
    "terraform": 'resource "alicloud_oss_bucket_policy" "scoped" {\n  bucket = "<bucket>"\n'
                 '  policy = jsonencode({ Version = "1", Statement = [ /* named principals '
                 '*/ ] })\n}',
}
_S3_POLICY = {
    "cli": "aws s3api delete-bucket-policy --bucket <bucket>  # or rewrite it without "
           "Principal \"*\"",
    "terraform": 'resource "aws_s3_bucket_policy" "scoped" {\n  bucket = "<bucket>"\n'
                 '  policy = data.aws_iam_policy_document.scoped.json\n}',
}


@register_audit_check
class AliyunBucketPublicAcl(_PublicAcl):
    id = "aliyun.storage.bucket_public_acl"
    provider = "aliyun"
    cis = "5.1"
    cis_benchmark = ALIYUN_CIS
    remediation = _OSS_ACL


@register_audit_check
class AwsBucketPublicAcl(_PublicAcl):
    id = "aws.storage.bucket_public_acl"
    provider = "aws"
    remediation = _S3_ACL


@register_audit_check
class AliyunBucketPublicPolicy(_PublicPolicy):
    id = "aliyun.storage.bucket_public_policy"
    provider = "aliyun"
    cis = "5.1"
    cis_benchmark = ALIYUN_CIS
    remediation = _OSS_POLICY


@register_audit_check
class AwsBucketPublicPolicy(_PublicPolicy):
    id = "aws.storage.bucket_public_policy"
    provider = "aws"
    remediation = _S3_POLICY


@register_audit_check
class AliyunPublicAccessBlockOff(_BlockOff):
    id = "aliyun.storage.public_access_block_off"
    provider = "aliyun"
    cis = "5.1"
    cis_benchmark = ALIYUN_CIS
    remediation = _OSS_BLOCK


@register_audit_check
class AwsPublicAccessBlockOff(_BlockOff):
    id = "aws.storage.public_access_block_off"
    provider = "aws"
    cis = "2.1.4"
    cis_benchmark = AWS_CIS
    remediation = _S3_BLOCK


@register_audit_check
class AliyunBucketMadePublic(_MadePublic):
    id = "aliyun.storage.bucket_made_public_in_trail"
    provider = "aliyun"
    source = "actiontrail"
    remediation = _OSS_ACL


@register_audit_check
class AwsBucketMadePublic(_MadePublic):
    id = "aws.storage.bucket_made_public_in_trail"
    provider = "aws"
    source = "cloudtrail"
    remediation = _S3_ACL
