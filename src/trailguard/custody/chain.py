"""Checking the custody log's chain: hashes, links, sequence numbers, signatures, head.

The first broken entry is diagnosed as precisely as possible (which line, which field, or
which entries were removed, inserted or reordered); entries after it are still checked on
their own (hash and signature), so that several edits are all found.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from trailguard.custody import problems as kinds
from trailguard.custody.errors import CustodyError
from trailguard.custody.keys import fingerprint, public_key_from_raw, signature_valid
from trailguard.custody.log import (
    CONTENT_FIELDS,
    GENESIS_PREV,
    SEALING_FIELDS,
    LogLine,
    entry_hash,
    field_digest,
    head_message,
)
from trailguard.custody.problems import Problem

_ALL_FIELDS = frozenset(CONTENT_FIELDS + SEALING_FIELDS)


@dataclass(frozen=True, slots=True)
class _Facts:
    """What holds for one entry, each check on its own."""

    content_ok: bool  # its hash is the hash of its content
    signed_ok: bool  # its signature is valid for its hash
    linked_ok: bool  # its prev is the stored hash of the line before it
    seq_ok: bool  # its seq is its line number

    @property
    def ok(self) -> bool:
        return self.content_ok and self.signed_ok and self.linked_ok and self.seq_ok


def logged_key(lines: Sequence[LogLine]) -> Ed25519PublicKey | None:
    """The public key named by the log's first entry, if it can be read."""
    first = lines[0].entry if lines else None
    detail = first.get("detail") if first else None
    if not isinstance(detail, dict):
        return None
    try:
        return public_key_from_raw(str(detail.get("public_key", "")))
    except CustodyError:
        return None


def check_chain(lines: Sequence[LogLine], key: Ed25519PublicKey | None) -> list[Problem]:
    """Problems of the log's chain, checked with ``key`` (None: signatures are reported as
    unverifiable once)."""
    found: list[Problem] = []
    if key is None and lines:
        found.append(Problem(kinds.SIGNATURE_INVALID, "the first entry does not name a "
                             "readable public key: no signature can be checked", seq=1,
                             field="detail"))
    previous_hash = GENESIS_PREV
    broken = False
    for index, line in enumerate(lines):
        entry = line.entry
        expected_seq = index + 1
        if entry is None:
            found.append(_unreadable(line))
            broken = True
            previous_hash = ""
            continue
        facts = _facts(entry, expected_seq, previous_hash, key)
        previous_hash = str(entry.get("hash"))
        if facts.ok:
            continue
        if not broken:
            found.append(_diagnose(lines, index, facts, key))
            broken = True
        elif not (facts.content_ok and facts.signed_ok):
            # After the first break links are not trusted; the entry's own seal still is.
            found.append(_changed_entry(line, entry, key) if not facts.content_ok else
                         Problem(kinds.SIGNATURE_INVALID, "the signature does not match the "
                                 "entry", seq=line.number, field="signature"))
    return found


def check_head(head: dict[str, Any] | None, lines: Sequence[LogLine],
               key: Ed25519PublicKey | None) -> list[Problem]:
    """The signed head says how long the log was: entries cut off its end are found here."""
    if not lines:
        return []
    if head is None:
        return [Problem(kinds.HEAD_INVALID, "custody/log.head is missing or unreadable: "
                        "entries removed from the end of the log cannot be ruled out",
                        path="custody/log.head")]
    seq, hash_hex = head.get("seq"), head.get("hash")
    if not isinstance(seq, int) or not isinstance(hash_hex, str) or (
            key is not None and not _head_signed(key, seq, hash_hex, head.get("signature"))):
        return [Problem(kinds.HEAD_INVALID, "custody/log.head is not signed by the case key",
                        path="custody/log.head")]
    if seq > len(lines):
        return [Problem(kinds.LOG_TRUNCATED, f"the log ends at line {len(lines)} but was "
                        f"{seq} entries long: entries {len(lines) + 1}-{seq} were removed",
                        seq=len(lines) + 1)]
    at_head = lines[seq - 1].entry if seq >= 1 else None
    if at_head is None or at_head.get("hash") != hash_hex:
        return [Problem(kinds.HEAD_INVALID, f"entry {seq} is not the entry the head recorded",
                        path="custody/log.head", seq=seq)]
    return []


def _head_signed(key: Ed25519PublicKey, seq: int, hash_hex: str, signature: Any) -> bool:
    try:
        message = head_message(seq, hash_hex)
    except UnicodeEncodeError:
        return False
    return signature_valid(key, str(signature), message)


def _facts(entry: dict[str, Any], expected_seq: int, previous_hash: str,
           key: Ed25519PublicKey | None) -> _Facts:
    stored = entry.get("hash")
    content_ok = entry_hash(entry) == stored
    return _Facts(content_ok=content_ok,
                  signed_ok=key is None or _signed(key, entry),
                  linked_ok=entry.get("prev") == previous_hash,
                  seq_ok=type(entry.get("seq")) is int and entry.get("seq") == expected_seq)


def _signed(key: Ed25519PublicKey, entry: dict[str, Any]) -> bool:
    stored = entry.get("hash")
    try:
        message = bytes.fromhex(str(stored))
    except ValueError:
        return False
    return len(message) == 32 and signature_valid(key, str(entry.get("signature")), message)


