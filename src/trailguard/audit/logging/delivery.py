"""Delivery of the ingested logs: late files, records out of order, trails stopped or deleted.

* **Late delivery:** ActionTrail's OSS objects are named
  ``Actiontrail_<region>_<YYYYMMDDHHMMSS>_…`` and CloudTrail's S3 objects
  ``<account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_…``: the delivery time. An event delivered
  more than :data:`LATE` after it happened, beyond the stream's own median lag (so that a
  provider writing the name in another time zone shifts every file alike and flags none), was
  held back; an event *after* its file's delivery time (beyond :data:`CLOCK_TOLERANCE`) cannot
  have been in that file honestly.
* **Out of order:** within one file, records are numbered as read; a record whose time is more
  than :data:`BACKWARDS` (:data:`FLOW_BACKWARDS` for flow logs) before its predecessor's was
  written out of order (inserted, or a clock
  set back). Shell history is exempt (each shell appends its history when it exits).
* **Trail stopped:** ``StopLogging``/``DeleteTrail`` in the trail itself, with the
  ``StartLogging``/``CreateTrail`` that ended the silence, if any.
"""

from __future__ import annotations

import datetime as dt
import re
import statistics
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from trailguard.audit.checks import AuditCheck, AuditContext, register_audit_check
from trailguard.audit.finding import Finding
from trailguard.audit.logging.gaps import human_duration

if TYPE_CHECKING:
    import duckdb

LATE = 3600.0
CLOCK_TOLERANCE = 300.0
BACKWARDS = 300.0
FLOW_BACKWARDS = 900.0
"""Flow records are written per aggregation window (up to 10 minutes) with the window's first
packet time, so they step back by up to a window; beyond 15 minutes they are out of order."""
EXAMPLES = 10
UNORDERED_SOURCES = frozenset({"shell_history"})
_DELIVERY = {
    "actiontrail": re.compile(r"Actiontrail_[A-Za-z0-9-]+_(\d{14})_"),
    "cloudtrail": re.compile(r"_CloudTrail_[A-Za-z0-9-]+_(\d{8}T\d{4}Z)_"),
}
_FORMATS = {"actiontrail": "%Y%m%d%H%M%S", "cloudtrail": "%Y%m%dT%H%MZ"}
_STOP = ("StopLogging", "DeleteTrail")
_START = ("StartLogging", "CreateTrail")


def _iso(value: dt.datetime) -> str:
    return value.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def delivery_time(source_type: str, name: str) -> dt.datetime | None:
    """The delivery time an ActionTrail or CloudTrail object name carries, naive UTC."""
    pattern = _DELIVERY.get(source_type)
    match = pattern.search(name) if pattern else None
    if match is None:
        return None
    return dt.datetime.strptime(match[1], _FORMATS[source_type])


@dataclass(frozen=True)
class DeliveredFile:
    file_id: int
    name: str
    stream: str
    source_type: str
    delivered: dt.datetime
    oldest: dt.datetime
    newest: dt.datetime
    events: int

    @property
    def lag(self) -> float:
        """Seconds from the file's oldest event to its delivery."""
        return (self.delivered - self.oldest).total_seconds()


def delivered_files(connection: duckdb.DuckDBPyConnection,
                    sources: Iterable[str]) -> list[DeliveredFile]:
    wanted = sorted(set(sources) & set(_DELIVERY))
    if not wanted:
        return []
    rows = connection.execute(
        "SELECT f.id, CASE WHEN coalesce(f.member, '') <> '' THEN f.member ELSE f.path END, "
        "e.source_type, concat_ws('/', coalesce(e.cloud_account, '-'), "
        "coalesce(e.cloud_region, '-')), min(e.time), max(e.time), count(*) "
        "FROM events e JOIN files f ON f.id = e.file_id WHERE e.time IS NOT NULL AND "
        "e.source_type IN (" + ", ".join("?" for _ in wanted) + ") GROUP BY ALL",
        wanted).fetchall()
    found = []
    for file_id, name, source, scope, oldest, newest, count in rows:
        delivered = delivery_time(source, str(name).replace("\\", "/").rsplit("/", 1)[-1])
        if delivered is not None:
            found.append(DeliveredFile(int(file_id), str(name), f"{source}:{scope}", source,
                                       delivered, oldest, newest, int(count)))
    return found


