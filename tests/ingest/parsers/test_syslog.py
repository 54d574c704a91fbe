from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.ingest.parsers.conftest import Parsed
from trailguard.ingest.base import ParseContext, Record, Rejected
from trailguard.ingest.parsers import syslog
from trailguard.ingest.parsers.syslog import SyslogParser, extract, parse_header

ParseFn = Callable[..., Parsed]
SniffFn = Callable[..., str | None]


def _text(raw: str | bytes) -> str:
    """A record's raw text (parsers may hand it over as str or as UTF-8 bytes)."""
    return raw if isinstance(raw, str) else raw.decode("utf-8")

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "syslog"


def _events(parsed: Parsed) -> list[str | None]:
    return [record.data.get("event") for record in parsed.records]


def test_auth_log_events_and_normalised_view(parse: ParseFn) -> None:
    parsed = parse("syslog", (FIXTURES / "auth.log").read_bytes(), name="auth.log")
    assert len(parsed.records) == 25
    assert [(r.position, _text(r.raw).strip()) for r in parsed.rejected] == [
        (25, "Traceback (most recent call last):")]
    assert _events(parsed) == [
        "session_opened", "cron_command", "ssh_invalid_user", "ssh_failed", "ssh_accepted",
        "session_opened", "session_new", "sudo_command", "session_opened", "sudo_failed",
        "su_success", "session_opened", "user_created", "group_created", "user_group_added",
        "password_changed", "crontab_replace", "systemd_stopped", "systemd_started", "ssh_failed",
        "ssh_connection_closed", "pam_auth_failure", None, "user_deleted", None]
    by_event = {r.data.get("event"): r for r in parsed.records}

    accepted = by_event["ssh_accepted"]
    assert accepted.time == datetime(2024, 3, 1, 9, 59, 20)
    assert accepted.data["hostname"] == "web01"
    assert accepted.data["program"] == "sshd"
    assert accepted.data["pid"] == 3205
    assert accepted.data["auth_method"] == "publickey"
    assert accepted.data["key_type"] == "ED25519"
    assert accepted.data["key_fingerprint"].startswith("SHA256:")
    assert accepted.normal == {
        "operation": "ssh_accepted", "category": "authentication", "outcome": "success",
        "actor_user": "alice", "src_ip": "203.0.113.7", "src_port": 51022, "dst_ip": None,
        "dst_port": None, "host": "web01", "process_name": "sshd", "process_pid": 3205,
        "process_cmdline": None, "process_user": None, "resource": None,
        "log_name": "sshd", "message": accepted.data["message"]}

    failed = parsed.records[3]
    assert failed.data["invalid_user"] is True
    assert failed.normal["outcome"] == "failure"
    assert failed.normal["actor_user"] == "oracle"

    sudo = by_event["sudo_command"]
    assert sudo.data["user"] == "alice"
    assert sudo.data["tty"] == "pts/1"
    assert sudo.data["pwd"] == "/home/alice"
    assert sudo.data["target_user"] == "root"
    assert sudo.data["command"] == "/usr/bin/cat /etc/shadow"
    assert sudo.normal["process_cmdline"] == "/usr/bin/cat /etc/shadow"
    assert sudo.normal["process_user"] == "root"
    assert sudo.normal["category"] == "process"

    sudo_failed = by_event["sudo_failed"]
    assert sudo_failed.data["reason"] == "3 incorrect password attempts"
    assert sudo_failed.normal["outcome"] == "failure"

    cron = by_event["cron_command"]
    assert cron.data["user"] == "root"
    assert cron.data["command"] == "cd / && run-parts --report /etc/cron.hourly"

    useradd = by_event["user_created"]
    assert (useradd.data["user"], useradd.data["uid"], useradd.data["shell"]) == (
        "backup2", 1002, "/bin/bash")
    assert useradd.normal["resource"] == "backup2"
    assert useradd.normal["actor_user"] is None
    assert by_event["user_group_added"].data["group"] == "sudo"
    assert by_event["password_changed"].data["user"] == "backup2"
    assert by_event["systemd_stopped"].data["unit"] == "ufw.service"
    assert by_event["systemd_stopped"].data["description"] == "Uncomplicated firewall"

    su_session = parsed.records[11]
    assert su_session.data["pam_service"] == "su-l"
    assert su_session.normal["actor_user"] == "alice"
    assert su_session.normal["process_user"] == "root"

    repeated = parsed.records[19]
    assert repeated.data["repeat_count"] == 3
    assert repeated.data["src_ip"] == "192.0.2.77"

    pam = by_event["pam_auth_failure"]
    assert (pam.data["rhost"], pam.data["user"], pam.data["uid"]) == ("192.0.2.77", "root", 0)
    assert pam.normal["src_ip"] == "192.0.2.77"

    unknown = parsed.records[-1]
    assert unknown.data["program"] == "dhclient"
    assert unknown.normal["operation"] == "dhclient"
    assert unknown.normal["category"] is None


