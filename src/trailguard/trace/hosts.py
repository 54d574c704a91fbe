"""Which host is which: host names, cloud instance ids and private addresses of one machine.

Evidence names a machine three ways — a host log by its host name, the cloud by its instance
id, a flow log by its private address and instance id. Two joins that the evidence itself
supports tie them:

* a flow record carries both the instance id and its private address (`vm-id`, `instance-id`);
* a Cloud Assistant (or SSM) call names the target instances and its invocation id, and the
  agent on each target runs the script from a path holding that id — so the host that ran the
  invocation is one of the instances it named; resolved one by one by elimination.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb


@dataclass
class HostNames:
    instance_host: dict[str, str] = field(default_factory=dict)  # i-… → host name
    ip_instance: dict[str, str] = field(default_factory=dict)  # private address → i-…

    def host_of_instance(self, instance: str) -> str:
        return self.instance_host.get(instance, instance)

    def host_of_ip(self, address: str) -> str | None:
        instance = self.ip_instance.get(address)
        if instance is None:
            return None
        return self.host_of_instance(instance)

    def label(self, address: str) -> str:
        """An address as shown: the host behind it when known."""
        host = self.host_of_ip(address)
        return f"{host} ({address})" if host and host != address else address


def resolve(connection: duckdb.DuckDBPyConnection) -> HostNames:
    names = HostNames()
    rows = connection.execute("""
        SELECT instance_id, src_ip, count(*) AS n FROM events
        WHERE source_type LIKE 'vpcflow%' AND instance_id LIKE 'i-%' AND direction = 'out'
          AND src_ip IS NOT NULL
        GROUP BY ALL ORDER BY n DESC
    """).fetchall()
    for instance, address, _ in rows:
        names.ip_instance.setdefault(address, instance)
    # invocation → (instances named by the API calls, hosts whose agent ran its script)
    rows = connection.execute("""
        WITH named AS (
            SELECT i.value AS invocation, list(DISTINCT x.value) AS instances
            FROM trace_entities i JOIN trace_entities x USING (idx)
            WHERE i.kind = 'invocation' AND x.kind = 'instance'
            GROUP BY i.value
        ),
        ran AS (
            SELECT regexp_extract(process_cmdline, 'aliyun-assist/work/script/(t-[0-9a-z]+)', 1)
                       AS invocation,
                   list(DISTINCT lower(host)) AS hosts
            FROM events
            WHERE host IS NOT NULL AND contains(process_cmdline, 'aliyun-assist/work/script/t-')
            GROUP BY 1
        )
        SELECT n.invocation, n.instances, r.hosts FROM named n JOIN ran r USING (invocation)
    """).fetchall()
    pending = [(set(instances or ()), set(hosts or ())) for _, instances, hosts in rows]
    changed = True
    while changed:
        changed = False
        for instances, hosts in pending:
            instances -= set(names.instance_host)
            hosts -= set(names.instance_host.values())
            if len(instances) == 1 and len(hosts) == 1:
                names.instance_host[instances.pop()] = hosts.pop()
                changed = True
    return names
