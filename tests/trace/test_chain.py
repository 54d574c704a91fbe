"""The story of an incident: ordered steps, entry point, hops, exfiltration, persistence,
downtime, context and indicators — from a tiny case written for each question."""

from __future__ import annotations

import json

from tests.trace.conftest import TinyCase, incident_of
from trailguard.trace.model import EntityRef

KEY = "LTAI5tAbCdEfGhIjKlMnOp"
NEW_KEY = "LTAI5tZyXwVuTsRqPoNmLk"
ATTACKER = "198.51.100.77"
EXFIL = "203.0.113.200"
DB = "i-t4n26dg7x9ci5kbn3gig"
WEB = "i-t4nk1rwusy82sa44ahtf"


def _cloud(tiny: TinyCase, minutes: float, title: str, **fields: object) -> str:
    values: dict[str, object] = {"actor_access_key": KEY, "src_ip": ATTACKER,
                                 "actor_user": "wchen", "cloud_account": "1"}
    values.update(fields)
    return tiny.alert(minutes, title, **values)  # type: ignore[arg-type]


def test_steps_are_ordered_and_repeats_collapse(tiny: TinyCase) -> None:
    for minute in (0, 1, 2):
        _cloud(tiny, minute, "Describe burst", tactics=("discovery",), techniques=("T1580",))
    _cloud(tiny, 3, "CreateUser", tactics=("persistence",), techniques=("T1136.003",))
    chain = tiny.trace().incidents[0].chain
    assert [(step.rule["title"], step.alerts) for step in chain] == [
        ("Describe burst", 3), ("CreateUser", 1)]
    assert chain[0].technique_name == "Cloud Infrastructure Discovery"


def test_entry_point_is_the_earliest_initial_access_of_the_attacker(tiny: TinyCase) -> None:
    _cloud(tiny, 0, "Discovery", tactics=("discovery",))
    _cloud(tiny, 1, "Stolen key used from outside", tactics=("initial-access",),
           techniques=("T1078.004",))
    incident = tiny.trace().incidents[0]
    assert incident.entry_point is not None
    assert incident.entry_point.technique == "T1078.004"
    assert incident.entry_point.entity == EntityRef("access_key", KEY)


def test_a_low_alert_alone_makes_no_address_the_attackers(tiny: TinyCase) -> None:
    tiny.alert(0, "login from the office", level="low", source_type="syslog",
               src_ip="192.0.2.10", host="web-01", actor_user="ops", actor_session="5")
    incident = tiny.trace().incidents[0]
    assert not [i for i in incident.indicators if i.value == "192.0.2.10"]


def test_cloud_assistant_hops_from_the_attacker_but_not_from_ci(tiny: TinyCase) -> None:
    tiny.alert(0, "CI deploy", src_ip="172.16.1.10", actor_access_key="STS.ci",
               actor_user="build-role", cloud_account="1", operation="InvokeCommand",
               instance_id=f"['{WEB}']", tactics=("execution",))
    _cloud(tiny, 60 * 30, "Attacker command", operation="RunCommand",
           instance_id=f"['{DB}']", resource=DB)
    _cloud(tiny, 60 * 30 + 1, "Attacker command again", operation="InvokeCommand",
           instance_id=f"['{DB}', '{WEB}']")
    result = tiny.trace()
    attack = next(i for i in result.incidents if i.lateral_movement)
    hops = {(hop.source, hop.target, hop.method, hop.uses) for hop in attack.lateral_movement}
    assert hops == {(ATTACKER, DB, "cloud-assistant", 2), (ATTACKER, WEB, "cloud-assistant", 1)}
    assert attack.hop_count == 2


def test_ssh_from_an_internal_address_is_a_hop_from_the_host_behind_it(tiny: TinyCase) -> None:
    tiny.event(-5, "vpcflow_aliyun", src_ip="172.16.1.10", dst_ip="172.16.2.20",
               instance_id="i-t4nr90r7v4zu9tmnjrf5", direction="out", bytes=100)
    tiny.alert(0, "SSH from inside", source_type="syslog", host="web-01",
               src_ip="172.16.1.10", operation="ssh_accepted", actor_user="root",
               tactics=("lateral-movement",), techniques=("T1021.004",))
    incident = tiny.trace().incidents[0]
    [hop] = incident.lateral_movement
    assert (hop.source, hop.target, hop.method) == ("i-t4nr90r7v4zu9tmnjrf5", "web-01", "ssh")


