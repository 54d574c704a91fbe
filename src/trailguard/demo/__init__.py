"""`trailguard demo`: a realistic evidence folder of one cloud intrusion, and its ground truth.

The generator is deterministic (the same seed gives the same bytes) and writes the formats
TrailGuard reads, as the real systems write them. See :mod:`trailguard.demo.generate` for the
layout, :mod:`trailguard.demo.story` for the incident and :mod:`trailguard.demo.truth` for the
attack steps.
"""
