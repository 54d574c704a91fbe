"""Logging coverage from the export: trails that exist, log, cover every region and every
event, deliver somewhere private; flow logs on every VPC and vSwitch.

Responses read (every region folder, and ``global``):

* Alibaba: ActionTrail ``DescribeTrails`` (``TrailList``: Name, Status, TrailRegion, EventRW,
  OssBucketName, SlsProjectArn, HomeRegion), ``GetTrailStatus-<name>`` (IsLogging); the trail
  bucket's ACL/policy through :mod:`trailguard.audit.storage.buckets`; VPC ``DescribeVpcs``,
  ``DescribeVSwitches`` and ``DescribeFlowLogs`` (ResourceType VPC|VSwitch|NetworkInterface,
  ResourceId, Status Active) per region.
* AWS: ``DescribeTrails`` (``trailList``: IsMultiRegionTrail, LogFileValidationEnabled, KmsKeyId,
  S3BucketName), ``GetTrailStatus-<name>``, ``GetEventSelectors-<name>`` (ReadWriteType,
  IncludeManagementEvents, or advanced selectors), EC2 ``DescribeVpcs`` and
  ``DescribeFlowLogs`` (ResourceId, FlowLogStatus ACTIVE) per region.

CIS (as numbered by turbot's compliance mods): Alibaba Cloud Foundations 2.0.0 2.1 (ActionTrail
exports copies of all log entries), 2.2 (its OSS bucket not public), 2.5 (VPC/vSwitch flow
logs); AWS Foundations 3.0.0 3.1 (CloudTrail in all regions, read and write management
events), 3.2 (log file validation), 3.7 (KMS), 3.9 (VPC flow logging).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from trailguard.audit.checks import AuditCheck, AuditContext, register_audit_check
from trailguard.audit.export import GLOBAL, ExportReader
from trailguard.audit.finding import Finding
from trailguard.audit.logging._json import find, items, strings, truthy
from trailguard.audit.storage.buckets import exposure_of

ALIYUN_CIS = "CIS Alibaba Cloud Foundations Benchmark 2.0.0"
AWS_CIS = "CIS Amazon Web Services Foundations Benchmark 3.0.0"


@dataclass
class Trail:
    """One trail, read from either provider's responses."""

    name: str
    home_region: str
    enabled: bool | None = None  # Status Enable / IsLogging
    multi_region: bool | None = None
    read_write: str | None = None  # All | Read | Write (Alibaba EventRW; AWS management)
    oss_bucket: str | None = None  # OSS or S3 bucket
    sls_project: str | None = None  # SLS project or CloudWatch Logs group
    log_validation: bool | None = None
    kms_key: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    def evidence(self) -> dict[str, Any]:
        return {"trail": self.name, "home_region": self.home_region, "enabled": self.enabled,
                "multi_region": self.multi_region, "read_write": self.read_write,
                "bucket": self.oss_bucket, "log_service": self.sls_project,
                "log_file_validation": self.log_validation, "kms_key": self.kms_key}


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _status(export: ExportReader, name: str, arn: str | None) -> bool | None:
    for response in export.responses("GetTrailStatus"):
        if response.resource in (name, arn):
            return truthy(find(response.body, "IsLogging"))
    return None


def _aws_read_write(export: ExportReader, name: str, arn: str | None) -> str | None:
    for response in export.responses("GetEventSelectors"):
        if response.resource not in (name, arn):
            continue
        kinds = set()
        for selector in items(response.body, "EventSelectors"):
            if truthy(selector.get("IncludeManagementEvents")) is not False:
                kinds.add(str(selector.get("ReadWriteType", "All")))
        for selector in items(response.body, "AdvancedEventSelectors"):
            fields = {str(f.get("Field")): f for f in items(selector, "FieldSelectors")}
            category = fields.get("eventCategory", {})
            if "Management" not in set(strings(category.get("Equals"))):
                continue
            read_only = set(strings(fields.get("readOnly", {}).get("Equals")))
            kinds.add("All" if not read_only else
                      "ReadOnly" if read_only == {"true"} else "WriteOnly")
        if "All" in kinds or {"ReadOnly", "WriteOnly"} <= kinds:
            return "All"
        return ",".join(sorted(kinds)) or "None"
    return None


