"""Parameters and value checks that the two clouds' actions share."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from trailguard.respond.actions.base import Params
from trailguard.respond.errors import ParamsError


def cidr(value: str) -> str:
    """``value`` as a normalised CIDR (an address becomes /32 or /128)."""
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        raise ParamsError(f"not an IP address or CIDR block: {value!r}") from None


@dataclass(frozen=True)
class IsolateInstanceParams(Params):
    instance_id: str
    forensic_cidr: str
    forensic_port: int = 22
    group_prefix: str = "trailguard-quarantine"

    def __post_init__(self) -> None:
        object.__setattr__(self, "forensic_cidr", cidr(self.forensic_cidr))
        if not 1 <= self.forensic_port <= 65535:
            raise ParamsError(f"forensic_port out of range: {self.forensic_port}")
