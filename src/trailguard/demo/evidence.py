"""Evidence streams: what the generators add, and how it is written to disk, a day at a time.

Every generator adds items (a time, a payload, and the attack step it belongs to, or None for
benign activity) to a stream; a stream writes its items in time order, in the file layout of
its format, and tells the :class:`Recorder` the record number each item got, which is what the
ingest will call the record (a line number, an audit event's first line, an array element). So
the ground truth names the very records the case holds.

Items are kept per day and a day is written once every generator has added to it, so memory
holds about one day of evidence whatever the number of days.
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from trailguard.demo.clock import DAY, MINUTE, compact, date_parts

#: A writer's view of one item: the lines it becomes and which of them is the record's position.
Rendered = tuple[list[str], int]


class Writer(Protocol):
    """An open output file (plain or gzip)."""

    def write(self, data: bytes, /) -> int: ...

    def close(self) -> None: ...


class Block(Protocol):
    """A payload rendered only when written (it needs counters kept in time order)."""

    def render(self, context: Any, time: int) -> Rendered: ...


@dataclass(slots=True)
class Item:
    time: int
    seq: int
    payload: Any
    step: str | None


@dataclass
class FileStats:
    path: str
    source_type: str
    records: int = 0
    attack: int = 0


@dataclass
class Evidence:
    """One piece of evidence for a step: where the record is, and what it is."""

    step: str
    file: str
    source_type: str
    record: int
    time: int
    event_id: str | None = None


@dataclass
class Recorder:
    """Collects, while files are written, what the ground truth needs."""

    root: Path
    files: dict[str, FileStats] = field(default_factory=dict)
    evidence: list[Evidence] = field(default_factory=list)

    def record(self, path: str, source_type: str, number: int, item: Item,
               event_id: str | None = None) -> None:
        stats = self.files.get(path)
        if stats is None:
            stats = self.files[path] = FileStats(path, source_type)
        stats.records += 1
        if item.step is not None:
            stats.attack += 1
            self.evidence.append(Evidence(item.step, path, source_type, number, item.time,
                                          event_id))


_SEQ = itertools.count()


class Stream(ABC):
    """Items of one evidence source, written day by day in time order."""

    source_type: str

    def __init__(self, start: int, end: int) -> None:
        self.start = start
        self.end = end
        self.days: dict[int, list[Item]] = defaultdict(list)
        self.flushed = -1

    def add(self, time: int, payload: Any, step: str | None) -> None:
        """Add an item; items outside the evidence window are not part of the evidence."""
        if not self.start <= time < self.end:
            return
        day = (time - self.start) // DAY
        if day <= self.flushed:
            raise RuntimeError(f"{type(self).__name__}: day {day} was already written")
        self.days[day].append(Item(time, next(_SEQ), payload, step))

    def take(self, day: int) -> list[Item]:
        self.flushed = day
        items = self.days.pop(day, [])
        items.sort(key=lambda item: (item.time, item.seq))
        return items

    @abstractmethod
    def flush(self, day: int, recorder: Recorder) -> None:
        """Write the items of ``day`` (all days before it are written)."""

    def close(self) -> None:
        """Finish writing (files kept open across days are closed); unwritten items go."""
        self.days.clear()


class LineStream(Stream):
    """A text log: one file, or one file per day (rotated, the older ones compressed).

    A payload is a ready line (``str``) or a :class:`Block` rendered with ``context``.
    """

    def __init__(self, start: int, end: int, source_type: str, root: Path,
                 path_of_day: Callable[[int], str], context: Any = None) -> None:
        super().__init__(start, end)
        self.source_type = source_type
        self.root = root
        self.path_of_day = path_of_day
        self.context = context
        self.handles: dict[str, Writer] = {}
        self._raw: dict[str, Writer] = {}
        self.lines: dict[str, int] = defaultdict(int)

    def _handle(self, path: str) -> Writer:
        handle = self.handles.get(path)
        if handle is not None:
            return handle
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        raw = target.open("wb")
        if path.endswith(".gz"):
            self._raw[path] = raw
            compressed = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                                       compresslevel=6)
            self.handles[path] = compressed
            return compressed
        self.handles[path] = raw
        return raw

    def flush(self, day: int, recorder: Recorder) -> None:
        items = self.take(day)
        path = self.path_of_day(day)
        if not items:
            return
        handle = self._handle(path)
        number = self.lines[path]
        out: list[str] = []
        for item in items:
            payload = item.payload
            if isinstance(payload, str):
                lines, offset = [payload], 0
            else:
                lines, offset = payload.render(self.context, item.time)
            recorder.record(path, self.source_type, number + offset + 1, item)
            number += len(lines)
            out.extend(lines)
        self.lines[path] = number
        handle.write(("\n".join(out) + "\n").encode("utf-8"))
        if path != self.path_of_day(day + 1):
            self._close(path)

    def _close(self, path: str) -> None:
        handle = self.handles.pop(path, None)
        if handle is not None:
            handle.close()
        raw = self._raw.pop(path, None)
        if raw is not None:
            raw.close()

    def close(self) -> None:
        super().close()
        for path in list(self.handles):
            self._close(path)


@dataclass(frozen=True, slots=True)
class TrailEvent:
    """An ActionTrail event ready for delivery: its folder, region, id and JSON text."""

    event_type: str
    region: str
    event_id: str
    json: bytes


class TrailStream(Stream):
    """ActionTrail's OSS delivery: per event type, region and 5-minute window, one gzip file
    ``…/AliyunLogs/<EventType>/<Region>/<YYYY>/<MM>/<DD>/Actiontrail_<Region>_<YYYYMMDDHHMMSS>
    _1002_<EventCount>_<Size>_<md5>.gz`` holding a JSON array of the events.

    Events inside a gap (logging stopped) are not delivered: the trail wrote nothing then.
    """

    source_type = "actiontrail"
    WINDOW = 5 * MINUTE

    def __init__(self, start: int, end: int, root: Path, prefix: str) -> None:
        super().__init__(start, end)
        self.root = root
        self.prefix = prefix
        self.gaps: list[tuple[int, int]] = []

    def flush(self, day: int, recorder: Recorder) -> None:
        groups: dict[tuple[str, str, int], list[Item]] = {}
        for item in self.take(day):
            if any(begin <= item.time < until for begin, until in self.gaps):
                continue
            event: TrailEvent = item.payload
            window = (item.time - self.start) // self.WINDOW
            groups.setdefault((event.event_type, event.region, window), []).append(item)
        for (event_type, region, window), items in sorted(groups.items()):
            delivered = self.start + (window + 1) * self.WINDOW
            content = b"[" + b",".join(item.payload.json for item in items) + b"]"
            digest = hashlib.md5(content, usedforsecurity=False).hexdigest()
            year, month, mday = date_parts(delivered - 1)
            name = (f"Actiontrail_{region}_{compact(delivered)}_1002_{len(items)}_"
                    f"{len(content)}_{digest}.gz")
            path = (f"{self.prefix}/AliyunLogs/{event_type}/{region}/{year}/{month}/{mday}/"
                    f"{name}")
            target = self.root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw,
                                                         mtime=0, compresslevel=6) as handle:
                handle.write(content)
            for number, item in enumerate(items, 1):
                recorder.record(path, self.source_type, number, item, item.payload.event_id)