def trails(export: ExportReader) -> list[Trail]:
    """Every trail of the export, once, with its status and (AWS) event selectors."""
    found: dict[tuple[str, str], Trail] = {}
    for response in export.responses("DescribeTrails"):
        for raw in items(response.body, "TrailList", "trailList", "Trails"):
            name = _text(raw.get("Name"))
            if name is None:
                continue
            home = _text(raw.get("HomeRegion")) or response.region
            key = (name, home)
            if key in found:
                continue
            arn = _text(raw.get("TrailARN"))
            aws = "IsMultiRegionTrail" in raw or arn is not None
            status = _status(export, name, arn)
            if aws:
                trail = Trail(name, home, status,
                              truthy(raw.get("IsMultiRegionTrail")) is True,
                              _aws_read_write(export, name, arn),
                              _text(raw.get("S3BucketName")),
                              _text(raw.get("CloudWatchLogsLogGroupArn")),
                              truthy(raw.get("LogFileValidationEnabled")) is True,
                              _text(raw.get("KmsKeyId")), dict(raw))
            else:
                enabled = truthy(raw.get("Status"))
                trail = Trail(name, home,
                              False if False in (enabled, status) else (status or enabled),
                              str(raw.get("TrailRegion", "")).lower() == "all",
                              _text(raw.get("EventRW")) or "Write",
                              _text(raw.get("OssBucketName")), _text(raw.get("SlsProjectArn")),
                              raw=dict(raw))
            found[key] = trail
    return list(found.values())


def _described_trails(export: ExportReader) -> bool:
    return bool(export.responses("DescribeTrails"))


def flow_log_coverage(export: ExportReader) -> list[dict[str, Any]]:
    """Per VPC: whether it has an active flow log, and its vSwitches/subnets without one."""
    missing = []
    for region in export.regions:
        vpcs = [v for r in export.responses("DescribeVpcs", region)
                for v in items(r.body, "Vpcs", "Vpc")]
        if not vpcs or not export.responses("DescribeFlowLogs", region):
            continue
        active: set[str] = set()
        for response in export.responses("DescribeFlowLogs", region):
            for log in items(response.body, "FlowLogs", "FlowLog"):
                status = log.get("Status", log.get("FlowLogStatus"))
                if truthy(status) is not False and _text(log.get("ResourceId")):
                    active.add(str(log["ResourceId"]))
        switches: dict[str, list[str]] = {}
        for response in export.responses("DescribeVSwitches", region):
            for switch in items(response.body, "VSwitches", "VSwitch"):
                if _text(switch.get("VSwitchId")):
                    switches.setdefault(str(switch.get("VpcId")), []).append(
                        str(switch["VSwitchId"]))
        for vpc in vpcs:
            vpc_id = _text(vpc.get("VpcId"))
            if vpc_id is None or vpc_id in active:
                continue
            listed = switches.get(vpc_id) or list(strings(vpc.get("VSwitchIds")))
            uncovered = sorted(s for s in listed if s not in active)
            if listed and not uncovered:
                continue
            missing.append({"vpc": vpc_id, "region": region, "vpc_flow_log": False,
                            "vswitches_without_flow_log": uncovered,
                            "vswitches": sorted(listed)})
    return missing


class _TrailCheck(AuditCheck):
    """A trail property check: :meth:`failing` returns the evidence of a failing trail."""

    def failing(self, trail: Trail) -> dict[str, Any] | None:
        raise NotImplementedError

    def run(self, context: AuditContext) -> Iterator[Finding]:
        if context.export is None:
            return
        for trail in trails(context.export):
            evidence = self.failing(trail)
            if evidence is not None:
                yield self.finding(trail.name, {**trail.evidence(), **evidence})


class _NoTrail(AuditCheck):
    severity: ClassVar[str] = "high"
    title: ClassVar[str] = "No audit trail is configured"

    def run(self, context: AuditContext) -> Iterator[Finding]:
        if context.export is None or not _described_trails(context.export):
            return
        if not trails(context.export):
            account = str(context.export.manifest.get("account") or "account")
            yield self.finding(account, {"regions_described": sorted(
                {r.region for r in context.export.responses("DescribeTrails")})})


class _NotLogging(_TrailCheck):
    severity: ClassVar[str] = "high"
    title: ClassVar[str] = "Trail is not logging"

    def failing(self, trail: Trail) -> dict[str, Any] | None:
        return {"status": trail.raw.get("Status")} if trail.enabled is False else None


