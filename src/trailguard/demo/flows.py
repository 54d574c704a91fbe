"""Alibaba Cloud VPC flow-log records, as exported from the SLS logstore (JSON Lines).

The VPC's flow log captures every ENI (``ResourceType=VPC``, ``TrafficType=All``,
``AggregationInterval=10``): a connection between two instances appears on both ENIs, one
record per direction per 10-minute window (a long connection has one record per window it
spans); a rejected packet appears once, on the ENI whose security group dropped it. Fields and
values are those of https://www.alibabacloud.com/help/en/sls/vpc (all values strings, as SLS
exports them; ``__time__`` is the record's end).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import orjson

from trailguard.demo.clock import MINUTE, US
from trailguard.demo.world import REGION, World

WINDOW = 10 * MINUTE
PROTOCOL = {"tcp": 6, "udp": 17, "icmp": 1}
MSS = 1400


@dataclass(frozen=True, slots=True)
class Flow:
    start: int
    duration: int
    src: str
    src_port: int
    dst: str
    dst_port: int
    bytes_out: int
    """Bytes from the initiator to the responder."""
    bytes_in: int
    protocol: str = "tcp"
    action: str = "ACCEPT"


def _packets(size: int) -> int:
    return max(1, size // MSS + 3)


def _flags(protocol: str, first: bool, last: bool, initiator: bool, action: str) -> str:
    if protocol != "tcp":
        return "0"
    if action == "REJECT":
        return "2"
    value = 8 | 16  # PSH, ACK
    if first:
        value |= 2 if initiator else 18  # SYN / SYN-ACK
    if last:
        value |= 1  # FIN
    return str(value)


def flow_records(world: World, flow: Flow) -> Iterator[tuple[int, bytes]]:
    """(time, JSON line) of every record the flow log holds for ``flow``."""
    src_host = world.host_by_ip(flow.src)
    dst_host = world.host_by_ip(flow.dst)
    end = flow.start + flow.duration
    windows: list[tuple[int, int, bool, bool]] = []
    window_start = flow.start - flow.start % WINDOW
    while window_start < end or not windows:
        window_end = window_start + WINDOW
        begin = max(flow.start, window_start)
        finish = min(end, window_end)
        windows.append((begin, finish, begin == flow.start, finish == end))
        window_start = window_end
    total = max(1, flow.duration)
    for begin, finish, first, last in windows:
        share = max(1, finish - begin) / total if len(windows) > 1 else 1.0
        out_bytes = max(40, int(flow.bytes_out * share))
        in_bytes = max(40, int(flow.bytes_in * share)) if flow.bytes_in else 0
        legs: list[tuple[str, str, int, str, int, int, bool, str]] = []
        if flow.action == "REJECT":
            # Dropped where the security group stands: inbound at the responder's ENI,
            # outbound (a quarantined instance) at the initiator's.
            if dst_host is not None:
                legs.append((dst_host.name, flow.src, flow.src_port, flow.dst, flow.dst_port,
                             out_bytes, True, "in"))
            elif src_host is not None:
                legs.append((src_host.name, flow.src, flow.src_port, flow.dst, flow.dst_port,
                             out_bytes, True, "out"))
        else:
            if src_host is not None:
                legs.append((src_host.name, flow.src, flow.src_port, flow.dst, flow.dst_port,
                             out_bytes, True, "out"))
                if in_bytes:
                    legs.append((src_host.name, flow.dst, flow.dst_port, flow.src,
                                 flow.src_port, in_bytes, False, "in"))
            if dst_host is not None:
                legs.append((dst_host.name, flow.src, flow.src_port, flow.dst, flow.dst_port,
                             out_bytes, True, "in"))
                if in_bytes:
                    legs.append((dst_host.name, flow.dst, flow.dst_port, flow.src,
                                 flow.src_port, in_bytes, False, "out"))
        record_end = finish if last else begin - begin % WINDOW + WINDOW
        for host_name, src, sport, dst, dport, size, initiator, direction in legs:
            host = world.hosts[host_name]
            egress = direction == "out" and world.host_by_ip(dst) is None
            path = "7" if egress and not host.public else "1"
            record = {
                "__topic__": "flow_log",
                "__source__": "log_service",
                "__time__": str(record_end // US),
                "version": "1",
                "account-id": world.account_id,
                "region": REGION,
                "vpc-id": world.vpc_id,
                "vswitch-id": host.vswitch_id,
                "vm-id": host.instance_id,
                "eni-id": host.eni_id,
                "srcaddr": src,
                "srcport": str(sport),
                "dstaddr": dst,
                "dstport": str(dport),
                "protocol": str(PROTOCOL[flow.protocol]),
                "direction": direction,
                "packets": str(_packets(size) if flow.action == "ACCEPT" else 1 + size // 60),
                "bytes": str(size),
                "start": str(begin // US),
                "end": str(record_end // US),
                "action": flow.action,
                "log-status": "OK",
                "tcp-flags": _flags(flow.protocol, first, last, initiator, flow.action),
                "traffic_path": path,
            }
            yield record_end, orjson.dumps(record)
