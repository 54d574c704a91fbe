"""Logging posture: trails and flow logs configured (export), and gaps, late or out-of-order
delivery and stopped trails in the ingested logs themselves (case)."""

from trailguard.audit.logging import coverage as coverage
from trailguard.audit.logging import delivery as delivery
from trailguard.audit.logging import gaps as gaps

__all__ = ["coverage", "delivery", "gaps"]
