"""Alerts → groups: alerts that share an entity within that entity's time window are linked,
and the connected groups are the incidents.

Linking is chained: alerts naming one entity are sorted by time and each is linked to the one
before it when the gap is within the window of the entity's kind (a stolen key links its uses
over days, a host only over a quarter of an hour, because a busy host carries unrelated
alerts; a user agent links nothing, many people run the same CLI). Hub
entities — an address behind which many principals hide (a NAT gateway), a host many accounts
log on to (a domain controller), a principal that touches many machines (a CI runner, a cloud
service) — link nothing: they are detected from the alerts by how many distinct peers they are
seen with (HUB_PEERS), and reported with that reason.

Every alert keeps the link that brought it in: the entity it shares and the alert it shares
it with.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import numpy as np
import pyarrow as pa

from trailguard.store.results import arrow_table
from trailguard.trace.model import EntityRef, Hub

HOUR = 3600

#: Default linking windows per entity kind, in seconds.
DEFAULT_WINDOWS: dict[str, int] = {
    "ip": 72 * HOUR,  # a public address; private addresses use the host window
    "ip_private": 15 * 60,
    "access_key": 72 * HOUR,
    "principal": 24 * HOUR,
    "session": 24 * HOUR,
    "user": 8 * HOUR,
    "host": 15 * 60,
    "instance": 15 * 60,
    "process": 24 * HOUR,
    "file": 24 * HOUR,
    "bucket": 24 * HOUR,
    "security_group": 24 * HOUR,
    "domain": 72 * HOUR,
    "invocation": 24 * HOUR,
    "pod": 24 * HOUR,
}

#: Kinds through which low and informational alerts link only weakly: such alerts are many
#: and mostly benign (a login from the office address), so through an address or a local user
#: each attaches to the one nearest medium-or-higher alert (within the window) and never
#: chains to another low alert — they join incidents but cannot bridge two. Through any other
#: kind (a process, a session, a key, a domain, a host within minutes) they link like others.
BROAD_KINDS = ("ip", "user")
SPECIFIC_LEVELS = ("medium", "high", "critical")

#: What makes an entity a hub: the kinds of its "peers", the distinct values seen with it in
#: the same alerts. An address behind which many principals act (a NAT gateway, a proxy) or
#: that talks to many hosts and addresses (a scanner, a resolver, an update mirror); a
#: host many accounts use (a domain controller, a jump host); a principal or key used from
#: many addresses (a cloud service, a CI system); a domain or user agent many hosts use. An
#: attacker's key touching thirty instances in a burst is not a hub: instances are not the
#: peers of a key.
HUB_PEERS: dict[str, tuple[str, ...]] = {
    "ip": ("principal", "user", "host", "ip"),
    "host": ("user", "principal"),
    "instance": ("user", "principal"),
    "principal": ("ip",),
    "access_key": ("ip",),
    "session": ("ip",),
    "domain": ("host", "instance"),
    "user_agent": ("host", "instance", "principal"),
    "bucket": ("principal", "user"),
    "security_group": ("principal", "user"),
    "pod": ("principal", "ip"),
    "file": ("user",),
}

#: Linking preference when an alert has several links (the most specific first).
KIND_ORDER = ("invocation", "process", "session", "access_key", "ip", "principal", "domain",
              "file", "bucket", "security_group", "pod", "user", "instance", "host",
              "ip_private")

_PRIVATE_IP = (r"^(10\.|192\.168\.|172\.(1[6-9]|2[0-9]|3[01])\.|127\.|169\.254\.|"
               r"100\.(6[4-9]|[7-9][0-9]|1[01][0-9]|12[0-7])\.|[fF][cdCD]|[fF][eE]80)")


@dataclass
class GroupingConfig:
    windows: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_WINDOWS))
    hub_peers: int = 20  # an entity seen with more distinct peers (HUB_PEERS) is a hub
    min_hub_alerts: int = 3


@dataclass
class Grouping:
    """Result: group (component) of every alert, and the link that joined each alert."""

    group_of: np.ndarray  # int64 per alert idx
    link_kind: list[str | None]  # per alert idx: the entity kind of its link
    link_value: list[str | None]
    link_peer: np.ndarray  # per alert idx: the alert it is linked to (-1: none)
    hubs: list[Hub]


def find_hubs(connection: duckdb.DuckDBPyConnection, config: GroupingConfig) -> list[Hub]:
    """Entities seen with more than `hub_peers` distinct peers (see HUB_PEERS)."""
    pairs = pa.table({"kind": [k for k, peers in HUB_PEERS.items() for _ in peers],
                      "peer": [p for peers in HUB_PEERS.values() for p in peers]})
    connection.register("trace_hub_pairs", pairs)
    try:
        rows = connection.execute("""
            SELECT t.kind, t.value, count(DISTINCT t.idx) AS alerts,
                   count(DISTINCT a.kind || ':' || a.value) AS peers,
                   list(DISTINCT a.kind) AS peer_kinds
            FROM trace_entities t
            JOIN trace_hub_pairs p ON p.kind = t.kind
            JOIN trace_entities a ON a.idx = t.idx AND a.kind = p.peer
                AND NOT (a.kind = t.kind AND a.value = t.value)
            GROUP BY t.kind, t.value
            HAVING count(DISTINCT a.kind || ':' || a.value) > ? AND count(DISTINCT t.idx) >= ?
            ORDER BY peers DESC, t.kind, t.value
        """, [config.hub_peers, config.min_hub_alerts]).fetchall()
    finally:
        connection.unregister("trace_hub_pairs")
    hubs = []
    for kind, value, alerts, peers, peer_kinds in rows:
        named = " and ".join(f"{k}s" for k in sorted(peer_kinds))
        reason = (f"seen in {alerts} alerts with {peers} distinct {named} "
                  f"(the limit is {config.hub_peers})")
        hubs.append(Hub(EntityRef(kind, value), reason))
    return hubs


def _union_find(count: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    parent = np.arange(count, dtype=np.int64)
    parent_list = parent.tolist()

    def root(node: int) -> int:
        while parent_list[node] != node:
            parent_list[node] = parent_list[parent_list[node]]
            node = parent_list[node]
        return node

    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        ra, rb = root(a), root(b)
        if ra != rb:
            if ra < rb:
                parent_list[rb] = ra
            else:
                parent_list[ra] = rb
    return np.fromiter((root(node) for node in range(count)), dtype=np.int64, count=count)


def group_alerts(connection: duckdb.DuckDBPyConnection, count: int,
                 config: GroupingConfig) -> Grouping:
    """Link the alerts of `trace_entities` (built by `entities.build_alert_entities`)."""
    hubs = find_hubs(connection, config)
    hub_table = {"kind": [hub.ref.kind for hub in hubs], "value": [hub.ref.value for hub in hubs]}
    connection.register("trace_hubs", pa.table(hub_table, schema=pa.schema(
        [("kind", pa.string()), ("value", pa.string())])))
    windows = config.windows
    cases = " ".join(
        f"WHEN kind = '{kind}' THEN {int(seconds)}" for kind, seconds in windows.items()
        if kind in KIND_ORDER and kind != "ip_private")
    order = " ".join(f"WHEN '{kind}' THEN {rank}" for rank, kind in enumerate(KIND_ORDER))
    private_window = int(windows.get("ip_private", 15 * 60))
    linking = ", ".join(f"'{kind}'" for kind in windows if kind in KIND_ORDER)
    broad = ", ".join(f"'{kind}'" for kind in BROAD_KINDS)
    window = f"""CASE
        WHEN e.kind = 'ip' AND regexp_matches(e.value, '{_PRIVATE_IP}') THEN {private_window}
        {cases.replace("WHEN kind", "WHEN e.kind")} ELSE 0 END"""
    levels = ", ".join(f"'{level}'" for level in SPECIFIC_LEVELS)
    try:
        edges = arrow_table(connection.sql(f"""
            WITH linkable AS (
                SELECT e.idx, e.time, e.kind, e.value, e.scope,
                       {window} AS window_seconds,
                       e.kind NOT IN ({broad}) OR a.level IN ({levels}) AS strong
                FROM trace_entities e
                JOIN trace_alerts a USING (idx)
                ANTI JOIN trace_hubs h ON h.kind = e.kind AND h.value = e.value
                WHERE e.kind IN ({linking}) AND e.time IS NOT NULL
            ),
            strong AS (SELECT * FROM linkable WHERE strong),
            weak AS (SELECT * FROM linkable WHERE NOT strong),
            chained AS (
                SELECT idx, time, kind, value, window_seconds,
                       lag(idx) OVER w AS prev_idx, lag(time) OVER w AS prev_time
                FROM strong
                WINDOW w AS (PARTITION BY kind, value, scope ORDER BY time, idx)
            ),
            chain_edges AS (
                SELECT prev_idx, idx, kind, value FROM chained
                WHERE prev_idx IS NOT NULL
                  AND epoch(time) - epoch(prev_time) <= window_seconds
            ),
            before AS (
                SELECT w.idx, s.idx AS peer, w.kind, w.value,
                       epoch(w.time) - epoch(s.time) AS gap, w.window_seconds
                FROM weak w ASOF JOIN strong s
                  ON w.kind = s.kind AND w.value = s.value AND w.scope = s.scope
                 AND w.time >= s.time
            ),
            after AS (
                SELECT w.idx, s.idx AS peer, w.kind, w.value,
                       epoch(s.time) - epoch(w.time) AS gap, w.window_seconds
                FROM weak w ASOF JOIN strong s
                  ON w.kind = s.kind AND w.value = s.value AND w.scope = s.scope
                 AND w.time <= s.time
            ),
            attached AS (
                SELECT peer AS prev_idx, idx, kind, value FROM (
                    SELECT * FROM before UNION ALL SELECT * FROM after)
                WHERE gap <= window_seconds
                QUALIFY row_number() OVER (PARTITION BY idx ORDER BY gap, peer) = 1
            ),
            all_edges AS (SELECT * FROM chain_edges UNION ALL SELECT * FROM attached)
            SELECT prev_idx, idx,
                   CASE WHEN kind = 'ip' AND regexp_matches(value, '{_PRIVATE_IP}')
                        THEN 'ip_private' ELSE kind END AS link_kind, value
            FROM all_edges
            ORDER BY idx, CASE link_kind {order} ELSE 99 END
        """))
    finally:
        connection.unregister("trace_hubs")
    left = edges.column("prev_idx").to_numpy().astype(np.int64)
    right = edges.column("idx").to_numpy().astype(np.int64)
    group_of = _union_find(count, left, right)
    link_kind: list[str | None] = [None] * count
    link_value: list[str | None] = [None] * count
    link_peer = np.full(count, -1, dtype=np.int64)
    kinds = edges.column("link_kind").to_pylist()
    values = edges.column("value").to_pylist()
    # the first (most specific) edge that reaches each alert from an earlier one …
    for position, node in enumerate(right.tolist()):
        if link_kind[node] is None:
            link_kind[node] = kinds[position]
            link_value[node] = values[position]
            link_peer[node] = left[position]
    # … and for the first alert of a chain, the edge leading on from it
    for position, node in enumerate(left.tolist()):
        if link_kind[node] is None:
            link_kind[node] = kinds[position]
            link_value[node] = values[position]
            link_peer[node] = right[position]
    return Grouping(group_of, link_kind, link_value, link_peer, hubs)
