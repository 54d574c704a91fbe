"""A small traced case for the report writers: a cloud incident and a host incident whose
evidence carries hostile strings, a context step and a hub."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from trailguard.trace.model import (
    Downtime,
    Entity,
    EntityRef,
    EntryPoint,
    EvidenceRef,
    Exfiltration,
    Hop,
    Hub,
    Impact,
    Incident,
    Indicator,
    Persistence,
    Step,
    TraceResult,
)

SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE_BREAK = '"><img src=x onerror=alert(2)>'
STYLE_BREAK = "</style><b>style</b>"
CDATA_BREAK = "]]><b>cdata</b>"
TEMPLATE = "{{ 7*7 }}"
#: Every hostile payload, as one string: each place tested carries all of them.
HOSTILE = f"{SCRIPT}{ATTRIBUTE_BREAK}{STYLE_BREAK}{CDATA_BREAK}{TEMPLATE}"
#: Hostile to CSV: separators, quotes, newlines and a formula.
CSV_HOSTILE = '=HYPERLINK("http://x.invalid","a,b")\r\n"quoted", new\nline'
#: Hostile to a STIX pattern literal: quotes, backslashes, brackets, newlines.
PATTERN_HOSTILE = "evil'] OR [ipv4-addr:value = '1.2.3.4\\'\n\\\\x]"

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def evidence(source_type: str, file: str | None, record: int | None, uid: str) -> EvidenceRef:
    return EvidenceRef(source_type, file, record, uid)


def rule(title: str, level: str = "high", rule_id: str = "r-1") -> dict[str, object]:
    return {"id": rule_id, "title": title, "level": level, "author": "tests",
            "path": "rules/x.yml", "source": "trailguard"}


def step(minutes: float, tactic: str, technique: str, name: str, title: str,
         entities: list[EntityRef], ev: EvidenceRef, *, alerts: int = 1, link: str = "",
         context: bool = False, rule_id: str = "r-1") -> Step:
    return Step(time=at(minutes), last=at(minutes + 1), tactic=tactic, technique=technique,
                technique_name=name, rule=rule(title, rule_id=rule_id), evidence=ev,
                alerts=0 if context else alerts, entities=entities, link=link, context=context)


ATTACKER_IP = EntityRef("ip", "198.51.100.77")
HOSTILE_IP = EntityRef("ip", f"10.0.0.9{HOSTILE}")
KEY = EntityRef("access_key", "AKIAEXAMPLEKEY000001")
PRINCIPAL = EntityRef("principal", f"arn:aws:iam::111122223333:user/{HOSTILE}")
BUCKET = EntityRef("bucket", "finance-exports")
INSTANCE = EntityRef("instance", "i-0abc123")
HOST = EntityRef("host", "web-01")
DB_HOST = EntityRef("host", f"db-01{HOSTILE}")
LOCAL_USER = EntityRef("user", "web-01/sysbackup")


def cloud_incident() -> Incident:
    cloudtrail = "cloudtrail/2026/03/01/trail.json.gz"
    chain = [
        step(0, "initial-access", "T1078.004", "Cloud Accounts", "Console login from new ASN",
             [ATTACKER_IP, KEY, PRINCIPAL], evidence("aws_cloudtrail", cloudtrail, 10, "e1"),
             alerts=3, rule_id="r-login"),
        step(2, "discovery", "T1580", "Cloud Infrastructure Discovery", "DescribeInstances",
             [ATTACKER_IP, PRINCIPAL], evidence("aws_cloudtrail", cloudtrail, 11, "e2"),
             context=True, link="shares ip:198.51.100.77 with the login"),
        step(5, "persistence", "T1098.001", "Additional Cloud Credentials",
             f"New access key {HOSTILE}", [PRINCIPAL, KEY],
             evidence("aws_cloudtrail", f"trail{HOSTILE}.json", 12, "e3"),
             link=f"shares principal {HOSTILE}", rule_id="r-key"),
        step(9, "exfiltration", "T1567", "Exfiltration Over Web Service",
             CSV_HOSTILE, [PRINCIPAL, BUCKET, ATTACKER_IP],
             evidence("aws_s3_access", "s3/access.log", 4, "e4"), alerts=12, rule_id="=cmd"),
    ]
    return Incident(
        id="INC-0001", score=87.5, severity="critical", first=at(0), last=at(10),
        title=f"Cloud account takeover {HOSTILE}", alerts=16,
        alert_ids=["a1", "a2", "a3"],
        entities=[
            Entity(ATTACKER_IP, "attacker", at(0), at(10), 16, "attacker address"),
            Entity(KEY, "victim", at(0), at(5), 4),
            Entity(PRINCIPAL, "victim", at(0), at(10), 16, f"note {HOSTILE}"),
            Entity(BUCKET, "victim", at(9), at(10), 12),
        ],
        chain=chain,
        entry_point=EntryPoint(at(0), "initial-access", "T1078.004",
                               "Console login from new ASN", None, ATTACKER_IP,
                               chain[0].evidence, f"Login from {HOSTILE}"),
        lateral_movement=[],
        exfiltration=[Exfiltration(f"attacker-bucket{HOSTILE}", 5_368_709_120, "s3-getobject",
                                   PRINCIPAL.value, at(9), at(10), 40, objects=312)],
        persistence=[Persistence("New access key", "T1098.001", KEY.value, at(5), None, None,
                                 chain[2].evidence)],
        impact=Impact(keys=[KEY.value], buckets=[BUCKET.value], accounts=["111122223333"],
                      data_bytes=5_368_709_120),
        indicators=[
            Indicator("ipv4-addr", "198.51.100.77", at(0), at(10), 3, "attacker address"),
            Indicator("user-agent", f"curl/8.0 {PATTERN_HOSTILE}", at(0), at(9), 2),
            Indicator("domain-name", f"evil.example{HOSTILE}", at(9), at(10), 1),
            Indicator("access-key", KEY.value, at(0), at(5), 2),
            Indicator("url", f"https://evil.example/{PATTERN_HOSTILE}", at(9), at(9), 1),
        ],
        tactics=["initial-access", "discovery", "persistence", "exfiltration"],
        techniques=["T1078.004", "T1098.001", "T1567"],
        score_parts={"coverage": 50.0, "impact": 37.5}, context_events=1,
    )


def host_incident() -> Incident:
    auth = "hosts/web-01/auth.log"
    chain = [
        step(30, "initial-access", "T1190", "Exploit Public-Facing Application",
             f"Web shell {HOSTILE}", [HOSTILE_IP, HOST],
             evidence("linux_auditd", f"{HOSTILE}/audit.log", 77, "h1"), rule_id="r-shell"),
        step(35, "persistence", "T1136.001", "Local Account", "Local user created",
             [HOST, LOCAL_USER], evidence("linux_auth", auth, 5, "h2"), rule_id="r-user"),
        step(40, "lateral-movement", "T1021.004", "SSH", "SSH to internal host",
             [HOST, DB_HOST, LOCAL_USER], evidence("linux_auth", auth, 9, "h3"),
             alerts=2, link=f"shares host:{HOST.value}", rule_id="r-ssh"),
        step(50, "impact", "T1489", "Service Stop", "Database stopped", [DB_HOST],
             evidence("linux_syslog", None, None, "h4"), rule_id="r-stop"),
        step(52, "defense-impairment", "", "", "Future tactic rule", [DB_HOST],
             evidence("linux_syslog", "syslog", 3, "h5"), rule_id="r-future"),
    ]
    return Incident(
        id="INC-0002", score=61.0, severity="high", first=at(30), last=at(53),
        title="Web server compromise", alerts=6, alert_ids=["b1"],
        entities=[
            Entity(HOSTILE_IP, "attacker", at(30), at(31), 1),
            Entity(HOST, "victim", at(30), at(41), 4),
            Entity(LOCAL_USER, "attacker", at(35), at(41), 3, "created by the attacker"),
            Entity(DB_HOST, "victim", at(40), at(53), 4),
        ],
        chain=chain,
        entry_point=EntryPoint(at(30), "initial-access", "T1190", chain[0].rule["title"],
                               HOST.value, HOSTILE_IP, chain[0].evidence, "Web shell on web-01"),
        lateral_movement=[Hop(HOST.value, DB_HOST.value, at(40), "ssh", chain[2].evidence,
                              uses=2)],
        exfiltration=[Exfiltration("203.0.113.5", None, "vpc-flow", HOST.value, at(45), at(46),
                                   2)],
        persistence=[Persistence("Local user created", "T1136.001", LOCAL_USER.value, at(35),
                                 False, at(60), chain[1].evidence)],
        impact=Impact(hosts=[HOST.value, DB_HOST.value],
                      downtime=[Downtime(DB_HOST.value, at(50), None, "systemctl stop")]),
        indicators=[
            Indicator("ipv4-addr", HOSTILE_IP.value, at(30), at(31), 1, HOSTILE),
            Indicator("ipv4-addr", "198.51.100.77", at(30), at(31), 1),
            Indicator("file", f"/var/www/html/{PATTERN_HOSTILE}.php", at(30), at(30), 1),
        ],
        tactics=["initial-access", "persistence", "lateral-movement", "impact",
                 "defense-impairment"],
        techniques=["T1190", "T1136.001", "T1021.004", "T1489"],
    )


def trace_result() -> TraceResult:
    return TraceResult(
        incidents=[cloud_incident(), host_incident()], alerts=24,
        hubs=[Hub(EntityRef("ip", "10.0.0.2"), "NAT gateway: 4,210 alerts"),
              Hub(EntityRef("host", f"jump{HOSTILE}"), f"touches {HOSTILE}")],
        window_seconds={"ip": 3600, "host": 7200}, unlinked_alerts=2,
    )


@pytest.fixture
def result() -> TraceResult:
    return trace_result()
