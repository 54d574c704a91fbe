"""What an ingest run reports: counts per source, problems per file, and progress."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from trailguard.ingest.base import clean_text
from trailguard.ingest.timeparse import to_iso


class Progress(Protocol):
    """What the pipeline reports while it runs (the CLI draws a progress bar from it)."""

    def start(self, roots: int, total_bytes: int) -> None: ...
    def root_done(self, size: int) -> None: ...
    def records(self, count: int) -> None: ...
    def note(self, text: str) -> None: ...


@dataclass
class SourceStats:
    files: int = 0
    records: int = 0
    stored: int = 0
    quarantined: int = 0
    duplicates: int = 0
    first: datetime | None = None
    last: datetime | None = None

    def widen(self, first: datetime | None, last: datetime | None) -> None:
        if first is not None and (self.first is None or first < self.first):
            self.first = first
        if last is not None and (self.last is None or last > self.last):
            self.last = last

    def to_json(self) -> dict[str, Any]:
        return {"files": self.files, "records": self.records, "stored": self.stored,
                "quarantined": self.quarantined, "duplicates": self.duplicates,
                "first": to_iso(self.first), "last": to_iso(self.last)}


@dataclass
class IngestReport:
    files: int = 0
    records: int = 0
    stored: int = 0
    quarantined: int = 0
    duplicates: int = 0
    sources: dict[str, SourceStats] = field(default_factory=dict)
    problems: list[dict[str, str]] = field(default_factory=list)
    """Per-file messages: unreadable, unrecognised, empty, truncated …"""

    def add(self, source: str, files: int, records: int, stored: int, quarantined: int,
            duplicates: int, first: datetime | None, last: datetime | None) -> None:
        stats = self.sources.setdefault(source, SourceStats())
        stats.files += files
        stats.records += records
        stats.stored += stored
        stats.quarantined += quarantined
        stats.duplicates += duplicates
        stats.widen(first, last)
        self.records += records
        self.stored += stored
        self.quarantined += quarantined
        self.duplicates += duplicates

    def problem(self, path: str, member: str, message: str) -> None:
        self.problems.append({"file": clean_text(path), "member": clean_text(member),
                              "message": clean_text(message)})

    @property
    def nothing_read(self) -> bool:
        return self.records == 0

    def to_json(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "records": self.records,
            "stored": self.stored,
            "quarantined": self.quarantined,
            "duplicates": self.duplicates,
            "sources": {name: stats.to_json() for name, stats in sorted(self.sources.items())},
            "problems": self.problems,
        }


class NoProgress:
    """Progress that shows nothing (library use, tests)."""

    def start(self, roots: int, total_bytes: int) -> None:
        pass

    def root_done(self, size: int) -> None:
        pass

    def records(self, count: int) -> None:
        pass

    def note(self, text: str) -> None:
        pass
