"""When things happen: the incident's key moments, which the attack and the benign activity
both follow (the response on Thursday, the ActionTrail gap, the build server's isolation).

Times move by a few minutes with the seed; the order of events never changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from random import Random

from trailguard.demo.clock import DAY, HOUR, MINUTE, SECOND
from trailguard.demo.world import World


def at(world: World, day: int, hour: int, minute: int, second: float = 0) -> int:
    """A moment of day ``day`` (0 = Monday) of the evidence window."""
    return world.start + day * DAY + hour * HOUR + minute * MINUTE + int(second * SECOND)


@dataclass(frozen=True)
class Plan:
    # Tuesday: the developer installs the malicious package.
    wchen_login: int
    install: int
    creds_stolen: int
    # Wednesday night: the intruder works through the account.
    first_use: int
    discovery: int
    backdoor_user: int
    sg_opened: int
    assist: int
    ssh_in: int
    webshell: int
    tamper: int
    db_dump: int
    oss_pull: int
    bucket_public: int
    logging_stopped: int
    restore: int
    ssh_out: int
    # Thursday: the response.
    logging_started: int
    sg_revoked: int
    quarantine: int
    accounts_removed: int
    # Benign moments the story's look-alikes are measured against.
    nginx_edit: int
    key_rotation: int

    @property
    def nginx_reloads(self) -> tuple[int, ...]:
        """When nginx was reloaded: ops on Monday, the intruder's tamper and restore."""
        return (self.nginx_edit + 7 * MINUTE, self.tamper + 75 * SECOND,
                self.restore + 20 * SECOND)

    @property
    def trail_gap(self) -> tuple[int, int]:
        """ActionTrail delivered nothing between these two moments."""
        return self.logging_stopped + SECOND, self.logging_started


def make_plan(world: World) -> Plan:
    rng = Random(f"{world.seed}/plan")

    def jitter(day: int, hour: int, minute: int, spread: int = 4) -> int:
        return at(world, day, hour, minute, rng.uniform(0, spread * 60))

    return Plan(
        wchen_login=jitter(1, 9, 4),
        install=jitter(1, 10, 38),
        creds_stolen=jitter(1, 13, 18),
        first_use=jitter(2, 1, 55),
        discovery=jitter(2, 2, 0, 1),
        backdoor_user=jitter(2, 2, 9, 1),
        sg_opened=jitter(2, 2, 15, 1),
        assist=jitter(2, 2, 18, 1),
        ssh_in=jitter(2, 2, 31, 1),
        webshell=jitter(2, 2, 34, 1),
        tamper=jitter(2, 2, 37, 1),
        db_dump=jitter(2, 3, 10, 2),
        oss_pull=jitter(2, 4, 20, 2),
        bucket_public=jitter(2, 4, 41, 2),
        logging_stopped=jitter(2, 5, 10, 2),
        restore=jitter(2, 5, 48, 2),
        ssh_out=jitter(2, 6, 4, 2),
        logging_started=jitter(3, 9, 36, 2),
        sg_revoked=jitter(3, 9, 50, 1),
        quarantine=jitter(3, 9, 55, 1),
        accounts_removed=jitter(3, 10, 30, 5),
        nginx_edit=jitter(0, 15, 20, 10),
        key_rotation=jitter(0, 16, 2, 10),
    )
