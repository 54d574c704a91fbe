"""The custody log: ``custody/log.jsonl``, append-only, hash-chained and signed.

Each line is one entry, written as canonical JSON::

    {"seq", "time", "actor", "action", "path", "sha256", "size", "detail", "prev",
     "field_hashes", "hash", "signature"}

``hash`` is the SHA-256 of the canonical JSON of the entry without ``hash`` and
``signature``; ``prev`` is the previous entry's ``hash`` ("0" * 64 for the first);
``signature`` is Ed25519 (case key) over the 32 bytes of ``hash``, base64. ``field_hashes``
holds a short SHA-256 of each other field, so that verify can say *which* field of a changed
entry was edited. The first entry (``custody-opened``) names the public key.

Appends hold ``custody/log.lock`` (flock), check the whole hash chain and the last entry's
signature first (a tampered log is never extended), then write, flush and fsync.
``custody/log.head`` keeps the last sequence number, signed, so that cutting entries off the
end of the log is noticed.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import getpass
import json
import os
import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trailguard import __version__
from trailguard.custody.errors import CustodyError, LogTamperedError
from trailguard.custody.hashing import CHUNK_SIZE, FileDigest, canonical_json, hash_file, sha256_hex
from trailguard.custody.keys import (
    ALGORITHM,
    PUBLIC_KEY_FILE,
    CaseKey,
    custody_folder,
    load_or_create_key,
    public_key_from_raw,
    raw_public_bytes,
    signature_valid,
)
from trailguard.errors import SourceLocation

LOG_FILE = "log.jsonl"
LOCK_FILE = "log.lock"
HEAD_FILE = "log.head"
GENESIS_PREV = "0" * 64
OPENED = "custody-opened"
#: Fields covered by ``hash`` and by ``field_hashes``, in the order they are explained.
CONTENT_FIELDS = ("seq", "time", "actor", "action", "path", "sha256", "size", "detail", "prev")
SEALING_FIELDS = ("field_hashes", "hash", "signature")
_HEAD_DOMAIN = b"trailguard custody head\n"


def log_path(case_folder: Path) -> Path:
    return custody_folder(case_folder) / LOG_FILE


def head_path(case_folder: Path) -> Path:
    return custody_folder(case_folder) / HEAD_FILE


def default_actor() -> str:
    """``TRAILGUARD_ACTOR`` if set, else user@host."""
    if actor := os.environ.get("TRAILGUARD_ACTOR"):
        return actor
    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def logged_path(case_folder: Path, path: Path) -> str:
    """How the log names ``path``: relative to the case folder (POSIX) when inside it, else
    absolute."""
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(case_folder.resolve()).as_posix()
    except ValueError:
        return str(absolute)


def resolve_logged(case_folder: Path, text: str) -> Path:
    """The file a logged path names."""
    path = Path(text)
    return path if path.is_absolute() else case_folder.resolve() / path


def field_digest(value: Any) -> str:
    """Short SHA-256 of one field's canonical JSON (for locating an edit, not for security)."""
    return sha256_hex(canonical_json(value))[:16]


def entry_hash(entry: dict[str, Any]) -> str:
    """SHA-256 of the entry's canonical JSON without ``hash`` and ``signature``."""
    return sha256_hex(canonical_json({key: value for key, value in entry.items()
                                      if key not in ("hash", "signature")}))


def head_message(seq: int, hash_hex: str) -> bytes:
    return _HEAD_DOMAIN + f"{seq}:{hash_hex}".encode("ascii")


def file_detail(digest: FileDigest) -> dict[str, Any]:
    """What an entry keeps of a file besides its hash and size: the chunk hashes."""
    return {"chunk_size": digest.chunk_size, "chunks": list(digest.chunks)}


