"""Writing the demo evidence folder and its ground truth.

Layout of the output folder::

    <out>/evidence/                    what the victim hands over
        oss/acme-trail-logs/actiontrail/AliyunLogs/<EventType>/<Region>/<Y>/<M>/<D>/*.gz
        sls/acme-vpc/vpc-flowlog/vpc-flowlog_<date>.json      (SLS export, JSON Lines)
        hosts/<host>/var/log/auth.log, hosts/<host>/var/log/audit/audit.log
        hosts/<host>/home/<user>/.bash_history
        hosts/web-01/var/log/nginx/access.log[.N[.gz]], error.log[.N[.gz]]
    <out>/ground-truth.json            the attack steps and their records
    <out>/case/, <out>/alerts.jsonl    written by `trailguard demo` after ingest and detect
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trailguard.demo.benign import benign_day
from trailguard.demo.clock import iso_z
from trailguard.demo.evidence import Recorder
from trailguard.demo.plan import Plan, make_plan
from trailguard.demo.scene import Scene
from trailguard.demo.story import write_story
from trailguard.demo.truth import SCHEMA, ground_truth, write
from trailguard.demo.world import (
    ATTACKER_IP,
    C2_IP,
    EXFIL_IP,
    REGION,
    SCANNER_IPS,
    TRAIL_NAME,
    World,
    build_world,
)
from trailguard.errors import TrailGuardError

DEFAULT_SEED = 1
EVIDENCE = "evidence"
TRUTH = "ground-truth.json"
CASE = "case"
ALERTS = "alerts.jsonl"
MARKER = ".trailguard-demo"
"""Written first, so that a run cut short still leaves a folder the next run may replace."""
OWNED = (EVIDENCE, TRUTH, CASE, ALERTS, MARKER)


class DemoError(TrailGuardError):
    """The demo cannot write where it was asked to."""


@dataclass(frozen=True)
class DemoEvidence:
    out: Path
    evidence: Path
    truth_path: Path
    truth: dict[str, Any]
    seconds: float

    @property
    def files(self) -> int:
        return len(self.truth["files"])

    @property
    def records(self) -> int:
        return int(self.truth["records"]["total"])


def prepare(out: Path) -> None:
    """Make ``out`` ready: a new or empty folder, or an earlier demo's (whose own files are
    replaced). Any other non-empty folder is refused, so the demo never deletes user data."""
    if out.exists() and not out.is_dir():
        raise DemoError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not (out / MARKER).is_file() and _schema(out / TRUTH) != SCHEMA:
            raise DemoError(f"{out} is not empty and holds no earlier demo; choose another "
                            "--out")
        for name in OWNED:
            target = out / name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("written by `trailguard demo`; the demo may replace this "
                              "folder's evidence, case and ground truth\n", encoding="utf-8")


def _schema(path: Path) -> object:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return loaded.get("schema") if isinstance(loaded, dict) else None


def generate(out: Path, seed: int = DEFAULT_SEED) -> DemoEvidence:
    """Write the evidence folder and ``ground-truth.json`` for ``seed`` into ``out``."""
    started = time.perf_counter()
    prepare(out)
    evidence = out / EVIDENCE
    world = build_world(seed)
    plan = make_plan(world)
    scene = Scene(world, plan, evidence)
    facts = write_story(scene, plan)
    recorder = Recorder(evidence)
    try:
        for day in range(world.days):
            benign_day(scene, plan, day)
            for stream in scene.streams():
                stream.flush(day, recorder)
    finally:
        for stream in scene.streams():
            stream.close()
    truth = ground_truth(world, recorder, environment(world, plan), facts)
    truth_path = out / TRUTH
    write(truth, truth_path)
    return DemoEvidence(out, evidence, truth_path, truth, time.perf_counter() - started)


def environment(world: World, plan: Plan) -> dict[str, Any]:
    """What a reader of the ground truth needs to know about the world."""
    gap_start, gap_end = plan.trail_gap
    return {
        "account": world.account_id,
        "region": REGION,
        "vpc": world.vpc_id,
        "hosts": [{"name": host.name, "instance": host.instance_id, "ip": host.private_ip,
                   "security_group": host.security_group, "ram_role": host.role}
                  for host in world.hosts.values()],
        "ram_users": [{"name": user.name, "access_key": user.access_key}
                      for user in world.users.values()],
        "attacker": {"api_and_ssh": ATTACKER_IP, "c2": C2_IP, "exfiltration": EXFIL_IP},
        "internet_scanners": list(SCANNER_IPS),
        "notes": [
            f"ActionTrail delivered nothing from {iso_z(gap_start)} to {iso_z(gap_end)} "
            f"(StopLogging on {TRAIL_NAME}; StartLogging by the responders).",
            f"build-01 was isolated at {iso_z(plan.quarantine)}; its beacons are rejected "
            "from then on.",
            "Hosts run in UTC; public addresses are RFC 5737 documentation addresses.",
        ],
    }
