"""Hand-built incidents for the playbook tests: positive and negative samples."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from trailguard.trace.model import (
    Entity,
    EntityRef,
    EvidenceRef,
    Impact,
    Incident,
    Indicator,
    Step,
)

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
ALI_KEY = EntityRef("access_key", "LTAI5tATTACKERKEY01")
ALI_USER = EntityRef("principal", "1234567890:ops-bot")
AWS_KEY = EntityRef("access_key", "AKIAATTACKERKEY00001")
AWS_USER = EntityRef("principal", "arn:aws:iam::111122223333:user/deploy")
ATTACKER_IP = EntityRef("ip", "198.51.100.77")
INSTANCE = EntityRef("instance", "i-bp1abcdef0123456")
HOST = EntityRef("host", "web-01")


def _step(minutes: int, tactic: str, technique: str, source: str,
          entities: list[EntityRef]) -> Step:
    return Step(time=T0 + timedelta(minutes=minutes), last=None, tactic=tactic,
                technique=technique, technique_name="", rule={"id": "r", "title": "t"},
                evidence=EvidenceRef(source, "f.json", minutes, f"e{minutes}"), alerts=1,
                entities=entities)


def incident(*, id: str = "INC-0001", score: float = 80.0, severity: str = "high",
             tactics: list[str] | None = None, techniques: list[str] | None = None,
             entities: list[Entity] | None = None, chain: list[Step] | None = None,
             impact: Impact | None = None, indicators: list[Indicator] | None = None,
             ) -> Incident:
    return Incident(
        id=id, score=score, severity=severity, first=T0, last=T0 + timedelta(hours=1),
        title="test incident", alerts=3, alert_ids=["a1"], entities=entities or [],
        chain=chain or [], entry_point=None, lateral_movement=[], exfiltration=[],
        persistence=[], impact=impact or Impact(), indicators=indicators or [],
        tactics=tactics or [], techniques=techniques or [])


def aliyun_key_theft() -> Incident:
    """A RAM user's AccessKey used from the attacker's address (ActionTrail)."""
    return incident(
        id="INC-ALI-KEY", score=82.0, severity="critical",
        tactics=["initial-access", "persistence"], techniques=["T1078.004", "T1098.001"],
        entities=[Entity(ATTACKER_IP, "attacker", T0, T0, 3),
                  Entity(ALI_KEY, "attacker", T0, T0, 3),
                  Entity(ALI_USER, "attacker", T0, T0, 3)],
        chain=[_step(0, "initial-access", "T1078.004", "actiontrail",
                     [ATTACKER_IP, ALI_KEY, ALI_USER]),
               _step(5, "persistence", "T1098.001", "actiontrail", [ALI_USER])],
        impact=Impact(keys=[ALI_KEY.value], accounts=["1234567890"]),
        indicators=[Indicator("ipv4-addr", ATTACKER_IP.value, T0, T0, 2),
                    Indicator("access-key", ALI_KEY.value, T0, T0, 1)])


def aws_key_theft() -> Incident:
    """An IAM user's access key used from the attacker's address (CloudTrail)."""
    return incident(
        id="INC-AWS-KEY", score=75.0, severity="high",
        tactics=["initial-access", "discovery"], techniques=["T1078.004", "T1580"],
        entities=[Entity(ATTACKER_IP, "attacker", T0, T0, 2),
                  Entity(AWS_KEY, "attacker", T0, T0, 2),
                  Entity(AWS_USER, "victim", T0, T0, 2)],
        chain=[_step(0, "initial-access", "T1078.004", "cloudtrail",
                     [ATTACKER_IP, AWS_KEY, AWS_USER])],
        impact=Impact(keys=[AWS_KEY.value]),
        indicators=[Indicator("access-key", AWS_KEY.value, T0, T0, 1)])


def aliyun_host_compromise() -> Incident:
    """A web shell on an ECS instance, then a reverse shell (host logs + VPC flow logs)."""
    return incident(
        id="INC-ALI-HOST", score=70.0, severity="high",
        tactics=["initial-access", "execution", "command-and-control"],
        techniques=["T1190", "T1059.004", "T1071"],
        entities=[Entity(ATTACKER_IP, "attacker", T0, T0, 2),
                  Entity(HOST, "victim", T0, T0, 3), Entity(INSTANCE, "victim", T0, T0, 3)],
        chain=[_step(0, "initial-access", "T1190", "web_access", [ATTACKER_IP, HOST]),
               _step(3, "command-and-control", "T1071", "vpcflow_aliyun",
                     [ATTACKER_IP, INSTANCE, HOST])],
        impact=Impact(instances=[INSTANCE.value, "i-bp1second00000001"], hosts=[HOST.value]))


def benign_scan() -> Incident:
    """A low-scored single scan from an unknown address: nothing to contain."""
    return incident(
        id="INC-LOW", score=20.0, severity="low", tactics=["reconnaissance"],
        techniques=["T1595"], entities=[Entity(ATTACKER_IP, "unknown", T0, T0, 1)],
        chain=[_step(0, "reconnaissance", "T1595", "web_access", [ATTACKER_IP])])