@dataclass(slots=True)
class EntryDraft:
    """An entry before it gets its place in the chain (seq, time, prev) and its seal."""

    action: str
    path: str | None = None
    sha256: str | None = None
    size: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LogLine:
    """One line of the log file as read: the entry, or why it could not be read."""

    number: int
    raw: bytes
    entry: dict[str, Any] | None
    error: str | None = None
    offset: int | None = None
    """Byte offset in the line where reading failed."""


def parse_line(number: int, raw: bytes) -> LogLine:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return LogLine(number, raw, None, f"not UTF-8 at byte {error.start}", error.start)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        offset = len(text[:error.pos].encode("utf-8"))
        return LogLine(number, raw, None, f"not JSON ({error.msg} at byte {offset})", offset)
    if not isinstance(value, dict):
        return LogLine(number, raw, None, "not a JSON object", 0)
    return LogLine(number, raw, value)


def read_lines(path: Path) -> list[LogLine]:
    """Every line of the log. A last line without its newline (a write cut short) is read
    with the error 'incomplete'. A missing log has no lines."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as error:
        raise CustodyError(f"cannot read the custody log: {error.strerror or error}",
                           SourceLocation(str(path))) from error
    pieces = data.split(b"\n")
    tail = pieces.pop()
    lines = [parse_line(number, raw) for number, raw in enumerate(pieces, start=1)]
    if tail:
        lines.append(LogLine(len(lines) + 1, tail, None, "incomplete (no end of line: a write "
                             "cut short, or bytes added)", len(tail)))
    return lines


def read_head(case_folder: Path) -> dict[str, Any] | None:
    """The signed head (last seq and hash) or None when there is none or it is unreadable."""
    try:
        value = json.loads(head_path(case_folder).read_bytes())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _seal(draft: EntryDraft, seq: int, prev: str, actor: str, key: CaseKey) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "seq": seq,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor": actor,
        "action": draft.action,
        "path": draft.path,
        "sha256": draft.sha256,
        "size": draft.size,
        "detail": draft.detail,
        "prev": prev,
    }
    entry["field_hashes"] = {name: field_digest(entry[name]) for name in CONTENT_FIELDS}
    entry["hash"] = entry_hash(entry)
    entry["signature"] = key.sign(bytes.fromhex(entry["hash"]))
    return entry


def _appendable_fault(lines: Sequence[LogLine], key: CaseKey, head: dict[str, Any] | None
                      ) -> str | None:
    """Why the log must not be extended (the first fault found), or None."""
    previous = GENESIS_PREV
    for expected_seq, line in enumerate(lines, start=1):
        entry = line.entry
        where = f"line {line.number}"
        if entry is None:
            return f"{where} is unreadable: {line.error}"
        if entry.get("seq") != expected_seq:
            return f"{where} has seq {entry.get('seq')!r}, expected {expected_seq}"
        if entry.get("prev") != previous:
            return f"{where} does not link to the entry before it"
        if entry_hash(entry) != entry.get("hash"):
            return f"{where} was changed after it was written (its hash does not match)"
        previous = str(entry["hash"])
    if not lines:
        return None
    first = lines[0].entry or {}
    try:
        logged_key = public_key_from_raw(str(first.get("detail", {}).get("public_key", "")))
    except (CustodyError, AttributeError):
        return "the first entry does not name the case public key"
    if raw_public_bytes(logged_key) != raw_public_bytes(key.public_key):
        return "the case key is not the key the log was started with (key replaced)"
    last = lines[-1].entry or {}
    if not signature_valid(key.public_key, str(last.get("signature")), bytes.fromhex(previous)):
        return f"the signature of the last entry (line {lines[-1].number}) is invalid"
    if head is not None and isinstance(head.get("seq"), int) and head["seq"] > len(lines):
        return (f"the log ends at seq {len(lines)} but its head says {head['seq']}: "
                "entries were removed from its end")
    return None


@contextlib.contextmanager
def _locked(case_folder: Path) -> Iterator[None]:
    folder = custody_folder(case_folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = (folder / LOCK_FILE).open("a+b")
    except OSError as error:
        raise CustodyError(f"cannot create the custody folder: {error.strerror or error}",
                           SourceLocation(str(folder))) from error
    with handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class LogAppender:
    """Appends to a case's custody log under its lock. Use ``open_for_append``."""

    def __init__(self, case_folder: Path, key: CaseKey, lines: list[LogLine], actor: str):
        self.case_folder = case_folder
        self.key = key
        self.actor = actor
        self.entries: list[dict[str, Any]] = [line.entry for line in lines
                                              if line.entry is not None]
        self.pending: list[dict[str, Any]] = []

    def append(self, draft: EntryDraft) -> dict[str, Any]:
        """Seal ``draft`` as the next entry; it is written when the appender closes."""
        previous = self.entries[-1]["hash"] if self.entries else GENESIS_PREV
        entry = _seal(draft, len(self.entries) + 1, previous, self.actor, self.key)
        self.entries.append(entry)
        self.pending.append(entry)
        return entry

    def write(self) -> None:
        """Write the pending entries in one append, flush and fsync, then the head."""
        if not self.pending:
            return
        path = log_path(self.case_folder)
        data = b"".join(canonical_json(entry) + b"\n" for entry in self.pending)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(descriptor, view):]
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
            self._write_head()
        except OSError as error:
            raise CustodyError(f"cannot write the custody log: {error.strerror or error}",
                               SourceLocation(str(path))) from error
        self.pending = []

    def _write_head(self) -> None:
        last = self.entries[-1]
        head = {"seq": last["seq"], "hash": last["hash"],
                "signature": self.key.sign(head_message(last["seq"], last["hash"]))}
        target = head_path(self.case_folder)
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        with temporary.open("wb") as handle:
            handle.write(canonical_json(head) + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)


