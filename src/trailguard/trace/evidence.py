"""What an incident's alerts lead to in the rest of the case: lateral-movement hops,
exfiltration volumes, persistence still in place, downtime, and the unalerted events of the
attacker's keys and processes ("what else did this stolen key do?").

All lookups bind the incident's values as query parameters; nothing read from the evidence is
ever spliced into SQL text.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb

from trailguard.trace.chain import AlertInfo, Roles
from trailguard.trace.entities import ip_scope
from trailguard.trace.hosts import HostNames
from trailguard.trace.model import (
    Downtime,
    EntityRef,
    EvidenceRef,
    Exfiltration,
    Hop,
    Persistence,
    Step,
)
from trailguard.trace.processes import SYSTEM_PROCESSES, descendants_sql

# Remote execution through the cloud control plane: API operation → hop method.
CLOUD_EXEC = {"InvokeCommand": "cloud-assistant", "RunCommand": "cloud-assistant",
              "SendCommand": "ssm", "StartSession": "ssm"}
# Host-side lateral movement techniques → method.
TECHNIQUE_METHOD = {"T1021.001": "rdp", "T1021.002": "smb", "T1021.004": "ssh",
                    "T1021.006": "winrm", "T1569.002": "psexec", "T1570": "smb"}
SSH_OPERATIONS = frozenset({"ssh_accepted", "USER_LOGIN"})
FLOW_CHANNELS = {"vpcflow_aliyun": "vpc-flow", "vpcflow_aws": "vpc-flow", "zeek": "zeek"}
# Creating operation → operations that undo it (for "still in place at the end").
REMOVALS = {
    "CreateUser": ("DeleteUser",), "CreateAccessKey": ("DeleteAccessKey", "UpdateAccessKey"),
    "AttachPolicyToUser": ("DetachPolicyFromUser",), "AttachUserPolicy": ("DetachUserPolicy",),
    "CreateLoginProfile": ("DeleteLoginProfile",), "ADD_USER": ("DEL_USER",),
    "AuthorizeSecurityGroup": ("RevokeSecurityGroup",),
    "AuthorizeSecurityGroupIngress": ("RevokeSecurityGroupIngress",),
    "CreateCommand": ("DeleteCommand",), "PutBucketAcl": ("PutBucketAcl",),
}
DOWN_OPERATIONS = {"StopInstance": ("StartInstance",), "StopInstances": ("StartInstances",),
                   "DeleteInstance": (), "DeleteInstances": (), "TerminateInstances": (),
                   "StopLogging": ("StartLogging",), "DeleteTrail": ("CreateTrail",)}
def _ref(source_type: str, uid: str, file: str | None, record: int | None) -> EvidenceRef:
    return EvidenceRef(source_type, file, record, uid)


class CaseLookups:
    """Queries against the case for one incident at a time."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, files: dict[int, str],
                 names: HostNames) -> None:
        self.connection = connection
        self.files = files
        self.names = names

    def _one(self, query: str, parameters: list[object]) -> tuple[Any, ...] | None:
        rows = self.connection.execute(query, parameters).fetchall()
        return rows[0] if rows else None

    def _evidence(self, source_type: str, uid: str, file_id: int | None,
                  record: int | None) -> EvidenceRef:
        return _ref(source_type, uid, self.files.get(file_id) if file_id is not None else None,
                    record)

    # --- lateral movement ---------------------------------------------------------------

    def hops(self, alerts: list[AlertInfo], roles: Roles) -> list[Hop]:
        found: dict[tuple[str, str, str], Hop] = {}

        def add(source: str, target: str, when: datetime | None, method: str,
                evidence: EvidenceRef) -> None:
            if not source or not target or source == target:
                return
            key = (source, target, method)
            if key in found:
                found[key].uses += 1
            else:
                found[key] = Hop(source, target, when, method, evidence)

        for alert in alerts:
            method = CLOUD_EXEC.get(alert.operation or "")
            if method is not None:
                caller_ip = alert.src_ip
                by_attacker = (caller_ip in roles.attacker_ips) or any(
                    ref in roles.created for ref in alert.entities)
                if not by_attacker:
                    continue
                own = {ref.value for ref in alert.entities
                       if ref.kind == "session" and ref.value}
                source = self._place(caller_ip) if caller_ip else next(
                    (ref.value for ref in alert.entities if ref.kind == "principal"), "")
                for ref in alert.entities:
                    if ref.kind == "instance" and not any(ref.value in s for s in own):
                        add(source, self.names.host_of_instance(ref.value), alert.time, method,
                            alert.evidence)
                continue
            host = alert.host
            technique_method = next((TECHNIQUE_METHOD[t] for t in alert.techniques
                                     if t in TECHNIQUE_METHOD), None)
            is_ssh = (alert.operation in SSH_OPERATIONS
                      or ("lateral-movement" in alert.tactics and technique_method is None))
            if host and alert.src_ip and ip_scope(alert.src_ip) == "private" and (
                    technique_method or is_ssh):
                add(self._place(alert.src_ip), host, alert.time, technique_method or "ssh",
                    alert.evidence)
            elif alert.evidence.source_type == "k8s_audit" and "exec" in (alert.operation or ""):
                principal = next((ref.value for ref in alert.entities
                                  if ref.kind == "principal"), "")
                target = next((ref.value for ref in alert.entities if ref.kind == "pod"), "")
                add(principal, target or "pod", alert.time, "kubectl-exec", alert.evidence)
        return sorted(found.values(), key=lambda hop: (hop.time or datetime.min, hop.target))

    def _place(self, address: str | None) -> str:
        if not address:
            return ""
        if ip_scope(address) == "private":
            return self.names.host_of_ip(address) or address
        return address

    # --- exfiltration -------------------------------------------------------------------

    def exfiltration(self, alerts: list[AlertInfo], roles: Roles) -> list[Exfiltration]:
        destinations = sorted({
            ref.value for alert in alerts if "exfiltration" in alert.tactics
            for ref in alert.entities
            if ref.kind == "ip" and ref.value in roles.attacker_ips and ref.value != alert.src_ip
        })
        found: list[Exfiltration] = []
        if destinations:
            rows = self.connection.execute("""
                SELECT dst_ip, source_type, sum(bytes), count(*), min(time), max(time),
                       list(DISTINCT coalesce(instance_id, src_ip))
                FROM events
                WHERE dst_ip IN (SELECT unnest(?::VARCHAR[])) AND bytes IS NOT NULL
                  AND source_type IN ('vpcflow_aliyun', 'vpcflow_aws', 'zeek')
                  AND coalesce(direction, 'out') <> 'in'
                GROUP BY ALL ORDER BY 3 DESC
            """, [destinations]).fetchall()
            for destination, source_type, total, records, first, last, sources in rows:
                shown = ", ".join(sorted(self.names.host_of_instance(s) if s.startswith("i-")
                                         else self._place(s) for s in sources if s)[:5])
                found.append(Exfiltration(destination, int(total), FLOW_CHANNELS[source_type],
                                          shown or None, first, last, int(records)))
        keys = sorted(roles.attacker_keys)
        if keys:
            rows = self.connection.execute("""
                SELECT split_part(resource, '/', 1), source_type, sum(bytes), count(*),
                       min(time), max(time), list(DISTINCT actor_access_key)
                FROM events
                WHERE operation = 'GetObject' AND actor_access_key IN (SELECT unnest(?::VARCHAR[]))
                GROUP BY ALL ORDER BY 4 DESC
            """, [keys]).fetchall()
            for bucket, source_type, total, records, first, last, used in rows:
                channel = "oss-getobject" if source_type == "actiontrail" else "s3-getobject"
                found.append(Exfiltration(bucket or "?", None if total is None else int(total),
                                          channel, ", ".join(sorted(used)), first, last,
                                          int(records), objects=int(records)))
        return found

    # --- persistence --------------------------------------------------------------------

    def persistence(self, alerts: list[AlertInfo], roles: Roles) -> list[Persistence]:
        found: list[Persistence] = []
        seen: set[tuple[str, str]] = set()
        for alert in alerts:
            if alert.tactic != "persistence":
                continue
            target = self._persistence_target(alert, roles)
            key = (alert.technique or str(alert.rule.get("id", "")), target.rsplit("/", 1)[-1])
            if key in seen:
                continue
            seen.add(key)
            removed_at, removal = self._removal(alert, target)
            found.append(Persistence(
                mechanism=str(alert.rule.get("title", "")), technique=alert.technique,
                target=target, time=alert.time, still_present=removed_at is None,
                removed_at=removed_at, evidence=alert.evidence, removal_evidence=removal))
        return found

    @staticmethod
    def _persistence_target(alert: AlertInfo, roles: Roles) -> str:
        for kind in ("access_key", "principal", "user", "file", "security_group", "bucket"):
            for ref in alert.entities:
                if ref.kind == kind and (ref in roles.created or kind in ("file",
                                                                          "security_group")):
                    return ref.value
        if alert.url and alert.evidence.source_type == "web_access":
            return alert.url.split("?", 1)[0]
        return alert.resource or alert.host or ""

    def _removal(self, alert: AlertInfo, target: str
                 ) -> tuple[datetime | None, EvidenceRef | None]:
        if alert.time is None or not target:
            return None, None
        removals = REMOVALS.get(alert.operation or "")
        if removals:
            name = target.split(":", 1)[-1]
            row = self._one("""
                SELECT time, source_type, uid, file_id, record FROM events
                WHERE operation IN (SELECT unnest(?::VARCHAR[])) AND time > ?
                  AND (resource = ? OR actor_access_key = ? OR contains(resource, ?))
                ORDER BY time LIMIT 1
            """, [list(removals), alert.time, name, name, name])
            if row:
                return row[0], self._evidence(row[1], row[2], row[3], row[4])
        host, _, path = target.rpartition(":") if ":" in target else ("", "", target)
        if path.startswith("/") and path.count("/") >= 2 and len(path) > 5:
            row = self._one("""
                SELECT time, source_type, uid, file_id, record FROM events
                WHERE (? = '' OR lower(host) = ?) AND time > ? AND contains(process_cmdline, ?)
                  AND regexp_matches(process_cmdline, '(^|[\\s/])(rm|unlink|shred)\\s')
                ORDER BY time LIMIT 1
            """, [host, host, alert.time, path])
            if row:
                return row[0], self._evidence(row[1], row[2], row[3], row[4])
        return None, None

    # --- impact -------------------------------------------------------------------------

    def downtime(self, roles: Roles, instances: set[str]) -> list[Downtime]:
        keys = sorted(roles.attacker_keys)
        if not keys and not instances:
            return []
        rows = self.connection.execute("""
            SELECT operation, coalesce(resource, instance_id), time FROM events
            WHERE operation IN (SELECT unnest(?::VARCHAR[]))
              AND (actor_access_key IN (SELECT unnest(?::VARCHAR[]))
                   OR instance_id IN (SELECT unnest(?::VARCHAR[])))
            ORDER BY time
        """, [list(DOWN_OPERATIONS), keys or [""], sorted(instances) or [""]]).fetchall()
        found = []
        for operation, resource, start in rows:
            restarts = DOWN_OPERATIONS[operation]
            end = None
            if restarts and resource:
                row = self._one("""
                    SELECT min(time) FROM events WHERE operation IN (SELECT unnest(?::VARCHAR[]))
                      AND coalesce(resource, instance_id) = ? AND time > ?
                """, [list(restarts), resource, start])
                end = row[0] if row else None
            found.append(Downtime(resource or "?", start, end, operation))
        return found

    # --- the rest of the story ------------------------------------------------------------

    def context_steps(self, alerts: list[AlertInfo], roles: Roles,
                      limit: int = 100) -> tuple[list[Step], int]:
        """Unalerted events of the attacker's keys made from the attacker's addresses (or of
        keys the attacker created), collapsed by key and operation."""
        keys = sorted(roles.attacker_keys)
        created = sorted(ref.value for ref in roles.created if ref.kind == "access_key")
        if not keys:
            return [], 0
        alerted = sorted({alert.evidence.uid for alert in alerts})
        rows = self.connection.execute("""
            SELECT actor_access_key, operation, count(*), min(time), max(time),
                   arg_min(source_type, time), arg_min(uid, time), arg_min(file_id, time),
                   arg_min(record, time), arg_min(src_ip, time)
            FROM events
            WHERE actor_access_key IN (SELECT unnest(?::VARCHAR[]))
              AND (src_ip IN (SELECT unnest(?::VARCHAR[]))
                   OR actor_access_key IN (SELECT unnest(?::VARCHAR[])))
              AND uid NOT IN (SELECT unnest(?::VARCHAR[]))
            GROUP BY ALL ORDER BY min(time)
        """, [keys, sorted(roles.attacker_ips) or [""], created or [""],
              alerted or [""]]).fetchall()
        total = sum(int(row[2]) for row in rows)
        steps: list[Step] = []
        for key, operation, count, first, last, source_type, uid, file_id, record, src in rows:
            if len(steps) >= limit:
                break
            entities = [EntityRef("access_key", key)]
            if src:
                entities.append(EntityRef("ip", src))
            steps.append(Step(
                time=first, last=last, tactic="", technique="", technique_name="",
                rule={"id": "", "title": f"{operation} (no rule) by {key}", "level": "",
                      "author": "", "path": "", "source": "context"},
                evidence=self._evidence(source_type, uid, file_id, record), alerts=int(count),
                entities=entities, link=f"same access key {key}", context=True))
        return steps, total

    def tree_steps(self, alerts: list[AlertInfo], limit: int = 100) -> tuple[list[Step], int]:
        """Unalerted events of the processes in the alerts' process trees ("what else ran
        under this tree?"), collapsed by process and operation."""
        guids = sorted({ref.value for alert in alerts for ref in alert.entities
                        if ref.kind == "process" and ref.value.startswith("{")})
        if not guids:
            return [], 0
        roots = [row[0] for row in self.connection.execute(
            "SELECT DISTINCT root FROM trace_process_roots "
            "WHERE start IN (SELECT unnest(?::VARCHAR[]))", [guids]).fetchall()]
        if not roots:
            return [], 0
        alerted = sorted({alert.evidence.uid for alert in alerts})
        rows = self.connection.execute(f"""
            WITH tree AS ({descendants_sql()})
            SELECT process_name, operation, count(*), min(time), max(time),
                   arg_min(source_type, time), arg_min(uid, time), arg_min(file_id, time),
                   arg_min(record, time), arg_min(process_guid, time)
            FROM events
            WHERE process_guid IN (SELECT guid FROM tree)
              AND uid NOT IN (SELECT unnest($alerted::VARCHAR[]))
            GROUP BY ALL ORDER BY min(time)
        """, {"roots": roots, "alerted": alerted or [""]}).fetchall()
        total = sum(int(row[2]) for row in rows)
        steps: list[Step] = []
        for name, operation, count, first, last, source_type, uid, file_id, record, guid in rows:
            if len(steps) >= limit:
                break
            steps.append(Step(
                time=first, last=last, tactic="", technique="", technique_name="",
                rule={"id": "", "title": f"{operation} (no rule) by {name}", "level": "",
                      "author": "", "path": "", "source": "context"},
                evidence=self._evidence(source_type, uid, file_id, record), alerts=int(count),
                entities=[EntityRef("process", guid)], link="same process tree", context=True))
        return steps, total

    def process_contacts(self, alerts: list[AlertInfo]
                         ) -> dict[str, tuple[datetime | None, str]]:
        """Addresses that the alerted processes and their ancestors (up to the first system
        process) connected to: how a payload's command-and-control server is found."""
        guids = sorted({ref.value for alert in alerts for ref in alert.entities
                        if ref.kind == "process" and ref.value.startswith("{")})
        if not guids:
            return {}
        stops = list(SYSTEM_PROCESSES)
        rows = self.connection.execute("""
            WITH RECURSIVE parents AS (
                SELECT DISTINCT process_guid, parent_guid, lower(parent_name) AS parent_name
                FROM events WHERE process_guid IS NOT NULL AND parent_guid IS NOT NULL
            ),
            tree(guid, depth) AS (
                SELECT unnest(?::VARCHAR[]), 0
                UNION
                SELECT p.parent_guid, t.depth + 1 FROM tree t
                JOIN parents p ON p.process_guid = t.guid
                WHERE t.depth < 6 AND NOT list_bool_or(
                    [ends_with(coalesce(p.parent_name, ''), s) FOR s IN ?::VARCHAR[]])
            )
            SELECT dst_ip, min(time), arg_min(process_name, time), count(*) FROM events
            WHERE process_guid IN (SELECT guid FROM tree) AND dst_ip IS NOT NULL
            GROUP BY dst_ip
        """, [guids, stops]).fetchall()
        contacts = {}
        for address, first, process, count in rows:
            if ip_scope(address) == "invalid" or address.startswith("127.") or address in (
                    "::1", "::"):
                continue
            contacts[address] = (first, f"contacted {count} times by {process}")
        return contacts
