"""RAM/IAM checks. CIS (as numbered by turbot's compliance mods): Alibaba Cloud Foundations
2.0.0 1.2 (no root access key), 1.4 (MFA for console users), 1.6 (keys rotated within 90 days),
1.16 (policies on groups or roles, not users); AWS Foundations 3.0.0 1.4, 1.10, 1.14, 1.15.
Unused keys have no exact control (AWS 1.12 says 45 days for all credentials): cis None."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from trailguard.audit.checks import AuditCheck, AuditContext, register_audit_check
from trailguard.audit.finding import Finding
from trailguard.audit.identity.keys import (
    MAX_AGE,
    admin_policies_on_users,
    console_users_without_mfa,
    keys_from_many_addresses,
    root_key_use,
    root_keys,
    stale_keys,
)

ALIYUN_CIS = "CIS Alibaba Cloud Foundations Benchmark 2.0.0"
AWS_CIS = "CIS Amazon Web Services Foundations Benchmark 3.0.0"
_TRAIL = {"aliyun": "actiontrail", "aws": "cloudtrail"}


class _RootKey(AuditCheck):
    severity: ClassVar[str] = "critical"
    title: ClassVar[str] = "The root account has an active access key"

    def run(self, context: AuditContext) -> Iterator[Finding]:
        if context.export is not None:
            keys = root_keys(context.export)
            if keys:
                yield self.finding("root", {"keys": keys})


class _RootKeyUsed(AuditCheck):
    severity: ClassVar[str] = "critical"
    title: ClassVar[str] = "A root-account access key was used (from the trail)"

    def run(self, context: AuditContext) -> Iterator[Finding]:
        if context.connection is not None:
            for use in root_key_use(context.connection, _TRAIL[self.provider]):
                yield self.finding(use["access_key"], use)


class _StaleKey(AuditCheck):
    severity: ClassVar[str] = "medium"
    kind: ClassVar[str]

    def run(self, context: AuditContext) -> Iterator[Finding]:
        if context.export is None:
            return
        now = context.now if context.now.tzinfo else context.now.replace(tzinfo=None)
        for key, kind in stale_keys(context.export, now):
            if kind == self.kind:
                yield self.finding(f"{key.user}/{key.key_id}", {
                    "user": key.user, "access_key": key.key_id,
                    "created": key.created and key.created.isoformat(),
                    "last_used": key.last_used and key.last_used.isoformat(),
                    "max_age_days": MAX_AGE.days})


class _OldKey(_StaleKey):
    title: ClassVar[str] = "Access key older than 90 days"
    kind: ClassVar[str] = "old"


class _UnusedKey(_StaleKey):
    title: ClassVar[str] = "Active access key unused for 90 days"
    kind: ClassVar[str] = "unused"
    severity: ClassVar[str] = "low"


class _NoMfa(AuditCheck):
    severity: ClassVar[str] = "high"
    title: ClassVar[str] = "Console user without MFA"

    def run(self, context: AuditContext) -> Iterator[Finding]:
        if context.export is not None:
            for user in console_users_without_mfa(context.export):
                yield self.finding(user["user"], user)


class _AdminOnUser(AuditCheck):
    severity: ClassVar[str] = "high"
    title: ClassVar[str] = "AdministratorAccess attached directly to a user"

    def run(self, context: AuditContext) -> Iterator[Finding]:
        if context.export is not None:
            for item in admin_policies_on_users(context.export):
                yield self.finding(str(item["user"]), item)


class _ManyAddresses(AuditCheck):
    severity: ClassVar[str] = "high"
    title: ClassVar[str] = "Access key used from many addresses (from the trail)"

    def run(self, context: AuditContext) -> Iterator[Finding]:
        if context.connection is not None:
            for item in keys_from_many_addresses(context.connection, _TRAIL[self.provider]):
                yield self.finding(item["access_key"], item, title=(
                    f"Access key {item['access_key']} used from {item['distinct_addresses']} "
                    f"addresses ({item['reason']})"))


_RAM_KEY = {
    "cli": "aliyun ram UpdateAccessKey --UserName <user> --UserAccessKeyId <key> "
           "--Status Inactive  # then DeleteAccessKey; rotate with CreateAccessKey",
    "terraform": 'resource "alicloud_ram_access_key" "rotated" {\n  user_name = "<user>"\n'
                 '  status    = "Active"\n}  # and remove the old key\'s resource',
}
_IAM_KEY = {
    "cli": "aws iam update-access-key --user-name <user> --access-key-id <key> --status "
           "Inactive  # then delete-access-key; rotate with create-access-key",
    "terraform": 'resource "aws_iam_access_key" "rotated" {\n  user   = "<user>"\n'
                 '  status = "Active"\n}  # and remove the old key\'s resource',
}
_RAM_ROOT = {
    "cli": "aliyun ram ListAccessKeys  # signed in as the root account; then DeleteAccessKey "
           "--UserAccessKeyId <key>",
    "terraform": "# root-account keys are not managed by Terraform: delete them in the "
                 "console (AccessKey Management) and use RAM users or roles",
}
_IAM_ROOT = {
    "cli": "aws iam delete-access-key --access-key-id <key>  # with root credentials",
    "terraform": "# root access keys are not managed by Terraform: delete them in the console "
                 "(Security credentials) and use IAM roles",
}
_RAM_MFA = {
    "cli": "aliyun ram UpdateLoginProfile --UserName <user> --MFABindRequired true",
    "terraform": 'resource "alicloud_ram_login_profile" "user" {\n  user_name         = "<user>"\n'
                 '  password          = var.password\n  mfa_bind_required = true\n}',
}
_IAM_MFA = {
    "cli": "aws iam create-virtual-mfa-device --virtual-mfa-device-name <user> --outfile "
           "qr.png --bootstrap-method QRCodePNG && aws iam enable-mfa-device --user-name <user> "
           "--serial-number <arn> --authentication-code1 <c1> --authentication-code2 <c2>",
    "terraform": 'resource "aws_iam_virtual_mfa_device" "user" {\n'
                 '  virtual_mfa_device_name = "<user>"\n}',
}
_RAM_ADMIN = {
    "cli": "aliyun ram DetachPolicyFromUser --PolicyType System --PolicyName "
           "AdministratorAccess --UserName <user>  # grant through a group or role",
    "terraform": 'resource "alicloud_ram_group_policy_attachment" "admins" {\n'
                 '  group_name  = "<admins>"\n  policy_name = "AdministratorAccess"\n'
                 '  policy_type = "System"\n}',
}
_IAM_ADMIN = {
    "cli": "aws iam detach-user-policy --user-name <user> --policy-arn "
           "arn:aws:iam::aws:policy/AdministratorAccess  # grant through a group or role",
    "terraform": 'resource "aws_iam_group_policy_attachment" "admins" {\n'
                 '  group      = "<admins>"\n'
                 '  policy_arn = "arn:aws:iam::aws:policy/AdministratorAccess"\n}',
}


@register_audit_check
class AliyunRootAccessKey(_RootKey):
    id = "aliyun.identity.root_access_key"
    provider = "aliyun"
    cis = "1.2"
    cis_benchmark = ALIYUN_CIS
    remediation = _RAM_ROOT


@register_audit_check
class AwsRootAccessKey(_RootKey):
    id = "aws.identity.root_access_key"
    provider = "aws"
    cis = "1.4"
    cis_benchmark = AWS_CIS
    remediation = _IAM_ROOT


@register_audit_check
class AliyunRootAccessKeyUsed(_RootKeyUsed):
    id = "aliyun.identity.root_access_key_used_in_trail"
    provider = "aliyun"
    cis = "1.2"
    cis_benchmark = ALIYUN_CIS
    remediation = _RAM_ROOT


@register_audit_check
class AwsRootAccessKeyUsed(_RootKeyUsed):
    id = "aws.identity.root_access_key_used_in_trail"
    provider = "aws"
    cis = "1.4"
    cis_benchmark = AWS_CIS
    remediation = _IAM_ROOT


@register_audit_check
class AliyunAccessKeyNotRotated(_OldKey):
    id = "aliyun.identity.access_key_not_rotated"
    provider = "aliyun"
    cis = "1.6"
    cis_benchmark = ALIYUN_CIS
    remediation = _RAM_KEY


@register_audit_check
class AwsAccessKeyNotRotated(_OldKey):
    id = "aws.identity.access_key_not_rotated"
    provider = "aws"
    cis = "1.14"
    cis_benchmark = AWS_CIS
    remediation = _IAM_KEY


@register_audit_check
class AliyunAccessKeyUnused(_UnusedKey):
    id = "aliyun.identity.access_key_unused"
    provider = "aliyun"
    remediation = _RAM_KEY


@register_audit_check
class AwsAccessKeyUnused(_UnusedKey):
    id = "aws.identity.access_key_unused"
    provider = "aws"
    remediation = _IAM_KEY


@register_audit_check
class AliyunConsoleUserWithoutMfa(_NoMfa):
    id = "aliyun.identity.console_user_without_mfa"
    provider = "aliyun"
    cis = "1.4"
    cis_benchmark = ALIYUN_CIS
    remediation = _RAM_MFA


@register_audit_check
class AwsConsoleUserWithoutMfa(_NoMfa):
    id = "aws.identity.console_user_without_mfa"
    provider = "aws"
    cis = "1.10"
    cis_benchmark = AWS_CIS
    remediation = _IAM_MFA


@register_audit_check
class AliyunAdminPolicyOnUser(_AdminOnUser):
    id = "aliyun.identity.admin_policy_on_user"
    provider = "aliyun"
    cis = "1.16"
    cis_benchmark = ALIYUN_CIS
    remediation = _RAM_ADMIN


@register_audit_check
class AwsAdminPolicyOnUser(_AdminOnUser):
    id = "aws.identity.admin_policy_on_user"
    provider = "aws"
    cis = "1.15"
    cis_benchmark = AWS_CIS
    remediation = _IAM_ADMIN


@register_audit_check
class AliyunKeyFromManyAddresses(_ManyAddresses):
    id = "aliyun.identity.key_used_from_many_addresses"
    provider = "aliyun"
    remediation = _RAM_KEY


@register_audit_check
class AwsKeyFromManyAddresses(_ManyAddresses):
    id = "aws.identity.key_used_from_many_addresses"
    provider = "aws"
    remediation = _IAM_KEY
