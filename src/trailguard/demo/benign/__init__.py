"""The benign activity around the incident, one day at a time (several days of it, one to two
orders of magnitude more records than the attack)."""

from __future__ import annotations

from random import Random

from trailguard.demo.benign.cloud import cloud_day
from trailguard.demo.benign.hosts import host_day
from trailguard.demo.benign.network import network_day
from trailguard.demo.plan import Plan
from trailguard.demo.scene import Scene


def benign_day(scene: Scene, plan: Plan, day: int) -> None:
    """Add day ``day``'s benign activity (each part draws from its own seeded generator, so a
    change in one part leaves the others' records as they were)."""
    seed = scene.world.seed
    host_day(scene, plan, day, Random(f"{seed}/benign/hosts/{day}"))
    cloud_day(scene, plan, day, Random(f"{seed}/benign/cloud/{day}"))
    network_day(scene, plan, day, Random(f"{seed}/benign/network/{day}"))