def test_rfc5424_header_structured_data_and_bom(parse: ParseFn) -> None:
    parsed = parse("syslog", (FIXTURES / "rfc5424.log").read_bytes(), name="remote.log")
    assert not parsed.rejected
    first, second, third, fourth, fifth = parsed.records
    assert first.data["pri"] == 34
    assert (first.data["facility"], first.data["severity"]) == ("auth", "crit")
    assert first.data["version"] == 1
    assert first.data["msgid"] == "ID47"
    assert "pid" not in first.data
    assert first.data["message"] == "'su root' failed for lonvick on /dev/pts/8"
    assert first.data["event"] == "su_failed"
    assert first.time == datetime(2003, 10, 11, 22, 14, 15, 3000)
    assert second.time == datetime(2003, 8, 24, 12, 14, 15, 3)
    assert second.data["pid"] == 8710
    assert third.data["structured_data"] == {
        "exampleSDID@32473": {"iut": "3", "eventSource": "Application", "eventID": "1011"}}
    assert third.data["message"] == "An application event log entry..."
    assert fourth.data["structured_data"]["examplePriority@32473"] == {
        "class": "high", "note": 'a "quoted" ] value'}
    assert fourth.data["message"] == ""
    assert fifth.data["event"] == "ssh_accepted"
    assert fifth.normal["process_pid"] == 3205


def test_iso_timestamps_and_pri_before_them(parse: ParseFn) -> None:
    parsed = parse("syslog", (FIXTURES / "rsyslog_iso.log").read_bytes())
    assert not parsed.rejected
    times = [r.time for r in parsed.records]
    assert times == [datetime(2024, 3, 1, 9, 0, 3, 123456), datetime(2024, 3, 1, 10, 0, 4),
                     datetime(2024, 3, 1, 10, 0, 5), datetime(2024, 3, 1, 10, 0, 6)]
    cron = parsed.records[2]
    assert (cron.data["facility"], cron.data["severity"]) == ("cron", "info")
    assert cron.data["user"] == "www-data"
    assert parsed.records[1].data["command"] == "/usr/bin/id"


def test_year_comes_from_reference_year_and_rolls_over(parse: ParseFn) -> None:
    data = (b"Dec 31 23:59:58 h sshd[1]: Connection closed by 192.0.2.1 port 5 [preauth]\n"
            b"Jan  1 00:00:01 h sshd[2]: Connection closed by 192.0.2.1 port 6 [preauth]\n")
    parsed = parse("syslog", data, reference_year=2023)
    assert [r.time for r in parsed.records] == [datetime(2023, 12, 31, 23, 59, 58),
                                                datetime(2024, 1, 1, 0, 0, 1)]
    parsed = parse("syslog", data[:80], reference_year=None)
    now = datetime.now(UTC).replace(tzinfo=None)
    assert parsed.records[0].time is not None
    assert parsed.records[0].time.year in (now.year, now.year - 1)
    assert parsed.records[0].time <= now + timedelta(days=2)


