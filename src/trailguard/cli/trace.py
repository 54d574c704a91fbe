"""`trailguard trace` and `trailguard investigate`: alerts → incidents → the report."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from trailguard.cli.text import shown

ALERTS_FILE = "alerts.jsonl"


def _consoles() -> tuple[Any, Any]:
    from trailguard.cli.main import err, out

    return out, err


def parse_windows(values: list[str] | None) -> dict[str, int]:
    """`--window KIND=SECONDS` (also `2h`, `30m`, `3d`) → {kind: seconds}."""
    from trailguard.trace.group import DEFAULT_WINDOWS

    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    windows: dict[str, int] = {}
    for value in values or []:
        kind, _, amount = value.partition("=")
        kind = kind.strip()
        if kind not in DEFAULT_WINDOWS:
            raise typer.BadParameter(
                f"--window: unknown entity kind {kind!r} (kinds: {', '.join(DEFAULT_WINDOWS)})")
        amount = amount.strip().lower()
        factor = units.get(amount[-1:], 0)
        number = amount[:-1] if factor else amount
        if not number.isdigit():
            raise typer.BadParameter(f"--window {value!r}: expected KIND=SECONDS, e.g. ip=72h")
        windows[kind] = int(number) * (factor or 1)
    return windows


def _config(windows: list[str] | None, hub_peers: int | None) -> Any:
    from trailguard.trace.tracer import TraceConfig

    config = TraceConfig()
    config.grouping.windows.update(parse_windows(windows))
    if hub_peers is not None:
        config.grouping.hub_peers = hub_peers
    return config


def trace_command(case: Path, out_dir: Path | None, as_json: bool, windows: list[str] | None,
                  hub_peers: int | None) -> None:
    from trailguard.cli.main import EXIT_CASE, _fail
    from trailguard.errors import CaseError
    from trailguard.store.case import Case
    from trailguard.trace.tracer import trace

    out, _ = _consoles()
    config = _config(windows, hub_peers)
    try:
        with Case.open(case) as opened:
            run = trace(opened.connection, config)
            written = (_write(run.result, out_dir, opened.connection)
                       if out_dir is not None else {})
            custody = (_record_custody(case, opened.connection, written.values())
                       if written else None)
    except CaseError as error:
        raise _fail(error, EXIT_CASE) from None
    summary = summarise(run, written)
    summary["custody"] = custody
    if as_json:
        sys.stdout.write(json.dumps(summary, ensure_ascii=False, default=str) + "\n")
        return
    print_summary(out, run.result, summary)


def _write(result: Any, out_dir: Path, connection: Any) -> dict[str, Path]:
    """The report files; incidents.json holds every incident of the case, the summarised
    single-alert ones included."""
    from trailguard.report import write_outputs
    from trailguard.trace.singles import documents

    every = documents(connection) if result.summarised_incidents else None
    return write_outputs(result, out_dir, documents=every)


def investigate_command(evidence: list[Path], out_dir: Path, case: Path | None,
                        rules: list[Path] | None, builtin: bool,
                        disabled_packs: list[str] | None, as_json: bool, progress: bool,
                        windows: list[str] | None, hub_peers: int | None) -> None:
    """Ingest → detect → trace → report, into `out_dir` (the case in `out_dir/case`)."""
    from trailguard.cli.detect import load_ruleset, run_detection
    from trailguard.cli.main import EXIT_CASE, EXIT_INTERRUPTED, EXIT_NOTHING_READ, _fail
    from trailguard.cli.progress import IngestProgress
    from trailguard.errors import CaseError, TrailGuardError
    from trailguard.ingest.pipeline import Ingest
    from trailguard.store.case import Case
    from trailguard.trace.tracer import trace

    out, err = _consoles()
    config = _config(windows, hub_peers)
    ruleset, cache = load_ruleset(rules, builtin, disabled_packs)
    case = case or out_dir / "case"
    chatty = not as_json and err.is_terminal
    try:
        with Case.open(case, create=True) as opened:
            runner = Ingest(opened)
            if progress and err.is_terminal:
                with IngestProgress(err) as bar:
                    runner.progress = bar
                    report = runner.run(evidence)
            else:
                report = runner.run(evidence)
            stored = opened.connection.execute("SELECT count(*) FROM events").fetchone()
            if report.nothing_read and not (stored and stored[0]):
                err.print("[bold red]nothing could be read[/bold red] from the evidence named")
                raise typer.Exit(EXIT_NOTHING_READ)
            if chatty:
                err.print(f"[dim]ingested {report.to_json().get('stored', 0):,} events; running "
                          f"{len(ruleset.rules):,} rules…[/dim]")
            detection, written = run_detection(opened.connection, ruleset, cache, "vector",
                                               out_dir / ALERTS_FILE)
            if chatty:
                err.print(f"[dim]{len(detection.alerts):,} alerts; tracing…[/dim]")
            run = trace(opened.connection, config)
            files = _write(run.result, out_dir, opened.connection)
            files[ALERTS_FILE] = out_dir / ALERTS_FILE
            custody = _record_custody(case, opened.connection, files.values())
    except CaseError as error:
        raise _fail(error, EXIT_CASE) from None
    except TrailGuardError as error:
        raise _fail(error, typer.BadParameter.exit_code) from None
    except KeyboardInterrupt:
        err.print("[yellow]interrupted:[/yellow] run the same command again; ingest resumes "
                  "where it stopped")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    summary = summarise(run, files)
    summary["custody"] = custody
    summary["ingest"] = report.to_json()
    summary["case"] = str(case)
    summary["alerts_written"] = written
    if as_json:
        sys.stdout.write(json.dumps(summary, ensure_ascii=False, default=str) + "\n")
        return
    print_summary(out, run.result, summary)


def _record_custody(case: Path, connection: Any, artefacts: Any) -> dict[str, Any]:
    """Evidence files and the artefacts written go into the case's custody log."""
    from trailguard.custody import record_artefact, record_evidence

    written = list(artefacts)
    recorded = record_evidence(case, connection)
    for path in written:
        record_artefact(case, path)
    return {"evidence_added": len(recorded.added), "artefacts": len(written)}


