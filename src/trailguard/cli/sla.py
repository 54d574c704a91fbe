"""`trailguard sla report` and `trailguard sla mark`: the 3-6-12 clocks of a case's incidents.

Exit codes: 0 success; 2 wrong usage (bad time, duration, clock or configuration); 3 case
missing, locked or without incidents; 7 a clock is breached and `--fail-on-breach` was given;
8 a breach notification could not be sent (it is in the audit log as "failed").
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from trailguard.cli.text import shown
from trailguard.errors import TrailGuardError

if TYPE_CHECKING:
    from trailguard.respond.clocks import ClockStatus, Notification, SlaReport

EXIT_USAGE = 2
EXIT_CASE = 3
EXIT_BREACHED = 7
EXIT_NOTIFY_FAILED = 8

sla_app = typer.Typer(
    name="sla",
    help="The 3-6-12 clocks: alert within 3 minutes, contain within 6 hours, recover within "
    "12 (each from the incident's first evidence).",
    epilog="Exit codes: 0 success; 2 wrong usage; 3 case missing, locked or without incidents; "
    "7 a clock is breached (with --fail-on-breach); 8 a notification could not be sent.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

CaseOption = Annotated[Path, typer.Option("--case", help="Case folder (created by ingest).")]

_STYLE = {"met": "green", "breached": "bold red", "running-breached": "bold red",
          "near-breach": "yellow", "running": "cyan", "unknown": "dim"}


def _consoles() -> tuple[Console, Console]:
    out = Console(highlight=False, soft_wrap=True)
    if not out.is_terminal:
        out = Console(highlight=False, soft_wrap=True, width=200)
    return out, Console(stderr=True, highlight=False, soft_wrap=True)


def _fail(error: TrailGuardError | str, code: int) -> typer.Exit:
    _, err = _consoles()
    err.print(f"[bold red]error:[/bold red] {shown(str(error))}")
    return typer.Exit(code)


def _notify_configs(path: Path) -> list[Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise _fail(f"cannot read {path}: {error}", EXIT_USAGE) from None
    if isinstance(data, dict):
        data = data.get("notify")
    if not isinstance(data, list) or not data:
        raise _fail(f"{path}: expected a list of notify targets (or `notify:` with one), "
                    "each {action: notify.webhook, params: {...}}", EXIT_USAGE)
    return data


@sla_app.command("report")
def report_command(
    case: CaseOption,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    now: Annotated[str | None, typer.Option(
        "--now", help="Evaluate the clocks at this ISO-8601 time (default: now).")] = None,
    notify: Annotated[Path | None, typer.Option(
        "--notify", help="YAML list of notify targets ({action, params}); breached and "
        "near-breach clocks are notified once each.")] = None,
    fail_on_breach: Annotated[bool, typer.Option(
        "--fail-on-breach", help="Exit with 7 when any clock is breached.")] = False,
    alert: Annotated[str | None, typer.Option(
        "--alert-target", help="Alert target (90s, 3m …; default: clocks.yml or 3m).")] = None,
    contain: Annotated[str | None, typer.Option(
        "--contain-target", help="Containment target (default: clocks.yml or 6h).")] = None,
    recover: Annotated[str | None, typer.Option(
        "--recover-target", help="Recovery target (default: clocks.yml or 12h).")] = None,
    near_breach: Annotated[float | None, typer.Option(
        "--near-breach", help="Share of a target that counts as near a breach (0.8).")] = None,
) -> None:
    """Each incident's detected, alerted, contained and recovered times, each clock's status,
    and MTTD, MTTA, MTTC and MTTR."""
    from trailguard.respond.clocks import (
        NOTIFY_KEYS_FILE,
        ClockConfigError,
        Targets,
        load_targets,
        notify_breaches,
        parse_time,
        sla_report,
    )
    from trailguard.respond.idempotency import FileIdempotencyStore

    out, err = _consoles()
    configs = _notify_configs(notify) if notify is not None else None
    try:
        at = parse_time(now) if now else None
        overrides = {name: value for name, value in (
            ("alert", alert), ("contain", contain), ("recover", recover),
            ("near_breach", near_breach)) if value is not None}
    except ClockConfigError as error:
        raise _fail(error, EXIT_USAGE) from None
    try:
        folder = case.resolve()
        targets = Targets.from_mapping(overrides, base=load_targets(folder))
        report = sla_report(folder, targets=targets, now=at)
    except ClockConfigError as error:
        raise _fail(error, EXIT_USAGE) from None
    except TrailGuardError as error:
        raise _fail(error, EXIT_CASE) from None
    notifications: list[Notification] = []
    if configs is not None:
        store = FileIdempotencyStore(report.case_folder / "respond" / NOTIFY_KEYS_FILE)
        try:
            notifications = notify_breaches(report, configs, store)
        except TrailGuardError as error:  # a bad target: nothing was sent
            raise _fail(error, EXIT_USAGE) from None
    if as_json:
        sys.stdout.write(json.dumps({**report.to_dict(), "notifications": [
            n.to_dict() for n in notifications]}, ensure_ascii=False) + "\n")
    else:
        _print_report(out, report, notifications)
    failed = [n for n in notifications if n.outcome == "failed"]
    for item in failed:
        err.print(f"[bold red]notification failed:[/bold red] {shown(item.action)} for "
                  f"{shown(item.incident)} ({item.clock}): {shown(item.error)}")
    if fail_on_breach and report.breached:
        raise typer.Exit(EXIT_BREACHED)
    if failed:
        raise typer.Exit(EXIT_NOTIFY_FAILED)


def _cell(clock: ClockStatus) -> str:
    style = _STYLE.get(clock.status, "")
    used = f" ({clock.used:.0%})" if clock.used is not None else ""
    return f"[{style}]{clock.status}[/{style}]{used}" if style else clock.status + used


def _print_report(out: Console, report: SlaReport, notifications: list[Notification]) -> None:
    from trailguard.respond.clocks import MILESTONE, format_duration, iso

    if not report.incidents:
        out.print("no incidents in this case")
    for item in report.incidents:
        t = item.times
        head = f"{t.incident}" + (f" [{t.severity}]" if t.severity else "")
        table = Table("clock", "from (detected)", "to", "elapsed", "target", "status",
                      title=shown(head) + (f": {shown(t.title)}" if t.title else ""),
                      title_justify="left")
        for clock in item.clocks:
            end = iso(clock.end) or "-"
            table.add_row(clock.clock, shown(iso(clock.start) or "-"),
                          f"{MILESTONE[clock.clock]} {shown(end)}",
                          format_duration(clock.elapsed), format_duration(clock.target),
                          _cell(clock))
        out.print(table)
        notes = [f"{c.clock}: {c.note}" for c in item.clocks if c.note]
        if t.acknowledged is not None:
            notes.append(f"acknowledged {iso(t.acknowledged)}")
        notes += [f"{name} from {source}" for name, source in t.sources.items()
                  if name != "detected"]
        for note in notes:
            out.print(f"  {shown(note)}")
    means = Table("mean", "value", "incidents used", "definition", title="Mean times",
                  title_justify="left")
    for name, mean in report.means.items():
        means.add_row(name, format_duration(mean.mean), f"{mean.count} of {mean.incidents}",
                      mean.definition)
    out.print(means)
    out.print(f"evaluated at {iso(report.now)}; targets: alert "
              f"{format_duration(report.targets.alert)}, contain "
              f"{format_duration(report.targets.contain)}, recover "
              f"{format_duration(report.targets.recover)}; near breach at "
              f"{report.targets.near_breach:.0%}")
    for n in notifications:
        out.print(f"notify {shown(n.action)} {shown(n.incident)} {n.clock} {n.status}: "
                  f"{n.outcome}")


@sla_app.command("mark")
def mark_command(
    incident: Annotated[str, typer.Argument(help="Incident id.")],
    clock: Annotated[str, typer.Argument(
        help="alerted | acknowledged | contained | recovered")],
    case: CaseOption,
    time: Annotated[str | None, typer.Option(
        "--time", help="When it happened (ISO-8601; default: now).")] = None,
    note: Annotated[str, typer.Option("--note", help="Why, who, how.")] = "",
) -> None:
    """Record when an incident was alerted, acknowledged, contained or recovered (appended
    to the case's audit log; a later mark of the same clock corrects an earlier one)."""
    from trailguard.respond.clocks import (
        MARKS,
        ClockConfigError,
        iso,
        mark,
        parse_time,
        read_incidents,
    )
    from trailguard.store.case import Case

    out, _ = _consoles()
    if clock not in MARKS:
        raise _fail(f"unknown clock {clock!r}; known: {', '.join(MARKS)}", EXIT_USAGE)
    try:
        at = parse_time(time) if time else None
    except ClockConfigError as error:
        raise _fail(error, EXIT_USAGE) from None
    try:
        with Case.open(case, read_only=True) as opened:
            known = {row[0] for row in read_incidents(opened.connection)}
            folder = opened.folder
    except TrailGuardError as error:
        raise _fail(error, EXIT_CASE) from None
    if incident not in known:
        raise _fail(f"no incident {incident!r} in this case", EXIT_USAGE)
    record = mark(folder, incident, clock, at, note)
    out.print(f"marked {shown(incident)} {clock} at {shown(iso(at) or record['detail']['time'])}"
              f" (audit seq {record['seq']})")