def test_a_year_that_would_put_the_log_in_the_future_steps_back(
        parse: ParseFn, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(syslog, "_now", lambda: datetime(2026, 11, 30, tzinfo=UTC))
    december = b"Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user a from 192.0.2.1\n"
    november = b"Nov 29 06:55:46 LabSZ sshd[24200]: Invalid user a from 192.0.2.1\n"
    assert parse("syslog", december, reference_year=2026).records[0].time == datetime(
        2025, 12, 10, 6, 55, 46)
    assert parse("syslog", november, reference_year=2026).records[0].time == datetime(
        2026, 11, 29, 6, 55, 46)
    assert parse("syslog", december, reference_year=2024).records[0].time == datetime(
        2024, 12, 10, 6, 55, 46)


def test_lines_that_are_not_syslog_are_rejected_with_a_reason(parse: ParseFn) -> None:
    data = b'{"json": 1}\n<999>Mar  1 10:00:00 h x: y\nFeb 30 10:00:00 h x: impossible date\n\n'
    parsed = parse("syslog", data)
    assert [r.position for r in parsed.rejected] == [1, 2]
    assert all("not a syslog line" in r.reason for r in parsed.rejected)
    assert len(parsed.records) == 1  # Feb 30: still a syslog line, just without a valid time
    assert parsed.records[0].time is None


def test_header_without_hostname_and_tags_with_spaces() -> None:
    header = parse_header("Jul 27 14:41:57 kernel: audit(1122475266.4294965305:0): initialized")
    assert header is not None
    assert header["program"] == "kernel"
    assert "hostname" not in header
    header = parse_header("Jul  7 08:06:15 combo  -- root[2421]: ROOT LOGIN ON tty2")
    assert header is not None
    assert (header["hostname"], header["program"], header["pid"]) == (
        "combo", "-- root", 2421)
    header = parse_header("Jun 19 04:09:11 combo syslogd 1.4.1: restart.")
    assert header is not None
    assert header["program"] == "syslogd 1.4.1"
    header = parse_header("Jun 19 04:09:11 combo last message repeated 2 times")
    assert header is not None
    assert "program" not in header
    assert header["message"] == "last message repeated 2 times"


@pytest.mark.parametrize(("program", "message", "expected"), [
    ("sshd", "Disconnecting: Too many authentication failures for admin [preauth]",
     {"event": "ssh_too_many_failures", "user": "admin"}),
    ("sshd", "Received disconnect from 52.80.34.196: 11: Bye Bye [preauth]",
     {"event": "ssh_disconnect", "src_ip": "52.80.34.196", "disconnect_code": 11,
      "reason": "Bye Bye"}),
    ("sshd", "Connection from 198.51.100.4 port 50022 on 10.0.0.5 port 22 rdomain \"\"",
     {"event": "ssh_connection", "src_ip": "198.51.100.4", "src_port": 50022,
      "dst_ip": "10.0.0.5", "dst_port": 22}),
    ("sshd", "Server listening on :: port 22.",
     {"event": "ssh_listening", "dst_ip": "::", "dst_port": 22}),
    ("sudo", "  eve : user NOT in sudoers ; TTY=pts/3 ; PWD=/tmp ; USER=root ; COMMAND=/bin/sh",
     {"event": "sudo_denied", "user": "eve", "reason": "user NOT in sudoers",
      "command": "/bin/sh"}),
    ("su", "FAILED su for root by mallory",
     {"event": "su_failed", "user": "mallory", "target_user": "root"}),
    ("gpasswd", "user eve added by root to group docker",
     {"event": "user_group_added", "user": "eve", "group": "docker", "by_user": "root"}),
    ("groupdel", "group 'backup2' removed from /etc/group",
     {"event": "group_deleted", "group": "backup2"}),
    ("CROND", "(root) CMD (run-parts /etc/cron.hourly)",
     {"event": "cron_command", "user": "root", "command": "run-parts /etc/cron.hourly"}),
    ("systemd", "nginx.service: Failed with result 'exit-code'.",
     {"event": "systemd_failed", "unit": "nginx.service"}),
    ("login", "FAILED LOGIN (1) on '/dev/tty1' FOR 'UNKNOWN', Authentication failure",
     {"event": "login_failed", "user": "UNKNOWN", "tty": "/dev/tty1"}),
    ("sshd(pam_unix)", "session opened for user test by (uid=508)",
     {"event": "session_opened", "user": "test", "by_uid": 508, "pam_service": "sshd"}),
])
def test_extractors(program: str, message: str, expected: dict[str, object]) -> None:
    fields = extract(program, message)
    assert {key: fields.get(key) for key in expected} == expected


# --- Public data: loghub OpenSSH_2k and Linux_2k with their structured CSV oracles -----------

#: loghub OpenSSH template → the event kind every line of it must get.
OPENSSH_EVENTS = {
    "E1": "ssh_accepted", "E2": "ssh_connection_closed", "E3": "ssh_no_identification",
    "E4": "ssh_too_many_failures", "E5": "ssh_too_many_failures", "E6": "ssh_disconnect",
    "E7": "ssh_disconnect", "E8": "ssh_failed", "E9": "ssh_failed", "E10": "ssh_failed",
    "E11": None, "E12": "ssh_invalid_user_request", "E13": "ssh_invalid_user",
    "E14": "ssh_failed", "E15": "pam_more_failures", "E16": "pam_more_failures",
    "E17": "pam_more_failures", "E18": "pam_max_retries", "E19": "pam_auth_failure",
    "E20": "pam_auth_failure", "E21": "pam_user_unknown", "E22": "session_closed",
    "E23": "session_opened", "E24": "ssh_disconnect", "E25": "ssh_disconnect",
    "E26": "ssh_disconnect", "E27": "ssh_reverse_mapping_failed",
}


def _oracle(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _day_and_clock(record: Record) -> tuple[str, str, str]:
    month, day, clock = record.data["timestamp"].split()
    return month, day, clock


def test_loghub_openssh_every_line_matches_the_oracle(parse: ParseFn, shared_data: Path) -> None:
    path = shared_data / "loghub" / "OpenSSH" / "OpenSSH_2k.log"
    rows = _oracle(path.with_name("OpenSSH_2k.log_structured.csv"))
    parsed = parse("syslog", path.read_bytes(), name=path.name, reference_year=2024)
    assert len(rows) == 2000
    assert len(parsed.records) == len(rows)
    assert not parsed.rejected
    events: Counter[str | None] = Counter()
    for record, row in zip(parsed.records, rows, strict=True):
        assert record.position == int(row["LineId"])
        assert _day_and_clock(record) == (row["Date"], row["Day"], row["Time"])
        assert record.data["hostname"] == row["Component"]
        assert record.data["program"] == "sshd"
        assert str(record.data["pid"]) == row["Pid"]
        assert record.data["message"] == row["Content"].rstrip()
        assert record.time is not None
        assert record.time.year == 2024
        assert record.data.get("event") == OPENSSH_EVENTS[row["EventId"]], row
        events[record.data.get("event")] += 1
        if row["EventId"] in ("E1", "E9", "E10"):
            assert record.data["src_ip"] == record.normal["src_ip"]
            assert record.data["auth_method"] == "password"
            assert isinstance(record.normal["src_port"], int)
            assert row["Content"].split(" for ", 1)[1].startswith(
                ("invalid user " if row["EventId"] == "E10" else "") + record.data["user"])
    # 520 "Failed password" lines (383 + 135 + 2 "message repeated") plus 4 "Failed none".
    assert sum(1 for line in path.read_text().splitlines() if "Failed password" in line) == 520
    assert events["ssh_failed"] == 524
    assert events["ssh_invalid_user"] == 113
    assert events["ssh_accepted"] == 1
    accepted = next(r for r in parsed.records if r.data.get("event") == "ssh_accepted")
    assert (accepted.data["user"], accepted.data["src_ip"], accepted.data["src_port"]) == (
        "fztu", "119.137.62.142", 49116)
    from_brute_forcer = [r for r in parsed.records if r.normal["src_ip"] == "183.62.140.253"]
    assert len(from_brute_forcer) > 400


def test_loghub_linux_every_line_matches_the_oracle(parse: ParseFn, shared_data: Path) -> None:
    path = shared_data / "loghub" / "Linux" / "Linux_2k.log"
    rows = _oracle(path.with_name("Linux_2k.log_structured.csv"))
    parsed = parse("syslog", path.read_bytes(), name="messages", reference_year=2005)
    assert len(parsed.records) == len(rows) == 2000
    assert not parsed.rejected
    events: Counter[str | None] = Counter()
    for record, row in zip(parsed.records, rows, strict=True):
        assert _day_and_clock(record) == (row["Month"], row["Date"], row["Time"])
        assert record.data["hostname"] == row["Level"]  # loghub's "Level" column is the host
        assert record.data.get("program") == row["Component"]
        assert str(record.data.get("pid", "")) == row["PID"]
        assert record.data["message"] == row["Content"].rstrip()
        events[record.data.get("event")] += 1
        template = row["EventTemplate"]
        if template.startswith("authentication failure;"):
            assert record.data["event"] == "pam_auth_failure"
            assert record.normal["outcome"] == "failure"
        elif template.startswith("session opened for user"):
            assert record.data["event"] == "session_opened"
            assert record.data["user"] == row["Content"].split()[4]
        elif template.startswith("check pass; user unknown"):
            assert record.data["event"] == "pam_user_unknown"
    assert events["pam_auth_failure"] == sum(
        1 for row in rows if row["Content"].startswith("authentication failure;"))
    assert events["pam_auth_failure"] == 490
    assert events["login_root"] == 1
    assert parsed.records[-1].time is not None
    assert parsed.records[-1].time.year == 2005


# --- Sniffing ---------------------------------------------------------------------------------




@pytest.mark.parametrize("sample", [
    b'{"eventVersion": "1.08", "eventSource": "iam.amazonaws.com", "eventName": "X"}\n',
    b'type=SYSCALL msg=audit(1604994496.155:92733): arch=c000003e syscall=59 success=yes\n',
    b'203.0.113.7 - - [01/Mar/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 12 "-" "curl/8"\n',
    b"#separator \\x09\n#fields\tts\tuid\n1709287200.0\tCabc\n",
    b"2024-03-01 09:15:02 W3SVC1 WEB01 10.0.5.13 GET /owa/auth/x.js - 443 - 198.51.100.4 "
    b"HTTP/1.1 Mozilla/5.0 - - mail.example.com 200 0 0 1234 410 15\n",
    b"2024-03-01T10:00:00Z,alice,ConsoleLogin\n",
    b"#1709287200\nsudo -i\n#1709287260\nid\n",
    b"ls -la\ncd /tmp\n",
])
def test_other_formats_are_not_claimed(sample: bytes) -> None:
    assert SyslogParser.sniff(sample, "evidence.log") == 0


def test_sniff_loghub_files(sniff: SniffFn, shared_data: Path) -> None:
    for path in (shared_data / "loghub" / "OpenSSH" / "OpenSSH_2k.log",
                 shared_data / "loghub" / "Linux" / "Linux_2k.log"):
        assert sniff(path.read_bytes()[:65536], path.name) == "syslog"


# --- Hostile input ----------------------------------------------------------------------------


def _run(data: bytes) -> list[Record | Rejected]:
    return list(SyslogParser().parse(io.BytesIO(data), ParseContext("x", reference_year=2024)))


def _check(items: list[Record | Rejected]) -> None:
    for item in items:
        assert isinstance(item, Record | Rejected)
        assert item.position > 0


@settings(max_examples=80, deadline=None)
@given(st.lists(st.text(max_size=160), max_size=12),
       st.sampled_from(["", "Mar  1 10:00:00 h sshd[1]: ", "<13>1 2024-03-01T10:00:00Z h a - - ",
                        "Dec 31 23:59:59 h sudo: ", "2024-03-01T10:00:00Z h su[2]: "]))
def test_random_messages_never_raise(lines: list[str], prefix: str) -> None:
    data = "\n".join(prefix + line for line in lines).encode()
    items = _run(data)
    _check(items)
    non_blank = [line for line in data.split(b"\n")
                 if line.decode("utf-8", "backslashreplace").strip()]
    assert len(items) == len(non_blank)


@settings(max_examples=50, deadline=None)
@given(st.floats(0, 1))
def test_truncated_fixture_never_raises(fraction: float) -> None:
    data = (FIXTURES / "auth.log").read_bytes()
    _check(_run(data[: int(len(data) * fraction)]))


def test_openssh_98_sshd_session_lines_are_decoded_like_sshd(parse: ParseFn) -> None:
    """OpenSSH 9.8 moved per-connection logging to `sshd-session` (and `sshd-auth`)."""
    lines = (b"Oct 10 10:00:00 web01 sshd-session[100]: Failed password for root from "
             b"192.0.2.9 port 4000 ssh2\n"
             b"Oct 10 10:00:05 web01 sshd-auth[101]: Accepted publickey for deploy from "
             b"192.0.2.10 port 4001 ssh2: ED25519 SHA256:abc\n")
    parsed = parse("syslog", lines, name="auth.log")
    assert [(r.data["event"], r.data["src_ip"]) for r in parsed.records] == [
        ("ssh_failed", "192.0.2.9"), ("ssh_accepted", "192.0.2.10")]
