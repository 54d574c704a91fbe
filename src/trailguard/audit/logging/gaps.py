"""Gaps in the ingested logs themselves: silences a stream's own rhythm makes implausible.

A *stream* is one source as one writer produced it:

* cloud audit trails (ActionTrail, CloudTrail …): per account and region;
* flow logs: per account, region, VPC and network interface;
* host logs: per host, or, when the format names none (web server logs, shell history), per
  evidence folder (rotated files of one log share a folder).

For every stream the database computes hourly counts, the silences between consecutive events
longer than :data:`CANDIDATE` and each day's longest silence; :mod:`.rhythm` judges them (the
statistic is described there). Silences before a stream's first and after its last event are
judged too, against the window its source type covers in the case (a host whose audit log stops
while the other hosts' go on). This is how "the audit log stopped syncing" is seen from the
evidence alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from trailguard.audit.checks import AuditCheck, AuditContext, register_audit_check
from trailguard.audit.finding import Finding
from trailguard.audit.logging.rhythm import (
    GAP_FACTOR,
    MIN_SILENCE,
    P_THRESHOLD,
    Rhythm,
    Silence,
    StreamJudgement,
    analyse,
)

if TYPE_CHECKING:
    import duckdb

CANDIDATE = MIN_SILENCE
"""Silences shorter than this are not even fetched from the database."""
CLOUD_TRAILS = frozenset({"actiontrail", "cloudtrail"})
FLOW_LOGS = frozenset({"vpcflow_aliyun", "vpcflow_aws"})
PROVIDER_SOURCES = {"aliyun": frozenset({"actiontrail", "vpcflow_aliyun"}),
                    "aws": frozenset({"cloudtrail", "vpcflow_aws"})}
_FLOW_KEYS = ("vpc-id", "eni-id", "interface-id")


@dataclass(frozen=True)
class Stream:
    source_type: str
    scope: str  # account/region[/vpc/eni], host, or evidence folder

    @property
    def label(self) -> str:
        return f"{self.source_type}:{self.scope}"


@dataclass(frozen=True)
class StreamResult:
    stream: Stream
    judgement: StreamJudgement

    @property
    def rhythm(self) -> Rhythm:
        return self.judgement.rhythm


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def human_duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    if hours or days:
        parts.append(f"{hours}h")
    parts.append(f"{minutes}m")
    return " ".join(parts)


def _tables(connection: duckdb.DuckDBPyConnection) -> set[str]:
    return {row[0] for row in connection.execute(
        "SELECT table_name FROM information_schema.tables").fetchall()}


def _columns(connection: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [row[0] for row in connection.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
        "ORDER BY ordinal_position", [table]).fetchall()]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def streams_sql(connection: duckdb.DuckDBPyConnection) -> str:
    """A query of ``(source_type, scope, t)`` (``t`` epoch seconds) for every timed event."""
    folder = ("regexp_replace(CASE WHEN coalesce(f.member, '') <> '' THEN f.member "
              "ELSE f.path END, '[/\\\\][^/\\\\]*$', '')")
    parts = [
        "SELECT e.source_type, CASE "
        "WHEN e.cloud_account IS NOT NULL OR e.cloud_region IS NOT NULL THEN "
        "concat_ws('/', coalesce(e.cloud_account, '-'), coalesce(e.cloud_region, '-')) "
        "WHEN coalesce(e.host, '') <> '' THEN e.host "
        f"ELSE coalesce({folder}, '-') END AS scope, epoch(e.time) AS t "
        "FROM events e LEFT JOIN files f ON f.id = e.file_id "
        "WHERE e.time IS NOT NULL AND e.source_type NOT IN ("
        + ", ".join(f"'{s}'" for s in sorted(FLOW_LOGS)) + ")"]
    tables = _tables(connection)
    for source in sorted(FLOW_LOGS):
        table = f"ev_{source}"
        if table not in tables:
            continue
        keys = [c for c in _FLOW_KEYS if c in _columns(connection, table)]
        scope = ", ".join(["coalesce(e.cloud_account, '-')", "coalesce(e.cloud_region, '-')",
                           *(f"coalesce(n.{_quote(k)}, '-')" for k in keys)])
        parts.append(f"SELECT e.source_type, concat_ws('/', {scope}) AS scope, "
                     f"epoch(e.time) AS t FROM events e JOIN {_quote(table)} n "
                     f"ON n._uid = e.uid WHERE e.time IS NOT NULL "
                     f"AND e.source_type = '{source}'")
    return " UNION ALL ".join(parts)


def analyse_case(connection: duckdb.DuckDBPyConnection,
                 sources: Iterable[str] | None = None) -> list[StreamResult]:
    """Every stream of the case (or of ``sources``) with its rhythm and judged silences."""
    base = streams_sql(connection)
    wanted = sorted(set(sources)) if sources is not None else None
    where = (" WHERE source_type IN (" + ", ".join("?" for _ in wanted) + ")"
             if wanted is not None else "")
    params: list[Any] = list(wanted or [])
    if wanted == []:
        return []
    stream_cte = f"WITH s AS (SELECT * FROM ({base}){where})"
    summary = connection.execute(
        f"{stream_cte} SELECT source_type, scope, count(*), min(t), max(t) FROM s "
        "GROUP BY ALL", params).fetchall()
    hourly: dict[tuple[str, str], dict[int, int]] = {}
    for source, scope, hour, count in connection.execute(
            f"{stream_cte} SELECT source_type, scope, CAST(floor(t / 3600) AS BIGINT), "
            "count(*) FROM s GROUP BY ALL", params).fetchall():
        hourly.setdefault((source, scope), {})[int(hour)] = int(count)
    lagged = (f"{stream_cte}, g AS (SELECT source_type, scope, t, "
              "lag(t) OVER (PARTITION BY source_type, scope ORDER BY t) AS prev, "
              "min(t) OVER (PARTITION BY source_type, scope) AS first FROM s)")
    silences: dict[tuple[str, str], list[tuple[float, float, str]]] = {}
    for source, scope, prev, t in connection.execute(
            f"{lagged} SELECT source_type, scope, prev, t FROM g "
            "WHERE t - prev >= ? ORDER BY source_type, scope, prev",
            [*params, CANDIDATE]).fetchall():
        silences.setdefault((source, scope), []).append((float(prev), float(t), "inside"))
    daily: dict[tuple[str, str], float] = {
        (source, scope): float(value or 0.0) for source, scope, value in connection.execute(
            f"{lagged}, d AS (SELECT source_type, scope, floor((prev - first) / 86400) AS day, "
            "max(t - prev) AS longest FROM g WHERE prev IS NOT NULL GROUP BY ALL) "
            "SELECT source_type, scope, median(longest) FROM d GROUP BY ALL", params).fetchall()}
    window: dict[str, tuple[float, float]] = {}
    for source, _scope, _count, first, last in summary:
        low, high = window.get(source, (float(first), float(last)))
        window[source] = (min(low, float(first)), max(high, float(last)))
    results = []
    for source, scope, count, first, last in sorted(summary):
        key = (source, scope)
        candidates = list(silences.get(key, []))
        low, high = window[source]
        if float(first) - low >= CANDIDATE:
            candidates.insert(0, (low, float(first), "before-first"))
        if high - float(last) >= CANDIDATE:
            candidates.append((float(last), high, "after-last"))
        judgement = analyse(hourly.get(key, {}), float(first), float(last), int(count),
                            daily.get(key, 0.0), candidates)
        results.append(StreamResult(Stream(source, scope), judgement))
    return results


def gap_evidence(result: StreamResult, silence: Silence) -> dict[str, Any]:
    rhythm = result.rhythm
    hours = silence.duration / 3600
    return {
        "stream": result.stream.label,
        "source_type": result.stream.source_type,
        "scope": result.stream.scope,
        "from": _iso(silence.start),
        "to": _iso(silence.end),
        "duration": human_duration(silence.duration),
        "duration_seconds": round(silence.duration),
        "edge": silence.edge,
        "expected_events": round(silence.expected_events, 1),
        "rate": {"per_hour_during_silence": round(silence.expected_events / hours, 2)
                 if hours else 0.0,
                 "per_hour_mean": round(rhythm.mean_rate, 2)},
        "statistic": {
            "test": "P(no event in the silence) under the stream's rhythm < threshold, "
                    "and duration >= minimum",
            "p_value": float(f"{silence.p_value:.3g}"),
            "p_negative_binomial": float(f"{silence.p_model:.3g}"),
            "p_empirical_empty_hours": float(f"{silence.p_empirical:.3g}"),
            "threshold": P_THRESHOLD,
            "dispersion": round(rhythm.dispersion, 3),
            "diurnal_profile": rhythm.diurnal,
            "minimum_seconds": round(silence.minimum),
            "minimum_rule": f"max({MIN_SILENCE:.0f} s, {GAP_FACTOR:g} x the stream's median "
                            "daily longest silence)",
            "stream_events": rhythm.events,
            "stream_from": _iso(rhythm.first),
            "stream_to": _iso(rhythm.last),
        },
    }


def gap_findings(check: AuditCheck, results: Iterable[StreamResult]) -> Iterator[Finding]:
    for result in results:
        for silence in result.judgement.gaps:
            severity = "high" if result.stream.source_type in CLOUD_TRAILS else "medium"
            yield check.finding(
                result.stream.label, gap_evidence(result, silence), severity=severity,
                title=(f"{result.stream.source_type} wrote nothing for "
                       f"{human_duration(silence.duration)} ({_iso(silence.start)} to "
                       f"{_iso(silence.end)}); about {silence.expected_events:.0f} events "
                       "expected"))


class _GapCheck(AuditCheck):
    """Shared run: the case's streams minus the other provider's cloud sources."""

    severity: ClassVar[str] = "high"
    title: ClassVar[str] = "Gap in the ingested logs"

    def run(self, context: AuditContext) -> Iterable[Finding]:
        if context.connection is None:
            return []
        other = set().union(*(v for k, v in PROVIDER_SOURCES.items() if k != self.provider))
        present = {row[0] for row in context.connection.execute(
            "SELECT DISTINCT source_type FROM events").fetchall()}
        return list(gap_findings(self, analyse_case(context.connection, present - other)))


@register_audit_check
class AliyunIngestedLogGap(_GapCheck):
    id = "aliyun.logging.gap_in_ingested_logs"
    provider = "aliyun"
    description = ("A stream of the ingested logs (ActionTrail per account and region, flow "
                   "logs per interface, host logs per host) fell silent far beyond its rhythm.")
    remediation: ClassVar[dict[str, str]] = {
        "cli": "aliyun actiontrail GetTrailStatus --Name <trail>  # then: aliyun actiontrail "
               "StartLogging --Name <trail>; recover the silence with LookupEvents (90 days)",
        "terraform": 'resource "alicloud_actiontrail_trail" "audit" {\n'
                     '  trail_name = "<trail>"\n  status     = "Enable"\n}',
    }


@register_audit_check
class AwsIngestedLogGap(_GapCheck):
    id = "aws.logging.gap_in_ingested_logs"
    provider = "aws"
    description = ("A stream of the ingested logs (CloudTrail per account and region, flow "
                   "logs per interface, host logs per host) fell silent far beyond its rhythm.")
    remediation: ClassVar[dict[str, str]] = {
        "cli": "aws cloudtrail get-trail-status --name <trail>  # then: aws cloudtrail "
               "start-logging --name <trail>; recover the silence with lookup-events (90 days)",
        "terraform": 'resource "aws_cloudtrail" "audit" {\n  name           = "<trail>"\n'
                     '  enable_logging = true\n}',
    }