def summarise(run: Any, written: dict[str, Path]) -> dict[str, Any]:
    result = run.result
    return {
        **result.to_json(),
        "seconds": {name: round(value, 3) for name, value in run.seconds.items()},
        "files": {name: str(path) for name, path in sorted(written.items())},
        "top": [incident.to_json() for incident in result.incidents[:1]],
        "ranking": [
            {"id": i.id, "score": round(i.score, 1), "severity": i.severity,
             "alerts": i.alerts, "first": i.to_json()["first"], "last": i.to_json()["last"],
             "title": i.title}
            for i in result.incidents[:50]
        ],
    }


def print_summary(out: Any, result: Any, summary: dict[str, Any]) -> None:
    from trailguard.trace.model import human_bytes

    out.print(f"{summary['alerts']:,} alerts → {summary['incidents']:,} incidents "
              f"({summary['unlinked_alerts']:,} of them single alerts; "
              f"{summary['detailed_incidents']:,} traced in detail)")
    for hub in result.hubs[:5]:
        out.print(f"[dim]not linking through {shown(str(hub.ref))}: {shown(hub.reason)}[/dim]")
    if result.incidents:
        table = Table("#", "incident", "score", "alerts", "first", "last", "what",
                      title="Incidents, most serious first", title_justify="left")
        for rank, item in enumerate(summary["ranking"][:10], start=1):
            table.add_row(str(rank), item["id"], f"{item['score']:.0f} {item['severity']}",
                          f"{item['alerts']:,}", _short(item["first"]), _short(item["last"]),
                          shown(item["title"]))
        out.print(table)
        top = result.incidents[0]
        entry = top.entry_point
        if entry is not None:
            out.print(f"[bold]Entry point[/bold] {_short(_iso(entry.time))}: "
                      f"{shown(entry.description)} "
                      f"({shown(entry.tactic)} {shown(entry.technique)})")
        chain = Table("time", "tactic", "technique", "step", "alerts",
                      title=f"Chain of {top.id}", title_justify="left")
        alerted = [step for step in top.chain if not step.context]
        for step in alerted[:40]:
            chain.add_row(_short(_iso(step.time)), shown(step.tactic), shown(step.technique),
                          shown(str(step.rule.get("title", ""))), f"{step.alerts:,}")
        out.print(chain)
        if len(alerted) > 40:
            out.print(f"[dim]… {len(alerted) - 40:,} more steps in incidents.json[/dim]")
        if top.context_events:
            out.print(f"[dim]{top.context_events:,} events of the attacker's keys matched no "
                      "rule; they are in the chain as context[/dim]")
        for hop in top.lateral_movement:
            out.print(f"[bold]Lateral movement[/bold] {shown(hop.source)} → {shown(hop.target)} "
                      f"by {shown(hop.method)} at {_short(_iso(hop.time))} (×{hop.uses})")
        for item in top.exfiltration:
            amount = human_bytes(item.bytes) if item.bytes is not None else "size unknown"
            objects = f", {item.objects:,} objects" if item.objects else ""
            out.print(f"[bold]Exfiltration[/bold] {shown(item.destination)} via "
                      f"{shown(item.channel)}: {amount}{objects}")
        if top.next_steps:
            out.print("[bold]Next steps[/bold]")
            for number, text in enumerate(top.next_steps, start=1):
                out.print(f"  {number}. {shown(text)}")
    for name, path in summary["files"].items():
        out.print(f"[dim]wrote {shown(name)}: {shown(path)}[/dim]")


def _iso(value: Any) -> str | None:
    from trailguard.trace.model import iso

    return iso(value)


def _short(value: str | None) -> str:
    return value[:19].replace("T", " ") if value else ""