def test_exfiltration_sums_outbound_flow_bytes_to_the_destination(tiny: TinyCase) -> None:
    for minute, sent in ((0, 451_711_190), (10, 1_013_858_267), (20, 680_430_542)):
        tiny.event(minute, "vpcflow_aliyun", src_ip="172.16.3.30", dst_ip=EXFIL,
                   direction="out", bytes=sent, instance_id=DB)
        tiny.event(minute, "vpcflow_aliyun", src_ip=EXFIL, dst_ip="172.16.3.30",
                   direction="in", bytes=385_196, instance_id=DB)
    tiny.alert(0, "High volume out", source_type="vpcflow_aliyun", src_ip="172.16.3.30",
               dst_ip=EXFIL, instance_id=DB, tactics=("exfiltration",))
    incident = tiny.trace().incidents[0]
    [leak] = incident.exfiltration
    assert (leak.destination, leak.bytes, leak.channel, leak.records) == (
        EXFIL, 2_145_999_999, "vpc-flow", 3)
    assert incident.exfiltrated_bytes == incident.impact.data_bytes == 2_145_999_999


def test_storage_reads_by_the_attackers_key_are_counted(tiny: TinyCase) -> None:
    _cloud(tiny, 0, "Mass download", tactics=("collection",), operation="GetObject",
           resource="backups/a.sql.gz", cloud_service="oss-ap-southeast-1.aliyuncs.com")
    for minute in range(1, 5):
        tiny.event(minute, "actiontrail", actor_access_key=KEY, src_ip=ATTACKER,
                   operation="GetObject", resource=f"backups/{minute}.pdf")
    incident = tiny.trace().incidents[0]
    [leak] = incident.exfiltration
    assert (leak.destination, leak.channel, leak.objects, leak.bytes) == (
        "backups", "oss-getobject", 5, None)


def test_persistence_removed_later_is_not_still_present(tiny: TinyCase) -> None:
    _cloud(tiny, 0, "Backdoor user", tactics=("persistence",), techniques=("T1136.003",),
           operation="CreateUser", resource="ops-automation")
    _cloud(tiny, 1, "Backdoor key", tactics=("persistence",), techniques=("T1098.001",),
           operation="CreateAccessKey", resource=NEW_KEY)
    tiny.event(600, "actiontrail", operation="DeleteUser", resource="ops-automation",
               actor_user="admin", src_ip="192.0.2.10")
    incident = tiny.trace().incidents[0]
    state = {item.technique: (item.still_present, item.removed_at is not None)
             for item in incident.persistence}
    assert state == {"T1136.003": (False, True), "T1098.001": (True, False)}


def test_stopped_logging_is_a_downtime_window(tiny: TinyCase) -> None:
    _cloud(tiny, 0, "Trail stopped", tactics=("defense-evasion",), operation="StopLogging",
           resource="acme-trail")
    tiny.event(90, "actiontrail", operation="StartLogging", resource="acme-trail",
               actor_user="admin", src_ip="192.0.2.10")
    [window] = tiny.trace().incidents[0].impact.downtime
    assert (window.resource, window.operation) == ("acme-trail", "StopLogging")
    assert window.start is not None and window.end is not None
    assert (window.end - window.start).total_seconds() == 90 * 60


def test_unalerted_calls_of_the_stolen_key_complete_the_story(tiny: TinyCase) -> None:
    _cloud(tiny, 0, "Stolen key used", tactics=("initial-access",))
    for minute in (1, 2, 3):
        tiny.event(minute, "actiontrail", actor_access_key=KEY, src_ip=ATTACKER,
                   operation="ListUsers")
    tiny.event(4, "actiontrail", actor_access_key=KEY, src_ip="192.0.2.10",
               operation="DescribeInstances")  # the owner, not the thief
    incident = tiny.trace().incidents[0]
    context = [step for step in incident.chain if step.context]
    assert [(step.rule["title"], step.alerts) for step in context] == [
        (f"ListUsers (no rule) by {KEY}", 3)]
    assert incident.context_events == 3


