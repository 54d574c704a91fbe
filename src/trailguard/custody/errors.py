"""Errors of the custody log: each says which case file or log line it came from."""

from __future__ import annotations

from trailguard.errors import TrailGuardError


class CustodyError(TrailGuardError):
    """The custody log or the case key could not be read, created or written."""


class LogTamperedError(CustodyError):
    """The custody log does not verify, so nothing more may be appended to it."""
