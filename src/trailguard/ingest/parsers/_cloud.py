"""Helpers shared by the cloud audit-trail parsers (CloudTrail, ActionTrail)."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Any


def ip_or_none(value: Any) -> str | None:
    """The value if it is an IP address (CloudTrail puts service names in sourceIPAddress)."""
    if not isinstance(value, str) or not value:
        return None
    return _ip_or_none(value)


@lru_cache(maxsize=65536)
def _ip_or_none(value: str) -> str | None:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return None
    return value
