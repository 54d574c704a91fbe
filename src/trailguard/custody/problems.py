"""What verify finds: problems, each saying where (file and byte range, or log entry and
field), and the report that gathers them."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

#: Problem kinds, for the log …
ENTRY_UNREADABLE = "entry-unreadable"
ENTRY_CHANGED = "entry-changed"
ENTRY_REMOVED = "entry-removed"
ENTRY_INSERTED = "entry-inserted"
ENTRIES_REORDERED = "entries-reordered"
CHAIN_BROKEN = "chain-broken"
SIGNATURE_INVALID = "signature-invalid"
LOG_TRUNCATED = "log-truncated"
LOG_MISSING = "log-missing"
HEAD_INVALID = "head-invalid"
#: … for the keys …
KEY_REPLACED = "key-replaced"
KEY_CHANGED = "key-changed"
#: … and for files.
FILE_CHANGED = "file-changed"
FILE_REMOVED = "file-removed"
FILE_ADDED = "file-added"
EVIDENCE_UNRECORDED = "evidence-unrecorded"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing that is not as the custody log says.

    ``path`` is the file concerned (as the log names it); ``seq`` the log entry (equal to
    its line number in an intact log); ``field`` the entry's field that was changed;
    ``offset_range`` the bytes [start, end) of the file, or of the log line, that differ.
    """

    kind: str
    detail: str
    path: str | None = None
    seq: int | None = None
    field: str | None = None
    offset_range: tuple[int, int] | None = None
    ranges: tuple[tuple[int, int], ...] = ()
    """Every differing byte range of a changed file (``offset_range`` is the first)."""

    def __str__(self) -> str:
        where = [self.path or "", f"seq {self.seq}" if self.seq is not None else "",
                 f"field {self.field}" if self.field else "",
                 f"bytes {self.offset_range[0]}-{self.offset_range[1]}"
                 if self.offset_range else ""]
        return f"{self.kind}: {', '.join(part for part in where if part)}: {self.detail}"


@dataclass(slots=True)
class VerifyReport:
    """The result of verifying a case's chain of custody."""

    case: str
    entries: int = 0
    files_checked: int = 0
    key_fingerprint: str | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "case": self.case, "entries": self.entries,
                "files_checked": self.files_checked, "key_fingerprint": self.key_fingerprint,
                "problems": [asdict(problem) for problem in self.problems]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)
