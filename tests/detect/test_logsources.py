"""A rule scans only the rows of its logsource, under the field names of each route.

Every test runs the vectorised and the SQL engine and requires the same matches. Matches are
given as (evidence file name, record) pairs of tests/fixtures/detect.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from trailguard.detect.plan import plan_rules
from trailguard.detect.rules import load_rules
from trailguard.detect.run import detect
from trailguard.ingest.pipeline import Ingest
from trailguard.store.case import Case

Matches = set[tuple[str, int]]


def write_rule(folder: Path, name: str, logsource: dict[str, str],
               detection: dict[str, Any]) -> Path:
    """A small rule file; its id is derived from the name so each file's id is its own."""
    number = sum(ord(c) * (i + 1) for i, c in enumerate(name)) % 10**12
    document = {
        "title": f"test {name}",
        "id": f"7e570000-0000-4000-8000-{number:012d}",
        "status": "test",
        "author": "TrailGuard tests",
        "logsource": logsource,
        "detection": detection,
        "level": "medium",
    }
    path = folder / f"{name}.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def matches(connection: duckdb.DuckDBPyConnection, rule: Path) -> Matches:
    """(file name, record) of every event the rule matches; both engines must agree."""
    ruleset = load_rules([(rule, "user")])
    assert not ruleset.refusals, ruleset.refusals
    files = dict(connection.execute("SELECT id, path FROM files").fetchall())
    found: list[Matches] = []
    for vectorised in (True, False):
        run = detect(connection, ruleset, vectorised=vectorised)
        assert not run.plan.refused and not run.stats.errors, (run.plan.refused, run.stats)
        found.append({(Path(files[a.event.file_id]).name, a.event.record or 0)
                      for a in run.alerts})
    assert found[0] == found[1]
    return found[0]


def route_labels(rule: Path) -> set[str]:
    plan = plan_rules(load_rules([(rule, "user")]))
    assert not plan.refused, plan.refused
    (compiled,) = plan.compiled
    return {route.route.label for route in compiled.routes}


CERTUTIL_SELECTION = {
    "selection": {"Image|endswith": "\\certutil.exe", "CommandLine|contains": "urlcache"},
    "condition": "selection",
}


# --- Windows ------------------------------------------------------------------------------------


def test_process_creation_rule_skips_sysmon_network_rows(connection, rules: Path,
                                                         tmp_path: Path) -> None:
    rule = rules / "windows" / "proc_creation_certutil_urlcache.yml"
    # sysmon.ndjson record 3 is EventID 3 with the very same Image and CommandLine.
    assert matches(connection, rule) == {("sysmon.ndjson", 2), ("sysmon.ndjson", 4),
                                         ("security.ndjson", 1)}
    any_windows = write_rule(tmp_path, "any_windows", {"product": "windows"}, CERTUTIL_SELECTION)
    assert ("sysmon.ndjson", 3) in matches(connection, any_windows)


def test_service_security_rule_skips_sysmon_rows(connection, rules: Path,
                                                 tmp_path: Path) -> None:
    rule = rules / "windows" / "security_urlcache_commandline.yml"
    assert matches(connection, rule) == {("security.ndjson", 1)}
    sysmon = write_rule(tmp_path, "sysmon_urlcache", {"product": "windows", "service": "sysmon"},
                        {"selection": {"CommandLine|contains": "urlcache"},
                         "condition": "selection"})
    assert matches(connection, sysmon) == {("sysmon.ndjson", 2), ("sysmon.ndjson", 3),
                                           ("sysmon.ndjson", 4)}


def test_security_4688_matches_through_the_field_map(connection, tmp_path: Path) -> None:
    rule = write_rule(tmp_path, "certutil_from_cmd",
                      {"product": "windows", "category": "process_creation"},
                      {"selection": {"Image|endswith": "\\certutil.exe",
                                     "ParentImage|endswith": "\\cmd.exe",
                                     "CommandLine|contains": "203.0.113.68"},
                       "condition": "selection"})
    assert route_labels(rule) == {"sysmon/process_creation", "security/4688"}
    # Only the 4688 event (NewProcessName, ParentProcessName) downloads from 203.0.113.68.
    assert matches(connection, rule) == {("security.ndjson", 1)}


def test_rule_with_fields_4688_lacks_is_not_run_on_4688(connection, rules: Path) -> None:
    # `Image|endswith certutil and not OriginalFileName: CertUtil.exe`: on 4688, which has no
    # OriginalFileName, the filter would be NULL and the rule would wrongly fire on DC01.
    rule = rules / "windows" / "proc_creation_certutil_not_original_name.yml"
    assert route_labels(rule) == {"sysmon/process_creation"}
    assert matches(connection, rule) == {("sysmon.ndjson", 2), ("sysmon.ndjson", 4)}


def test_defender_field_with_space_matches_sigma_name(connection, rules: Path) -> None:
    # The event holds "Threat Name"; Sigma writes ThreatName.
    assert matches(connection, rules / "windows" / "defender_threat_name.yml") == {
        ("defender.ndjson", 1)}


