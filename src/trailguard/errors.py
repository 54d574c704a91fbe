"""The error hierarchy. Every error a user sees says where it came from."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SourceLocation:
    """Where something came from: a file, an archive member inside it, and a record or line."""

    path: str
    member: str = ""
    position: int | None = None

    def __str__(self) -> str:
        text = self.path
        if self.member:
            text += f"!{self.member}"
        if self.position is not None:
            text += f":{self.position}"
        return text


class TrailGuardError(Exception):
    """Root of all TrailGuard errors (deliberately not a ValueError)."""

    def __init__(self, message: str, location: SourceLocation | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location

    def __str__(self) -> str:
        if self.location is None:
            return self.message
        return f"{self.message} (in {self.location})"


class EvidenceError(TrailGuardError):
    """An evidence file or archive could not be opened or read."""


class CaseError(TrailGuardError):
    """A case folder is missing, locked or not a TrailGuard case."""


class QueryError(TrailGuardError):
    """A user query was refused or failed."""


class UnknownPluginError(TrailGuardError):
    """A plugin name that no registry knows."""