class _NotMultiRegion(_TrailCheck):
    severity: ClassVar[str] = "medium"
    title: ClassVar[str] = "Trail does not cover all regions"

    def failing(self, trail: Trail) -> dict[str, Any] | None:
        return ({"trail_region": trail.raw.get("TrailRegion")}
                if trail.multi_region is False else None)


class _NotReadWrite(_TrailCheck):
    severity: ClassVar[str] = "medium"
    title: ClassVar[str] = "Trail does not record both read and write events"

    def failing(self, trail: Trail) -> dict[str, Any] | None:
        if trail.read_write is None or trail.read_write.lower() == "all":
            return None
        return {"records": trail.read_write}


class _NoDestination(_TrailCheck):
    severity: ClassVar[str] = "high"
    title: ClassVar[str] = "Trail delivers to neither OSS nor SLS"

    def failing(self, trail: Trail) -> dict[str, Any] | None:
        return {} if not trail.oss_bucket and not trail.sls_project else None


class _TrailBucketPublic(AuditCheck):
    severity: ClassVar[str] = "critical"
    title: ClassVar[str] = "The trail's bucket is publicly accessible"

    def run(self, context: AuditContext) -> Iterator[Finding]:
        if context.export is None:
            return
        for trail in trails(context.export):
            exposure = exposure_of(context.export, trail.oss_bucket) if trail.oss_bucket \
                else None
            if exposure is None or exposure.blocked:
                continue
            if exposure.acl or exposure.policy or exposure.policy_status_public:
                yield self.finding(trail.oss_bucket or "", {"trail": trail.name,
                                                             **exposure.evidence()})


class _LogValidation(_TrailCheck):
    severity: ClassVar[str] = "medium"
    title: ClassVar[str] = "Trail log file validation is off"

    def failing(self, trail: Trail) -> dict[str, Any] | None:
        return {} if trail.log_validation is False else None


class _NotKms(_TrailCheck):
    severity: ClassVar[str] = "medium"
    title: ClassVar[str] = "Trail logs are not encrypted with a KMS key"

    def failing(self, trail: Trail) -> dict[str, Any] | None:
        return {} if "IsMultiRegionTrail" in trail.raw and not trail.kms_key else None


class _FlowLogMissing(AuditCheck):
    severity: ClassVar[str] = "medium"
    title: ClassVar[str] = "VPC without an active flow log"

    def run(self, context: AuditContext) -> Iterator[Finding]:
        if context.export is None:
            return
        for item in flow_log_coverage(context.export):
            yield self.finding(item["vpc"], item)


_AT_TRAIL = {
    "cli": "aliyun actiontrail UpdateTrail --Name <trail> --TrailRegion All --EventRW All "
           "--OssBucketName <private-bucket> --SlsProjectArn <acs:log:…:project/…>  "
           "&& aliyun actiontrail StartLogging --Name <trail>",
    "terraform": 'resource "alicloud_actiontrail_trail" "audit" {\n  trail_name      = "<trail>"\n'
                 '  trail_region    = "All"\n  event_rw        = "All"\n'
                 '  status          = "Enable"\n  oss_bucket_name = "<private-bucket>"\n'
                 '  sls_project_arn = "<acs:log:…:project/…>"\n}',
}
_CT_TRAIL = {
    "cli": "aws cloudtrail update-trail --name <trail> --is-multi-region-trail "
           "--enable-log-file-validation --kms-key-id <key>  && aws cloudtrail "
           "put-event-selectors --trail-name <trail> --event-selectors "
           "'[{\"ReadWriteType\":\"All\",\"IncludeManagementEvents\":true}]'  && aws "
           "cloudtrail start-logging --name <trail>",
    "terraform": 'resource "aws_cloudtrail" "audit" {\n  name                          = '
                 '"<trail>"\n  s3_bucket_name                = "<bucket>"\n'
                 '  is_multi_region_trail         = true\n'
                 '  enable_log_file_validation    = true\n  kms_key_id                    = '
                 '"<key-arn>"\n  enable_logging                = true\n  event_selector {\n'
                 '    read_write_type           = "All"\n'
                 '    include_management_events = true\n  }\n}',
}
_VPC_FLOW = {
    "cli": "aliyun vpc CreateFlowLog --RegionId <region> --ResourceType VPC --ResourceId <vpc> "
           "--TrafficType All --ProjectName <sls-project> --LogStoreName <logstore>",
    "terraform": 'resource "alicloud_vpc_flow_log" "vpc" {\n  resource_type = "VPC"\n'
                 '  resource_id   = "<vpc>"\n  traffic_type  = "All"\n'
                 '  project_name  = "<sls-project>"\n  log_store_name = "<logstore>"\n}',
}
_EC2_FLOW = {
    "cli": "aws ec2 create-flow-logs --resource-type VPC --resource-ids <vpc> --traffic-type "
           "ALL --log-destination-type cloud-watch-logs --log-group-name <group> "
           "--deliver-logs-permission-arn <role-arn>",
    "terraform": 'resource "aws_flow_log" "vpc" {\n  vpc_id          = "<vpc>"\n'
                 '  traffic_type    = "ALL"\n  log_destination = "<log-group-arn>"\n'
                 '  iam_role_arn    = "<role-arn>"\n}',
}
_OSS_PRIVATE = {
    "cli": "aliyun oss set-acl oss://<bucket> private -b",
    "terraform": 'resource "alicloud_oss_bucket_acl" "trail" {\n  bucket = "<bucket>"\n'
                 '  acl    = "private"\n}',
}


