"""The next steps a responder should take for an incident, read off what tracing found."""

from __future__ import annotations

from trailguard.trace.model import Incident, human_bytes


def next_steps(incident: Incident) -> list[str]:
    steps: list[str] = []
    targets = incident.impact.hosts or incident.impact.instances
    if targets:
        shown = ", ".join(targets[:6])
        steps.append(f"Snapshot the disks of {shown} before anything else touches them, then "
                     "isolate them (a quarantine security group that lets only your forensic "
                     "address in).")
    keys = [i.value for i in incident.indicators if i.kind == "access-key"]
    if keys:
        steps.append("Disable the access keys the attacker used or made: " + ", ".join(keys[:8])
                     + " (RAM UpdateAccessKey Status=Inactive / IAM update-access-key "
                     "--status Inactive), then rotate every secret they could read.")
    planted: dict[str, list[str]] = {}
    for item in incident.persistence:
        if item.still_present:
            planted.setdefault(item.mechanism, []).append(item.target)
    for mechanism, targets in list(planted.items())[:6]:
        shown = ", ".join(dict.fromkeys(target for target in targets if target))
        steps.append(f"Remove what is still in place — {mechanism}: {shown or 'see the chain'}.")
    addresses = [i.value for i in incident.indicators
                 if i.kind in ("ipv4-addr", "ipv6-addr") and i.steps > 0]
    if addresses:
        steps.append("Block the attacker's addresses at the security groups or network ACLs: "
                     + ", ".join(addresses[:8]) + ".")
    for window in incident.impact.downtime:
        if window.end is None:
            steps.append(f"{window.operation} on {window.resource} has not been undone: "
                         "restore it (and treat the gap as blind time).")
        elif window.operation in ("StopLogging", "DeleteTrail"):
            steps.append(f"Logging was off on {window.resource} from {window.start} to "
                         f"{window.end}: collect what other sources saw in that window.")
    for leak in incident.exfiltration:
        amount = human_bytes(leak.bytes) if leak.bytes is not None else (
            f"{leak.objects} objects" if leak.objects else "an unknown amount")
        steps.append(f"Assess what left to {leak.destination} over {leak.channel} ({amount}) "
                     "and whether disclosure duties apply.")
    for hop in incident.lateral_movement:
        steps.append(f"Examine {hop.target}: reached by {hop.method} from {hop.source}.")
    return steps[:20]
