"""A posture finding: the one result type of every audit check (network, logging, storage,
identity), as `trailguard audit --format json|sarif|html` writes it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SEVERITIES = ("critical", "high", "medium", "low", "info")


@dataclass
class Finding:
    """One result: a stable check id, the resource, the evidence and how to fix it."""

    check: str
    severity: str
    resource: str
    title: str
    evidence: dict[str, Any]
    rule: dict[str, Any] | None = None
    remediation: dict[str, str] = field(default_factory=dict)  # {"cli": …, "terraform": …}
    cis: str | None = None
    cis_benchmark: str | None = None
    provider: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
