"""Grouping: alerts that share an entity within its kind's window form one incident; hubs and
low-level alerts do not bridge incidents; every alert says what linked it."""

from __future__ import annotations

from tests.trace.conftest import TinyCase, incident_of
from trailguard.trace.tracer import TraceConfig

KEY = "LTAI5tAbCdEfGhIjKlMnOp"
ATTACKER = "198.51.100.77"


def test_a_stolen_key_links_its_uses_over_days(tiny: TinyCase) -> None:
    first = tiny.alert(0, "GetCallerIdentity", actor_access_key=KEY, src_ip=ATTACKER)
    later = tiny.alert(60 * 40, "CreateUser", actor_access_key=KEY, src_ip=ATTACKER)
    result = tiny.trace()
    assert incident_of(result, first) == incident_of(result, later)
    incident = result.incidents[0]
    assert incident.chain[1].link.startswith(f"shares access_key {KEY}")


def test_a_key_is_linked_per_source_address(tiny: TinyCase) -> None:
    owner = tiny.alert(0, "owner's call", actor_access_key=KEY, src_ip="192.0.2.10")
    thief = tiny.alert(30, "thief's call", actor_access_key=KEY, src_ip=ATTACKER)
    result = tiny.trace()
    assert incident_of(result, owner) != incident_of(result, thief)


def test_a_host_links_only_within_a_quarter_of_an_hour(tiny: TinyCase) -> None:
    a = tiny.alert(0, "one", source_type="auditd", host="web-01")
    b = tiny.alert(10, "two", source_type="auditd", host="web-01")
    c = tiny.alert(120, "three", source_type="auditd", host="web-01")
    result = tiny.trace()
    assert incident_of(result, a) == incident_of(result, b) != incident_of(result, c)


def test_windows_are_configurable(tiny: TinyCase) -> None:
    a = tiny.alert(0, "one", source_type="auditd", host="web-01")
    b = tiny.alert(120, "two", source_type="auditd", host="web-01")
    config = TraceConfig()
    config.grouping.windows["host"] = 3 * 3600
    result = tiny.trace(config)
    assert incident_of(result, a) == incident_of(result, b)


def test_low_level_alerts_do_not_bridge_through_an_address(tiny: TinyCase) -> None:
    a = tiny.alert(0, "office login", level="low", source_type="syslog", src_ip="192.0.2.10",
                   host="build-01", actor_user="dev")
    b = tiny.alert(5, "office login elsewhere", level="low", source_type="syslog",
                   src_ip="192.0.2.10", host="web-01", actor_user="ops")
    result = tiny.trace()
    assert incident_of(result, a) != incident_of(result, b)


def test_a_hub_address_links_nothing_and_is_reported(tiny: TinyCase) -> None:
    nat = "203.0.113.250"
    ids = [tiny.alert(minute, f"call {minute}", actor_access_key=f"LTAI5tUser{minute:012d}",
                      actor_user=f"user{minute}", cloud_account="1", src_ip=nat)
           for minute in range(25)]
    config = TraceConfig()
    config.grouping.hub_peers = 20
    result = tiny.trace(config)
    assert len({incident_of(result, alert_id) for alert_id in ids}) == 25
    hub = next(hub for hub in result.hubs if hub.ref.value == nat)
    assert "25 distinct principals" in hub.reason


def test_an_attackers_key_touching_many_instances_is_not_a_hub(tiny: TinyCase) -> None:
    ids = [tiny.alert(minute / 10, f"GetPasswordData {minute}", actor_access_key=KEY,
                      src_ip=ATTACKER, resource=f"i-{minute:017d}",
                      instance_id=f"i-{minute:017d}")
           for minute in range(30)]
    result = tiny.trace()
    assert len({incident_of(result, alert_id) for alert_id in ids}) == 1
    assert not result.hubs


