"""Time parsing shared by the parsers. Every event time is stored as naive UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1)


def parse_iso(text: str | None) -> datetime | None:
    """Parse an ISO-8601 timestamp (``Z``, offsets, up to 9 fractional digits) to naive UTC.

    Returns None for empty or unparseable text: a bad time never rejects a record.
    """
    if not text:
        return None
    if text[-1] == "Z":  # the common case: UTC already, no time-zone arithmetic needed
        try:
            return datetime.fromisoformat(text[:-1])
        except ValueError:
            pass
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def from_epoch(value: str | float | int | None) -> datetime | None:
    """Seconds (or milliseconds / microseconds / nanoseconds, guessed by size) since 1970."""
    if value is None or value == "" or value == "-":
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return None
    magnitude = abs(seconds)
    if magnitude >= 1e17:
        seconds /= 1e9
    elif magnitude >= 1e14:
        seconds /= 1e6
    elif magnitude >= 1e11:
        seconds /= 1e3
    try:
        return _EPOCH + timedelta(seconds=seconds)
    except OverflowError:
        return None


def to_iso(value: datetime | None) -> str | None:
    """Render a naive-UTC time as ISO-8601 with a trailing Z."""
    if value is None:
        return None
    return value.isoformat(timespec="microseconds").replace(".000000", "") + "Z"