@contextlib.contextmanager
def open_for_append(case_folder: Path, actor: str | None = None) -> Iterator[LogAppender]:
    """Hold the log's lock; yield an appender whose entries are written on a clean exit.

    Raises LogTamperedError when the log as found does not verify. A new log starts with a
    ``custody-opened`` entry naming the case public key.
    """
    case_folder = case_folder.resolve()
    with _locked(case_folder):
        key = load_or_create_key(case_folder)
        path = log_path(case_folder)
        lines = read_lines(path)
        fault = _appendable_fault(lines, key, read_head(case_folder))
        if fault is not None:
            raise LogTamperedError(f"refusing to append to a custody log that does not verify: "
                                   f"{fault}; run `trailguard evidence verify`",
                                   SourceLocation(str(path)))
        appender = LogAppender(case_folder, key, lines, actor or default_actor())
        if not lines:
            appender.append(_opening_draft(case_folder, key))
        yield appender
        appender.write()


def append_entries(case_folder: Path, drafts: Sequence[EntryDraft],
                   actor: str | None = None) -> list[dict[str, Any]]:
    """Append ``drafts`` as one atomic write; the entries as sealed."""
    with open_for_append(case_folder, actor) as appender:
        return [appender.append(draft) for draft in drafts]


def _opening_draft(case_folder: Path, key: CaseKey) -> EntryDraft:
    public_file = custody_folder(case_folder) / PUBLIC_KEY_FILE
    try:
        digest = hash_file(public_file, CHUNK_SIZE)
    except OSError as error:
        raise CustodyError(f"cannot read the case public key: {error.strerror or error}",
                           SourceLocation(str(public_file))) from error
    detail = {
        "algorithm": ALGORITHM,
        "public_key": base64.b64encode(raw_public_bytes(key.public_key)).decode("ascii"),
        "public_key_fingerprint": key.fingerprint,
        "trailguard_version": __version__,
        **file_detail(digest),
    }
    return EntryDraft(OPENED, logged_path(case_folder, public_file), digest.sha256,
                      digest.size, detail)