def test_security_channel_spelled_in_lower_case(tmp_path: Path, rules: Path) -> None:
    evidence = tmp_path / "nxlog.ndjson"
    evidence.write_text(json.dumps({
        "EventTime": "2024-03-01 13:00:00", "Hostname": "DC02.corp.example",
        "SourceName": "Microsoft-Windows-Security-Auditing", "EventID": 4625,
        "Channel": "security", "TargetUserName": "admin", "IpAddress": "198.51.100.23",
    }) + "\n", encoding="utf-8")
    with Case.open(tmp_path / "case", create=True) as case:
        Ingest(case).run([evidence])
        stored = case.connection.execute('SELECT "Channel", "EventID" FROM ev_windows_json')
        assert stored.fetchall() == [("security", "4625")]
        found = matches(case.connection, rules / "windows" / "security_failed_logon.yml")
    assert found == {("nxlog.ndjson", 1)}


# --- Linux --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("record_type", "expected"), [
    pytest.param("EXECVE", {("audit.log", 1)}, id="EXECVE-in-joined-event"),
    pytest.param("SYSCALL", {("audit.log", 1), ("audit.log", 6)}, id="SYSCALL"),
    pytest.param("SERVICE_STOP", {("audit.log", 9)}, id="single-record-SERVICE_STOP"),
])
def test_auditd_type_matches_the_record_types_of_an_event(connection, tmp_path: Path,
                                                          record_type: str,
                                                          expected: Matches) -> None:
    rule = write_rule(tmp_path, f"auditd_{record_type}", {"product": "linux",
                                                          "service": "auditd"},
                      {"selection": {"type": record_type}, "condition": "selection"})
    assert matches(connection, rule) == expected


def test_auditd_execve_rule_from_fixtures(connection, rules: Path) -> None:
    assert matches(connection, rules / "linux" / "auditd_execve_wget.yml") == {("audit.log", 1)}


def test_auditd_fields_of_the_joined_event(connection, tmp_path: Path) -> None:
    # The EXECVE record's arguments are fields of the joined event (control for the xfails).
    rule = write_rule(tmp_path, "auditd_a0", {"product": "linux", "service": "auditd"},
                      {"selection": {"a0": "wget", "a1|startswith": "http://"},
                       "condition": "selection"})
    assert matches(connection, rule) == {("audit.log", 1)}


def test_linux_process_creation_reads_auditd_execve_only(connection, rules: Path,
                                                         tmp_path: Path) -> None:
    assert matches(connection, rules / "linux" / "proc_creation_wget.yml") == {("audit.log", 1)}
    # The connect() event of the same process (record 6) has exe=/usr/bin/wget too.
    rule = write_rule(tmp_path, "wget_image", {"product": "linux",
                                               "category": "process_creation"},
                      {"selection": {"Image|endswith": "/wget"}, "condition": "selection"})
    assert matches(connection, rule) == {("audit.log", 1)}


def test_service_sshd_reads_syslog_rows_of_program_sshd(connection, rules: Path,
                                                       tmp_path: Path) -> None:
    # auth.log line 4 carries the same text from program `myapp`.
    assert matches(connection, rules / "linux" / "sshd_failed_password.yml") == {
        ("auth.log", 1), ("auth.log", 2)}
    any_program = write_rule(tmp_path, "syslog_failed", {"product": "linux",
                                                         "service": "syslog"},
                             {"keywords": ["Failed password"], "condition": "keywords"})
    assert matches(connection, any_program) == {("auth.log", 1), ("auth.log", 2),
                                                 ("auth.log", 4)}


def test_syslog_keyword_rule_matches_the_raw_line(connection, rules: Path) -> None:
    # "PWD=/home/alice ; USER=root" spans two of sudo's parsed fields: only the line has it.
    assert matches(connection, rules / "linux" / "syslog_raw_line.yml") == {("auth.log", 5)}


# --- cloud and network --------------------------------------------------------------------------


def test_cloudtrail_rules_on_dotted_fields(connection, rules: Path, tmp_path: Path) -> None:
    assert matches(connection, rules / "cloud" / "aws_root_console_login.yml") == {
        ("trail.ndjson", 1)}
    assert matches(connection, rules / "cloud" / "aws_create_user.yml") == {("trail.ndjson", 2)}
    iam = write_rule(tmp_path, "iam_user", {"product": "aws", "service": "cloudtrail"},
                     {"selection": {"userIdentity.type": "IAMUser",
                                    "userIdentity.accessKeyId|startswith": "AKIA"},
                      "condition": "selection"})
    assert matches(connection, iam) == {("trail.ndjson", 2), ("trail.ndjson", 3)}


def test_zeek_service_dns_reads_dns_rows_only(connection, rules: Path, tmp_path: Path) -> None:
    # conn.log's first row is also a connection to port 53.
    assert matches(connection, rules / "zeek" / "dns_to_port_53.yml") == {
        ("dns.log", 9), ("dns.log", 10)}
    any_zeek = write_rule(tmp_path, "zeek_53", {"product": "zeek"},
                          {"selection": {"id.resp_p": 53}, "condition": "selection"})
    assert matches(connection, any_zeek) == {("dns.log", 9), ("dns.log", 10), ("conn.log", 9)}