def _diagnose(lines: Sequence[LogLine], index: int, facts: _Facts,
              key: Ed25519PublicKey | None) -> Problem:
    """Say what is wrong with the first broken entry."""
    line = lines[index]
    entry = line.entry or {}
    expected_seq = index + 1
    previous = lines[index - 1].entry if index > 0 else None
    previous_hash = str(previous.get("hash")) if previous else GENESIS_PREV
    following = lines[index + 1].entry if index + 1 < len(lines) else None
    authentic = facts.content_ok and facts.signed_ok
    if not authentic and following is not None and following.get("seq") == expected_seq \
            and following.get("prev") == previous_hash:
        return Problem(kinds.ENTRY_INSERTED, f"line {line.number} was inserted: the entry "
                       f"after it continues the chain from seq {expected_seq - 1}",
                       seq=expected_seq, offset_range=(0, len(line.raw)))
    if not facts.content_ok:
        return _changed_entry(line, entry, key)
    if not facts.signed_ok:
        return Problem(kinds.SIGNATURE_INVALID, f"line {line.number}: the signature does not "
                       "match the entry (forged, or signed with another key)",
                       seq=line.number, field="signature")
    seq = entry.get("seq")
    if isinstance(seq, int) and seq > expected_seq:
        later = any((other.entry or {}).get("seq") == expected_seq
                    for other in lines[index + 1:])
        if later:
            return Problem(kinds.ENTRIES_REORDERED, f"line {line.number} holds seq {seq}; "
                           f"seq {expected_seq} comes later in the file", seq=expected_seq)
        missing = (f"seq {expected_seq}" if seq == expected_seq + 1
                   else f"seq {expected_seq}-{seq - 1}")
        return Problem(kinds.ENTRY_REMOVED, f"{missing} removed: line {line.number} holds "
                       f"seq {seq} and links to an entry that is not in the log",
                       seq=expected_seq)
    if isinstance(seq, int) and seq < expected_seq:
        copies = [other.number for other in lines[:index]
                  if (other.entry or {}).get("hash") == entry.get("hash")]
        if copies:
            return Problem(kinds.ENTRY_INSERTED, f"line {line.number} is a copy of line "
                           f"{copies[0]}", seq=expected_seq)
        return Problem(kinds.ENTRIES_REORDERED, f"line {line.number} holds seq {seq}, "
                       f"after seq {expected_seq - 1}", seq=expected_seq)
    return Problem(kinds.CHAIN_BROKEN, f"line {line.number} does not link to the entry "
                   "before it", seq=expected_seq, field="prev")


def _changed_entry(line: LogLine, entry: dict[str, Any],
                   key: Ed25519PublicKey | None) -> Problem:
    """An entry whose hash does not match its content: find the field that was edited."""
    number = line.number
    missing = sorted(_ALL_FIELDS - set(entry))
    extra = sorted(set(entry) - _ALL_FIELDS)
    if missing or extra:
        name = missing[0] if missing else extra[0]
        return Problem(kinds.ENTRY_CHANGED, f"line {number}: fields missing {missing}, "
                       f"unknown {extra}", seq=number, field=name)
    stored_hashes = entry.get("field_hashes")
    if not isinstance(stored_hashes, dict):
        return Problem(kinds.ENTRY_CHANGED, f"line {number}: field_hashes is not an object",
                       seq=number, field="field_hashes")
    if set(stored_hashes) != set(CONTENT_FIELDS):
        return Problem(kinds.ENTRY_CHANGED, f"line {number}: the names in field_hashes were "
                       "edited", seq=number, field="field_hashes")
    differing = [name for name in CONTENT_FIELDS
                 if field_digest(entry.get(name)) != stored_hashes.get(name)]
    if not differing:
        if key is not None and _signed(key, {**entry, "hash": entry_hash(entry)}):
            return Problem(kinds.ENTRY_CHANGED, f"line {number}: the hash field was edited "
                           "(the content still matches its signature)", seq=number,
                           field="hash")
        return Problem(kinds.ENTRY_CHANGED, f"line {number}: the hash does not match the "
                       "content", seq=number, field="hash")
    name = differing[0]
    restored = {**entry, "field_hashes": {**stored_hashes, name: field_digest(entry.get(name))}}
    if len(differing) == 1 and entry_hash(restored) == entry.get("hash"):
        return Problem(kinds.ENTRY_CHANGED, f"line {number}: the short hash of {name!r} in "
                       "field_hashes was edited", seq=number, field="field_hashes")
    fields = ", ".join(differing)
    return Problem(kinds.ENTRY_CHANGED, f"line {number}: {fields} changed after the entry "
                   "was written", seq=number, field=name)


def _unreadable(line: LogLine) -> Problem:
    offset = line.offset if line.offset is not None else 0
    name = field_at(line.raw, offset)
    return Problem(kinds.ENTRY_UNREADABLE, f"line {line.number} cannot be read: {line.error}",
                   seq=line.number, field=name,
                   offset_range=(offset, offset + 1))


def field_at(raw: bytes, offset: int) -> str | None:
    """The top-level field of a (possibly damaged) JSON object line that ``offset`` falls in:
    the last key that starts at or before it."""
    depth = 0
    in_string = escaped = False
    start = 0
    current: str | None = None
    for position, byte in enumerate(raw):
        if position > offset and current is not None:
            break
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
                if depth == 1 and raw[position + 1:position + 2] == b":":
                    name = raw[start + 1:position].decode("utf-8", "replace")
                    if position <= offset or current is None:
                        current = name
            continue
        if byte == 0x22:
            in_string, start = True, position
        elif byte in b"{[":
            depth += 1
        elif byte in b"}]":
            depth -= 1
    return current


def key_fingerprint(key: Ed25519PublicKey | None) -> str | None:
    return None if key is None else fingerprint(key)
