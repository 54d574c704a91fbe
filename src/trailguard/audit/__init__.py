"""Posture audit: how the attacker got in (network exposure, logging gaps, buckets, identities)."""
