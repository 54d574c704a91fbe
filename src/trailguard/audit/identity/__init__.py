"""Identity posture: root keys, stale keys, console users without MFA, admin policies on users
(export) and root-key use and keys used from many addresses (trail)."""

from trailguard.audit.identity import checks as checks

__all__ = ["checks"]