def late_deliveries(files: list[DeliveredFile]) -> dict[str, dict[str, Any]]:
    """Per stream: the files held back beyond its median lag, and files holding events from
    after their own delivery time."""
    by_stream: dict[str, list[DeliveredFile]] = {}
    for item in files:
        by_stream.setdefault(item.stream, []).append(item)
    report: dict[str, dict[str, Any]] = {}
    for stream, items in sorted(by_stream.items()):
        median = statistics.median(item.lag for item in items)
        late = [i for i in items if i.lag - median > LATE]
        future = [i for i in items
                  if (i.newest - i.delivered).total_seconds() > CLOCK_TOLERANCE + max(0, -median)]
        if not late and not future:
            continue
        worst = max(late, key=lambda i: i.lag, default=None)
        report[stream] = {
            "stream": stream, "files": len(items), "median_lag_seconds": round(median),
            "late_files": len(late), "late_events": sum(i.events for i in late),
            "max_lag": human_duration(worst.lag) if worst else None,
            "events_after_delivery_files": len(future),
            "threshold_seconds": LATE,
            "examples": [{"file": i.name, "delivered": _iso(i.delivered),
                          "oldest_event": _iso(i.oldest), "newest_event": _iso(i.newest),
                          "lag": human_duration(i.lag)}
                         for i in sorted(late + future, key=lambda i: -i.lag)[:EXAMPLES]],
        }
    return report


def out_of_order(connection: duckdb.DuckDBPyConnection,
                 sources: Iterable[str]) -> list[dict[str, Any]]:
    """Files whose records go back in time by more than :data:`BACKWARDS`."""
    wanted = sorted(set(sources) - UNORDERED_SOURCES)
    if not wanted:
        return []
    rows = connection.execute(
        "WITH o AS (SELECT file_id, source_type, record, time, "
        "epoch(lag(time) OVER (PARTITION BY file_id ORDER BY record)) - epoch(time) AS back "
        "FROM events WHERE time IS NOT NULL AND source_type IN ("
        + ", ".join("?" for _ in wanted) + ")) "
        "SELECT o.file_id, o.source_type, CASE WHEN coalesce(f.member, '') <> '' "
        "THEN f.member ELSE f.path END, count(*), max(back), arg_max(record, back), "
        "arg_max(time, back) FROM o JOIN files f ON f.id = o.file_id WHERE back > CASE WHEN "
        "o.source_type LIKE 'vpcflow%' THEN ? ELSE ? END GROUP BY ALL ORDER BY 1",
        [*wanted, FLOW_BACKWARDS, BACKWARDS]).fetchall()
    return [{"file": name, "source_type": source, "records_out_of_order": int(count),
             "largest_step_back": human_duration(float(back)),
             "largest_step_back_seconds": round(float(back)), "at_record": int(record),
             "at_time": _iso(time),
             "tolerance_seconds": FLOW_BACKWARDS if source.startswith("vpcflow") else BACKWARDS}
            for _file, source, name, count, back, record, time in rows]


def trail_stops(connection: duckdb.DuckDBPyConnection,
                sources: Iterable[str]) -> list[dict[str, Any]]:
    """Every StopLogging/DeleteTrail with the StartLogging/CreateTrail that ended it."""
    wanted = sorted(set(sources) & set(_DELIVERY))
    if not wanted:
        return []
    rows = connection.execute(
        "SELECT operation, coalesce(resource, '-'), time, actor_user, actor_access_key, "
        "src_ip, outcome, cloud_account, cloud_region, uid FROM events WHERE "
        "source_type IN (" + ", ".join("?" for _ in wanted) + ") AND operation IN "
        "('StopLogging', 'DeleteTrail', 'StartLogging', 'CreateTrail') ORDER BY time",
        wanted).fetchall()
    stops = []
    for index, row in enumerate(rows):
        operation, trail, time, user, key, ip, outcome, account, region, uid = row
        if operation not in _STOP or outcome == "failure":
            continue
        restart = next((r for r in rows[index + 1:] if r[0] in _START and r[1] == trail
                        and r[6] != "failure"), None)
        stops.append({
            "trail": trail, "operation": operation, "time": _iso(time), "actor": user,
            "access_key": key, "source_ip": ip, "account": account, "region": region,
            "event": uid,
            "ended_by": None if restart is None else {
                "operation": restart[0], "time": _iso(restart[2]), "actor": restart[3],
                "source_ip": restart[5], "event": restart[9]},
            "silence": None if restart is None else human_duration(
                (restart[2] - time).total_seconds()),
        })
    return stops


