"""wchen's AccessKeys: the one rotated away on Monday, and the one stolen on Tuesday."""

from __future__ import annotations

from random import Random

from trailguard.demo.clock import MINUTE, access_key_id
from trailguard.demo.plan import Plan
from trailguard.demo.world import World


def old_wchen_key(world: World) -> str:
    """The key wchen used until Monday's rotation (deleted that afternoon)."""
    return access_key_id(Random(f"{world.seed}/wchen-old-key"))


def wchen_key(world: World, plan: Plan, t: int) -> str:
    """The key wchen's CLI signs with at ``t`` (he reconfigures the CLI after the rotation)."""
    return world.users["wchen"].access_key if t >= plan.key_rotation + 9 * MINUTE \
        else old_wchen_key(world)
