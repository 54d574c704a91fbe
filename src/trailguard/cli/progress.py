"""A rich progress bar for long runs: files, records and records per second, on stderr."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from trailguard.cli.text import shown


class IngestProgress:
    """Implements the pipeline's Progress protocol with a rich progress bar."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.bar = Progress(
            TextColumn("[bold]ingest"),
            BarColumn(),
            TextColumn("{task.fields[files]} files"),
            TextColumn("{task.fields[records]:,} records"),
            TextColumn("{task.fields[rate]:,.0f} records/s"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.task: TaskID | None = None
        self.count = 0
        self.files = 0
        self.total_files = 0
        self.started = time.monotonic()

    def __enter__(self) -> IngestProgress:
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._refresh()
        self.bar.stop()

    def start(self, roots: int, total_bytes: int) -> None:
        self.total_files = roots
        self.started = time.monotonic()
        self.task = self.bar.add_task("ingest", total=max(total_bytes, 1), files="0/0",
                                      records=0, rate=0.0)
        self._refresh()

    def root_done(self, size: int) -> None:
        self.files += 1
        if self.task is not None:
            self.bar.advance(self.task, size)
        self._refresh()

    def records(self, count: int) -> None:
        self.count += count
        self._refresh()

    def note(self, text: str) -> None:
        self.console.print(f"[dim]{shown(text)}[/dim]", markup=True, highlight=False)

    def _refresh(self) -> None:
        if self.task is None:
            return
        elapsed = max(time.monotonic() - self.started, 1e-6)
        self.bar.update(self.task, files=f"{self.files}/{self.total_files}",
                        records=self.count, rate=self.count / elapsed)