def _present(connection: duckdb.DuckDBPyConnection) -> set[str]:
    return {row[0] for row in connection.execute(
        "SELECT DISTINCT source_type FROM events").fetchall()}


_TRAIL = {"aliyun": "actiontrail", "aws": "cloudtrail"}
_OTHER_CLOUD = {"aliyun": {"cloudtrail", "vpcflow_aws"}, "aws": {"actiontrail", "vpcflow_aliyun"}}


class _LateDelivery(AuditCheck):
    severity: ClassVar[str] = "medium"
    title: ClassVar[str] = "Trail files delivered late, or holding events from after delivery"

    def run(self, context: AuditContext) -> Iterable[Finding]:
        if context.connection is None:
            return []
        files = delivered_files(context.connection, [_TRAIL[self.provider]])
        return [self.finding(stream, evidence)
                for stream, evidence in late_deliveries(files).items()]


class _OutOfOrder(AuditCheck):
    severity: ClassVar[str] = "low"
    title: ClassVar[str] = "Log records out of time order within a file"

    def run(self, context: AuditContext) -> Iterable[Finding]:
        if context.connection is None:
            return []
        sources = _present(context.connection) - _OTHER_CLOUD[self.provider]
        return [self.finding(item["file"], item)
                for item in out_of_order(context.connection, sources)]


class _TrailStopped(AuditCheck):
    severity: ClassVar[str] = "high"
    title: ClassVar[str] = "The audit trail was stopped or deleted"

    def run(self, context: AuditContext) -> Iterator[Finding]:
        if context.connection is None:
            return
        for stop in trail_stops(context.connection, [_TRAIL[self.provider]]):
            ended = stop["ended_by"]
            yield self.finding(
                stop["trail"], stop,
                title=(f"{stop['operation']} on {stop['trail']} by {stop['actor']} from "
                       f"{stop['source_ip']} at {stop['time']}"
                       + (f"; logging resumed {ended['time']} ({stop['silence']} later)"
                          if ended else "; never restarted in the evidence")))


_ALIYUN_FIX = {
    "cli": "aliyun actiontrail StartLogging --Name <trail>",
    "terraform": 'resource "alicloud_actiontrail_trail" "audit" {\n  trail_name = "<trail>"\n'
                 '  status     = "Enable"\n}',
}
_AWS_FIX = {
    "cli": "aws cloudtrail start-logging --name <trail>",
    "terraform": 'resource "aws_cloudtrail" "audit" {\n  name           = "<trail>"\n'
                 '  enable_logging = true\n}',
}


@register_audit_check
class AliyunLateDelivery(_LateDelivery):
    id = "aliyun.logging.late_delivery"
    provider = "aliyun"
    remediation = _ALIYUN_FIX


@register_audit_check
class AwsLateDelivery(_LateDelivery):
    id = "aws.logging.late_delivery"
    provider = "aws"
    remediation = _AWS_FIX


@register_audit_check
class AliyunOutOfOrder(_OutOfOrder):
    id = "aliyun.logging.out_of_order_records"
    provider = "aliyun"
    remediation: ClassVar[dict[str, str]] = {
        "cli": "sha256sum <file>  # compare with the collected copy and the host's clock "
               "(chronyc tracking)", "terraform": ""}


@register_audit_check
class AwsOutOfOrder(_OutOfOrder):
    id = "aws.logging.out_of_order_records"
    provider = "aws"
    remediation = AliyunOutOfOrder.remediation


@register_audit_check
class AliyunTrailStopped(_TrailStopped):
    id = "aliyun.logging.trail_stopped_in_trail"
    provider = "aliyun"
    remediation = _ALIYUN_FIX


@register_audit_check
class AwsTrailStopped(_TrailStopped):
    id = "aws.logging.trail_stopped_in_trail"
    provider = "aws"
    remediation = _AWS_FIX