def test_an_invocation_ties_the_api_call_to_what_ran_on_the_host(tiny: TinyCase) -> None:
    invoke = tiny.alert(0, "RunCommand", actor_access_key=KEY, src_ip=ATTACKER,
                        operation="RunCommand", instance_id="['i-t4n26dg7x9ci5kbn3gig']",
                        resource="i-t4n26dg7x9ci5kbn3gig")
    tiny.event(0.05, "auditd", host="db-01", process_pid=700, parent_pid=650,
               process_cmdline="/bin/bash -c /usr/local/share/aliyun-assist/work/script/"
                               "t-sg0abcdefghij.sh")
    dump = tiny.alert(0.1, "mysqldump", source_type="auditd", host="db-01", process_pid=701,
                      parent_pid=700, process_cmdline="mysqldump --all-databases")
    # the API call names the invocation in its response (a native field): here, in the URL
    tiny.events[0]["url"] = "aliyun-assist/work/script/t-sg0abcdefghij"
    result = tiny.trace()
    assert incident_of(result, invoke) == incident_of(result, dump)


def test_correlation_members_count_at_the_alert_time(tiny: TinyCase) -> None:
    """A burst's members can span days; they must not glue what happened near each of them."""
    members = tuple(tiny.event(minute, "vpcflow_aliyun", src_ip="172.16.1.10",
                               dst_ip="203.0.113.66") for minute in range(0, 3000, 600))
    beacon = tiny.alert(0, "beacon", tactics=("command-and-control",),
                        source_type="vpcflow_aliyun", members=members, src_ip="172.16.1.10",
                        dst_ip="203.0.113.66")
    late = tiny.alert(2400, "unrelated on the same host", source_type="vpcflow_aliyun",
                      src_ip="172.16.1.10", dst_ip="192.0.2.160")
    result = tiny.trace()
    assert incident_of(result, beacon) != incident_of(result, late)


def test_single_alert_incidents_beyond_the_limit_are_summarised_alike(tiny: TinyCase) -> None:
    """SQL scores and names the single-alert incidents it summarises exactly as Python does."""
    import json

    from trailguard.store.case import Case
    from trailguard.trace.singles import documents

    ids = [tiny.alert(60 * 24 * day, f"rule {day}", level=level, tactics=tactics,
                      source_type="auditd", host=f"host-{day}")
           for day, (level, tactics) in enumerate((
               ("high", ("execution", "persistence")), ("low", ("discovery",)),
               ("informational", ()), ("critical", ("impact",))))]
    everything = tiny.trace(TraceConfig(detail_limit=10))
    assert not everything.summarised_incidents
    expected = {i.alert_ids[0]: (i.id, round(i.score, 1), i.severity)
                for i in everything.incidents}
    config = TraceConfig(detail_limit=1)
    limited = tiny.trace(config)
    assert (len(limited.incidents), limited.summarised_incidents) == (1, 3)
    assert limited.incident_count == 4
    with Case.open(tiny.folder) as case:
        docs = [json.loads(text) for text in documents(case.connection)]
    assert [doc["alert_ids"][0] for doc in docs] == sorted(
        ids, key=lambda a: -everything.incidents[
            [i.alert_ids[0] for i in everything.incidents].index(a)].score)
    for doc in docs:
        assert (doc["id"], doc["score"], doc["severity"]) == expected[doc["alert_ids"][0]]
        assert doc["chain"][0]["evidence"]["file"] == "/evidence/log.json"
    assert sum(1 for doc in docs if doc.get("summarised")) == 3
    for doc in docs:
        assert {"kind": "host", "value": f"host-{ids.index(doc['alert_ids'][0])}"} in [
            {"kind": e["kind"], "value": e["value"]} for e in doc["entities"]]


def test_a_low_alert_joins_one_incident_and_bridges_none(tiny: TinyCase) -> None:
    office = tiny.alert(0, "key created from the office", level="medium",
                        actor_access_key="LTAI5tOffice00000000", src_ip="192.0.2.10",
                        cloud_account="1", actor_user="admin")
    attack = tiny.alert(30, "implant on build-01", level="high", source_type="auditd",
                        host="build-01", actor_user="dev", actor_session="287")
    login = tiny.alert(20, "dev logs in from the office", level="low", source_type="syslog",
                       host="build-01", actor_user="dev", src_ip="192.0.2.10")
    result = tiny.trace()
    assert incident_of(result, office) != incident_of(result, attack)
    assert incident_of(result, login) == incident_of(result, attack)  # the nearer one
