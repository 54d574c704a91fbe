"""Storage posture: OSS/S3 buckets open to the public (export) and made public (trail)."""

from trailguard.audit.storage import checks as checks

__all__ = ["checks"]