def test_hostile_values_pass_through_unchanged(tiny: TinyCase) -> None:
    hostile = "x' OR 1=1; DROP TABLE events; --\"<script>"
    tiny.alert(0, hostile, source_type="auditd", host=hostile, actor_user=hostile,
               process_cmdline=f"curl http://203.0.113.9/{hostile}", actor_session=hostile)
    result = tiny.trace()
    document = json.dumps([incident.to_json() for incident in result.incidents])
    assert hostile.replace('"', '\\"') in document
    assert result.incidents[0].chain[0].rule["title"] == hostile


def test_next_steps_name_what_to_contain(tiny: TinyCase) -> None:
    _cloud(tiny, 0, "Backdoor key", tactics=("persistence",), operation="CreateAccessKey",
           resource=NEW_KEY)
    steps = tiny.trace().incidents[0].next_steps
    assert any(KEY in step and "Disable" in step for step in steps)
    assert any(ATTACKER in step and "Block" in step for step in steps)


def test_a_process_tree_links_its_alerts_and_tells_what_else_ran(tiny: TinyCase) -> None:
    payload = "{00000000-0000-0000-0000-00000000000a}"
    shell = "{00000000-0000-0000-0000-00000000000b}"
    tiny.event(0, "windows_json", host="ws1", process_guid=payload, parent_guid="{explorer}",
               parent_name="C:\\Windows\\explorer.exe", process_name="C:\\Users\\a\\payload.exe",
               operation="1")
    tiny.event(1, "windows_json", host="ws1", process_guid=shell, parent_guid=payload,
               parent_name="C:\\Users\\a\\payload.exe", process_name="C:\\Windows\\cmd.exe",
               operation="1")
    tiny.event(2, "windows_json", host="ws1", process_guid="{c}", parent_guid=shell,
               parent_name="C:\\Windows\\cmd.exe", process_name="C:\\Windows\\tasklist.exe",
               operation="1")
    first = tiny.alert(3, "whoami", source_type="windows_json", host="ws1", process_guid="{d}",
                       parent_guid=shell, parent_name="C:\\Windows\\cmd.exe",
                       process_name="C:\\Windows\\whoami.exe", operation="1")
    later = tiny.alert(60 * 5, "lsass access", source_type="windows_json", host="ws1",
                       process_guid="{e}", parent_guid=payload,
                       parent_name="C:\\Users\\a\\payload.exe",
                       process_name="C:\\Users\\a\\dump.exe", operation="10")
    result = tiny.trace()
    assert incident_of(result, first) == incident_of(result, later)
    incident = result.incidents[0]
    ran = {step.rule["title"] for step in incident.chain if step.context}
    assert "1 (no rule) by C:\\Windows\\tasklist.exe" in ran
    assert "1 (no rule) by C:\\Windows\\cmd.exe" in ran


def test_kubectl_exec_is_a_hop_into_the_pod(tiny: TinyCase) -> None:
    tiny.alert(0, "exec into pod", source_type="k8s_audit", operation="create pods/exec",
               resource="default/web-0", actor_user="system:serviceaccount:ci:deployer",
               src_ip="198.51.100.77", tactics=("execution",))
    tiny.alert(2, "secrets read", source_type="k8s_audit", operation="get pods",
               resource="default/web-0", actor_user="system:serviceaccount:ci:deployer",
               src_ip="198.51.100.77", tactics=("discovery",))
    result = tiny.trace()
    assert result.incident_count == 1
    [hop] = result.incidents[0].lateral_movement
    assert (hop.target, hop.method) == ("default/web-0", "kubectl-exec")


def test_an_incident_reads_back_from_its_json(tiny: TinyCase) -> None:
    from trailguard.trace.model import incident_from_json

    _cloud(tiny, 0, "Backdoor key", tactics=("persistence",), operation="CreateAccessKey",
           resource=NEW_KEY)
    _cloud(tiny, 1, "Attacker command", operation="RunCommand", instance_id=f"['{DB}']",
           resource=DB)
    incident = tiny.trace().incidents[0]
    document = json.loads(json.dumps(incident.to_json()))
    assert incident_from_json(document).to_json() == document