def _aliyun(cls: type[AuditCheck], check_id: str, cis: str | None = "2.1",
            remediation: Mapping[str, str] = _AT_TRAIL) -> type[AuditCheck]:
    attributes = {"id": check_id, "provider": "aliyun", "cis": cis,
                  "cis_benchmark": ALIYUN_CIS if cis else None,
                  "remediation": dict(remediation), "__module__": __name__}
    name = "Aliyun" + "".join(p.title() for p in check_id.rsplit(".", 1)[-1].split("_"))
    return register_audit_check(type(name, (cls,), attributes))


def _aws(cls: type[AuditCheck], check_id: str, cis: str | None,
         remediation: Mapping[str, str] = _CT_TRAIL) -> type[AuditCheck]:
    attributes = {"id": check_id, "provider": "aws", "cis": cis,
                  "cis_benchmark": AWS_CIS if cis else None,
                  "remediation": dict(remediation), "__module__": __name__}
    name = "Aws" + "".join(p.title() for p in check_id.rsplit(".", 1)[-1].split("_"))
    return register_audit_check(type(name, (cls,), attributes))


AliyunNoTrail = _aliyun(_NoTrail, "aliyun.logging.no_trail")
AliyunTrailNotLogging = _aliyun(_NotLogging, "aliyun.logging.trail_not_logging")
AliyunTrailNotMultiRegion = _aliyun(_NotMultiRegion, "aliyun.logging.trail_not_multi_region")
AliyunTrailNotReadWrite = _aliyun(_NotReadWrite, "aliyun.logging.trail_not_read_write")
AliyunTrailNoDestination = _aliyun(_NoDestination, "aliyun.logging.trail_no_destination")
AliyunTrailBucketPublic = _aliyun(_TrailBucketPublic, "aliyun.logging.trail_bucket_public",
                                  "2.2", _OSS_PRIVATE)
AliyunFlowLogMissing = _aliyun(_FlowLogMissing, "aliyun.logging.flow_log_missing", "2.5",
                               _VPC_FLOW)
AwsNoTrail = _aws(_NoTrail, "aws.logging.no_trail", "3.1")
AwsTrailNotLogging = _aws(_NotLogging, "aws.logging.trail_not_logging", "3.1")
AwsTrailNotMultiRegion = _aws(_NotMultiRegion, "aws.logging.trail_not_multi_region", "3.1")
AwsTrailNotReadWrite = _aws(_NotReadWrite, "aws.logging.trail_not_read_write", "3.1")
AwsTrailLogValidationOff = _aws(_LogValidation, "aws.logging.trail_log_validation_off", "3.2")
AwsTrailNotKms = _aws(_NotKms, "aws.logging.trail_not_kms_encrypted", "3.7")
AwsFlowLogMissing = _aws(_FlowLogMissing, "aws.logging.flow_log_missing", "3.9", _EC2_FLOW)

__all__ = ["GLOBAL", "Trail", "flow_log_coverage", "trails"]
