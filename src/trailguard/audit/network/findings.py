"""Network findings as data, produced by small check classes kept in a registry (Prowler style).

Each check has a stable ``ID``, a ``SEVERITY`` and a ``TITLE``; :func:`run_checks` runs the
registered checks over one snapshot. The port list and the CIS mapping are data tables. CIS ids:
CIS Amazon Web Services Foundations 3.0.0 5.1 (NACL, 0.0.0.0/0), 5.2 (groups, 0.0.0.0/0) and 5.3
(groups, ::/0) on remote administration ports 22 and 3389; CIS Alibaba Cloud Foundations 2.0.0
4.3 (0.0.0.0/0 to 22) and 4.4 (0.0.0.0/0 to 3389) (as numbered by turbot's compliance mods).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

from trailguard.audit.finding import Finding
from trailguard.audit.network import aws
from trailguard.audit.network.analysis import RuleIssue, rule_issues
from trailguard.audit.network.diff import RuleChange, attach_events, diff
from trailguard.audit.network.exposure import Exposure, exposures, sweep
from trailguard.audit.network.model import (
    ALL_PROTOCOLS,
    PORTED_PROTOCOLS,
    Action,
    Direction,
    NetworkInterface,
    Rule,
    Snapshot,
)
from trailguard.audit.network.space import NON_INTERNET

SENSITIVE_PORTS: dict[int, tuple[str, str]] = {
    22: ("SSH", "admin"), 23: ("Telnet", "admin"), 3389: ("RDP", "admin"),
    5900: ("VNC", "admin"), 2375: ("Docker API", "admin"), 2376: ("Docker API (TLS)", "admin"),
    10250: ("kubelet API", "admin"), 6443: ("Kubernetes API", "admin"),
    9000: ("PHP-FPM / ClickHouse / MinIO", "admin"),
    3306: ("MySQL", "database"), 5432: ("PostgreSQL", "database"),
    1433: ("SQL Server", "database"), 1521: ("Oracle", "database"),
    6379: ("Redis", "database"), 27017: ("MongoDB", "database"),
    9200: ("Elasticsearch", "database"), 5984: ("CouchDB", "database"),
    11211: ("Memcached", "database"),
}
"""Admin and database ports that should never face the Internet."""

WEB_PORTS = frozenset({80, 443})
BROAD_PORT_COUNT = 1000
BROAD_PREFIX = {4: 8, 6: 32}
"""A public CIDR with a prefix this short or shorter is over-broad."""

CIS: dict[tuple[str, int, int], tuple[str, str]] = {
    ("aliyun", 22, 4): ("CIS Alibaba Cloud Foundations Benchmark 2.0.0", "4.3"),
    ("aliyun", 3389, 4): ("CIS Alibaba Cloud Foundations Benchmark 2.0.0", "4.4"),
    ("aws", 22, 4): ("CIS Amazon Web Services Foundations Benchmark 3.0.0", "5.2"),
    ("aws", 3389, 4): ("CIS Amazon Web Services Foundations Benchmark 3.0.0", "5.2"),
    ("aws", 22, 6): ("CIS Amazon Web Services Foundations Benchmark 3.0.0", "5.3"),
    ("aws", 3389, 6): ("CIS Amazon Web Services Foundations Benchmark 3.0.0", "5.3"),
}
"""(provider, port, IP version) -> (benchmark, control) for a group open to 0.0.0.0/0 or ::/0."""

CIS_NACL = ("CIS Amazon Web Services Foundations Benchmark 3.0.0", "5.1")


# ---------------------------------------------------------------- remediation


def _aws_permission(rule: Rule) -> dict[str, Any]:
    permission: dict[str, Any] = {"IpProtocol": "-1" if rule.protocol == ALL_PROTOCOLS
                                  else rule.protocol}
    if rule.protocol in PORTED_PROTOCOLS:
        permission |= {"FromPort": rule.ports.low, "ToPort": rule.ports.high}
    peer = rule.peer
    if peer.prefix_list_id:  # the rule names the list, whether or not its entries are known
        permission["PrefixListIds"] = [{"PrefixListId": peer.prefix_list_id}]
    elif peer.cidr is not None and peer.cidr.version == 4:
        permission["IpRanges"] = [{"CidrIp": str(peer.cidr)}]
    elif peer.cidr is not None:
        permission["Ipv6Ranges"] = [{"CidrIpv6": str(peer.cidr)}]
    elif peer.group_id:
        permission["UserIdGroupPairs"] = [{"GroupId": peer.group_id}]
    return permission


def _aliyun_peer_flag(rule: Rule) -> str:
    side = "Source" if rule.direction is Direction.INGRESS else "Dest"
    peer = rule.peer
    if peer.prefix_list_id:
        return f"{side}PrefixListId {peer.prefix_list_id}"
    if peer.cidr is not None:
        return f"{'Ipv6' if peer.cidr.version == 6 else ''}{side}CidrIp {peer.cidr}"
    return f"{side}GroupId {peer.group_id}"


def remediation(rule: Rule, snapshot: Snapshot, raise_priority: bool = False) -> dict[str, str]:
    """CLI and Terraform to remove the rule (or, for a drop, move it ahead of what shadows it)."""
    region = snapshot.region or "<region>"
    ingress = rule.direction is Direction.INGRESS
    if snapshot.provider == "aliyun":
        if raise_priority and rule.rule_id:
            cli = (f"aliyun ecs ModifySecurityGroupRule --RegionId {region} --SecurityGroupId "
                   f"{rule.group_id} --SecurityGroupRuleId {rule.rule_id} --Priority 1")
        else:
            action = "RevokeSecurityGroup" if ingress else "RevokeSecurityGroupEgress"
            target = (f"--SecurityGroupRuleId.1 {rule.rule_id}" if rule.rule_id else
                      f"--Permissions.1.IpProtocol {rule.protocol.upper()} "
                      f"--Permissions.1.PortRange {rule.ports} "
                      f"--Permissions.1.{_aliyun_peer_flag(rule)} "
                      f"--Permissions.1.Policy {rule.action} --Permissions.1.Priority "
                      f"{rule.priority}")
            cli = f"aliyun ecs {action} --RegionId {region} --SecurityGroupId {rule.group_id} "
            cli += target
        port_range = rule.ports if rule.protocol in PORTED_PROTOCOLS else "-1/-1"
        terraform = (
            'resource "alicloud_security_group_rule" "restricted" {\n'
            f'  type              = "{rule.direction}"\n'
            f'  ip_protocol       = "{rule.protocol}"\n'
            f'  port_range        = "{port_range}"\n'
            f'  policy            = "{rule.action}"\n'
            f'  priority          = {1 if raise_priority else rule.priority}\n'
            f'  security_group_id = "{rule.group_id}"\n'
            '  cidr_ip           = "<trusted CIDR>"\n}')
        return {"cli": cli, "terraform": terraform}
    if rule.group_id.startswith("acl-"):
        flag = "--ingress" if ingress else "--egress"
        return {"cli": f"aws ec2 delete-network-acl-entry --region {region} --network-acl-id "
                       f"{rule.group_id} --rule-number {rule.priority} {flag}",
                "terraform": 'resource "aws_network_acl_rule" "restricted" {\n'
                             f'  network_acl_id = "{rule.group_id}"\n'
                             f'  rule_number    = {rule.priority}\n'
                             f'  egress         = {str(not ingress).lower()}\n'
                             '  rule_action    = "allow"\n'
                             '  cidr_block     = "<trusted CIDR>"\n}'}
    verb = "ingress" if ingress else "egress"
    protocol = "-1" if rule.protocol == ALL_PROTOCOLS else rule.protocol
    permissions = json.dumps([_aws_permission(rule)], separators=(",", ":"))
    ports = (f"  from_port         = {rule.ports.low}\n  to_port           = {rule.ports.high}\n"
             if rule.protocol in PORTED_PROTOCOLS else "")
    return {
        "cli": f"aws ec2 revoke-security-group-{verb} --region {region} --group-id "
               f"{rule.group_id} --ip-permissions '{permissions}'",
        "terraform": f'resource "aws_vpc_security_group_{verb}_rule" "restricted" {{\n'
                     f'  security_group_id = "{rule.group_id}"\n'
                     f'  ip_protocol       = "{protocol}"\n'
                     f"{ports}"
                     '  cidr_ipv4         = "<trusted CIDR>"\n}',
    }


# ---------------------------------------------------------------- checks


@dataclass
class AuditContext:
    """One snapshot and the analyses the checks share (computed once, on first use)."""

    snapshot: Snapshot

    @cached_property
    def exposures(self) -> list[Exposure]:
        return exposures(self.snapshot)

    @cached_property
    def issues(self) -> list[RuleIssue]:
        return rule_issues(self.snapshot)

    def rules(self) -> Iterator[Rule]:
        for group in self.snapshot.groups.values():
            yield from group.rules


class Check(ABC):
    """A network check. To add one: subclass, set the three ClassVars, implement :meth:`run`,
    decorate with :func:`register`; the ID is a stable kebab-case slug."""

    ID: ClassVar[str]
    SEVERITY: ClassVar[str]
    TITLE: ClassVar[str]

    @abstractmethod
    def run(self, ctx: AuditContext) -> Iterable[Finding]:
        """Findings for one snapshot."""

    def finding(self, ctx: AuditContext, resource: str, evidence: dict[str, Any],
                rule: Rule | None, *, title: str = "", severity: str = "",
                cis: tuple[str, str] | None = None, raise_priority: bool = False) -> Finding:
        return Finding(
            check=self.ID, severity=severity or self.SEVERITY, resource=resource,
            title=title or self.TITLE, evidence=evidence,
            rule=rule.summary() if rule is not None else None,
            remediation=remediation(rule, ctx.snapshot, raise_priority) if rule else {},
            cis=cis[1] if cis else None, cis_benchmark=cis[0] if cis else None,
            provider=ctx.snapshot.provider)


CHECKS: dict[str, type[Check]] = {}
"""Registered checks by ID."""


def register(cls: type[Check]) -> type[Check]:
    if cls.ID in CHECKS:
        raise ValueError(f"duplicate check id {cls.ID}")
    CHECKS[cls.ID] = cls
    return cls


def _whole_family(exposure: Exposure) -> bool:
    rule = exposure.rule
    return rule is not None and rule.peer.cidr is not None and rule.peer.cidr.prefixlen == 0


@register
class InternetAdminPortCheck(Check):
    ID = "sg-internet-admin-port"
    SEVERITY = "high"
    TITLE = "Admin or database port reachable from the Internet"

    def run(self, ctx: AuditContext) -> Iterable[Finding]:
        for exposure in ctx.exposures:
            if exposure.protocol not in PORTED_PROTOCOLS:
                continue  # ICMP, GRE, ...: no ports to expose
            for port in sorted(p for p in SENSITIVE_PORTS if p in exposure.ports):
                service, category = SENSITIVE_PORTS[port]
                cis = CIS.get((ctx.snapshot.provider, port, exposure.family)) \
                    if _whole_family(exposure) else None
                severity = "critical" if exposure.whole_internet and \
                    exposure.interface.public_ips else "high"
                yield self.finding(
                    ctx, exposure.interface.resource,
                    {**exposure.evidence(), "port": port, "service": service,
                     "category": category},
                    exposure.rule, severity=severity, cis=cis,
                    title=f"{service} ({exposure.protocol}/{port}) of "
                          f"{exposure.interface.resource} reachable from {exposure.source}")


@register
class InternetExposureCheck(Check):
    ID = "sg-internet-exposure"
    SEVERITY = "medium"
    TITLE = "Ports reachable from the Internet"

    def run(self, ctx: AuditContext) -> Iterable[Finding]:
        # the parts of one prefix-list rule (one per CIDR) are one finding: a list of fifty
        # CDN ranges opening 443 is one thing to fix, not fifty
        groups: dict[tuple[str, str, str, str], list[Exposure]] = {}
        for exposure in ctx.exposures:
            rule = exposure.rule
            listed = rule.peer.prefix_list_id if rule is not None else None
            key = (exposure.interface.resource, exposure.protocol, str(exposure.ports),
                   f"{rule.written.label if rule else ''}" if listed else str(id(exposure)))
            groups.setdefault(key, []).append(exposure)
        for parts in groups.values():
            exposure = parts[0]
            web_only = exposure.protocol == "tcp" and set(
                range(exposure.ports.low, exposure.ports.high + 1)) <= WEB_PORTS
            evidence = exposure.evidence()
            source = exposure.source
            rule = exposure.rule
            if len(parts) > 1 and rule is not None and rule.peer.prefix_list_id:
                evidence = {**evidence, "sources": [part.source for part in parts]}
                source = f"prefix list {rule.peer.prefix_list_id} ({len(parts)} ranges)"
                rule = rule.written
            yield self.finding(
                ctx, exposure.interface.resource, evidence, rule,
                severity="low" if web_only else self.SEVERITY,
                title=f"{exposure.protocol} {evidence['port_range']} of "
                      f"{exposure.interface.resource} reachable from {source}")


def _issue_evidence(issue: RuleIssue) -> dict[str, Any]:
    return {"pool": list(issue.pool), "interfaces": list(issue.interfaces),
            "decided_by": [r.summary() for r in issue.by]}


@register
class ShadowedRuleCheck(Check):
    ID = "sg-shadowed-rule"
    SEVERITY = "medium"
    TITLE = "Rule never takes effect: rules evaluated first decide all its traffic otherwise"

    def run(self, ctx: AuditContext) -> Iterable[Finding]:
        for issue in ctx.issues:
            if issue.kind != "shadowed":
                continue
            false_safety = issue.rule.action is Action.DROP
            yield self.finding(
                ctx, issue.rule.group_id, _issue_evidence(issue), issue.rule,
                severity="high" if false_safety else "low", raise_priority=false_safety,
                title=(f"Drop rule {issue.rule.label} never applies: higher-priority accepts "
                       "let the traffic in") if false_safety else
                      f"Accept rule {issue.rule.label} never applies: drops come first")


class _RuleIssueCheck(Check):
    """One finding per rule issue of one kind (see `analysis.rule_issues`)."""

    KIND: ClassVar[str]

    def run(self, ctx: AuditContext) -> Iterable[Finding]:
        for issue in ctx.issues:
            if issue.kind == self.KIND:
                yield self.finding(ctx, issue.rule.group_id, _issue_evidence(issue), issue.rule)


@register
class RedundantRuleCheck(_RuleIssueCheck):
    ID = "sg-redundant-rule"
    SEVERITY = "low"
    TITLE = "Redundant rule: rules evaluated first already do the same"
    KIND = "redundant"


@register
class PriorityConflictCheck(_RuleIssueCheck):
    ID = "sg-priority-conflict"
    SEVERITY = "medium"
    TITLE = "Accept and drop rules of equal priority overlap (drop wins)"
    KIND = "conflict"


def _public(rule: Rule) -> bool:
    cidr = rule.peer.cidr
    return cidr is not None and not any(
        cidr.version == n.version and cidr.subnet_of(n) for n in NON_INTERNET  # type: ignore[arg-type]
    )


@register
class BroadPortRangeCheck(Check):
    ID = "sg-broad-port-range"
    SEVERITY = "medium"
    TITLE = "Accept rule opens a broad port range"

    def run(self, ctx: AuditContext) -> Iterable[Finding]:
        public: dict[Rule, bool] = {}  # per rule as written: a prefix list's parts count once
        for rule in ctx.rules():
            if rule.direction is not Direction.INGRESS or rule.action is not Action.ACCEPT:
                continue
            broad = rule.protocol == ALL_PROTOCOLS or (
                rule.protocol in PORTED_PROTOCOLS and rule.ports.size >= BROAD_PORT_COUNT)
            if broad and rule.peer.cidr is not None:
                public[rule.written] = public.get(rule.written, False) or _public(rule)
        for rule, is_public in public.items():
            yield self.finding(ctx, rule.group_id,
                               {"port_count": rule.ports.size, "protocol": rule.protocol},
                               rule, severity="high" if is_public else "low")


@register
class BroadCidrCheck(Check):
    ID = "sg-broad-cidr"
    SEVERITY = "medium"
    TITLE = "Accept rule admits a very broad public CIDR"

    def run(self, ctx: AuditContext) -> Iterable[Finding]:
        for rule in ctx.rules():
            cidr = rule.peer.cidr
            if (cidr is None or rule.direction is not Direction.INGRESS
                    or rule.action is not Action.ACCEPT or not _public(rule)):
                continue
            web_only = rule.protocol == "tcp" and set(
                range(rule.ports.low, rule.ports.high + 1)) <= WEB_PORTS
            if (cidr.prefixlen == 0 and not web_only) or (
                    0 < cidr.prefixlen <= BROAD_PREFIX[cidr.version]):
                yield self.finding(ctx, rule.group_id,
                                   {"cidr": str(cidr), "prefix_length": cidr.prefixlen}, rule)


@register
class AclAdminPortCheck(Check):
    ID = "nacl-internet-admin-port"
    SEVERITY = "medium"
    TITLE = "Network ACL admits 0.0.0.0/0 to a remote administration port"

    def run(self, ctx: AuditContext) -> Iterable[Finding]:
        for acl in ctx.snapshot.acls:
            layer = aws.acl_layer(acl, Direction.INGRESS)
            pseudo = NetworkInterface(acl.acl_id, (), subnet_id=",".join(acl.subnet_ids))
            for exposure in sweep(pseudo, [layer], "tcp", 4):
                rule = exposure.rule
                for port in (22, 3389):
                    if rule is not None and port in exposure.ports and _whole_family(exposure):
                        yield self.finding(ctx, acl.acl_id,
                                           {**exposure.evidence(), "port": port}, rule,
                                           cis=CIS_NACL)


def run_checks(snapshot: Snapshot, only: Sequence[str] | None = None) -> list[Finding]:
    """Run the registered checks (or the ``only`` ids) over one snapshot."""
    ctx = AuditContext(snapshot)
    ids = list(only) if only is not None else list(CHECKS)
    return [f for check_id in ids for f in CHECKS[check_id]().run(ctx)]


def change_findings(old: Snapshot, new: Snapshot,
                    events: Iterable[dict[str, Any]] = ()) -> list[Finding]:
    """``sg-rule-changed`` findings: the diff between two snapshots with the explaining events."""
    changes: list[RuleChange] = attach_events(diff(old, new), list(events))
    findings = []
    for change in changes:
        rule = change.rule
        opening = (change.kind != "removed" and rule.direction is Direction.INGRESS
                   and rule.action is Action.ACCEPT and _public(rule))
        findings.append(Finding(
            check="sg-rule-changed", severity="medium" if opening else "info",
            resource=change.group_id,
            title=f"Rule {change.kind} in {change.group_id}: {rule.label}",
            evidence=change.summary(), rule=rule.summary(), provider=new.provider))
    return findings


__all__ = ["CHECKS", "Check", "Finding", "RuleChange", "attach_events", "change_findings",
           "diff", "register", "remediation", "run_checks"]
