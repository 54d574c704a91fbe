"""`trailguard demo`: write the demo incident's evidence, ingest it, detect, and measure."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from trailguard.cli.text import shown


def _consoles() -> tuple[Any, Any]:
    from trailguard.cli.main import err, out

    return out, err


def demo_command(out_dir: Path, seed: int, as_json: bool) -> None:
    from trailguard.cli.main import EXIT_CASE, EXIT_INTERRUPTED, _fail
    from trailguard.demo.generate import ALERTS, CASE, DemoError, generate
    from trailguard.demo.measure import ingest_and_detect
    from trailguard.errors import CaseError

    out, err = _consoles()
    chatty = not as_json and err.is_terminal
    try:
        if chatty:
            err.print(f"[dim]writing the demo evidence (seed {seed}) into "
                      f"{shown(str(out_dir))}…[/dim]")
        demo = generate(out_dir, seed)
        if chatty:
            err.print(f"[dim]ingesting {demo.records:,} records and running the built-in "
                      "packs…[/dim]")
        result = ingest_and_detect(demo.evidence, out_dir / CASE, demo.truth,
                                   alerts_file=out_dir / ALERTS)
    except DemoError as error:
        raise _fail(error, typer.BadParameter.exit_code) from None
    except CaseError as error:
        raise _fail(error, EXIT_CASE) from None
    except KeyboardInterrupt:
        err.print("[yellow]interrupted:[/yellow] run `trailguard demo` again; it replaces "
                  "the demo folder")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    from trailguard.report import write_outputs

    if result.trace is not None:
        write_outputs(result.trace, out_dir / REPORT, title="TrailGuard demo incident")
    summary = _summary(demo, result, out_dir)
    if as_json:
        sys.stdout.write(json.dumps(summary, ensure_ascii=False) + "\n")
        return
    _print(out, summary, result.measurement.table())


REPORT = "report"


def _summary(demo: Any, result: Any, out_dir: Path) -> dict[str, Any]:
    from trailguard.demo.generate import ALERTS, CASE

    truth = demo.truth
    report = result.report.to_json()
    return {
        "out": str(out_dir),
        "evidence": str(demo.evidence),
        "ground_truth": str(demo.truth_path),
        "case": str(out_dir / CASE),
        "alerts_file": str(out_dir / ALERTS),
        "seed": truth["seed"],
        "window": truth["window"],
        "files": demo.files,
        "records": truth["records"]["total"],
        "attack_records": truth["records"]["attack"],
        "benign_records": truth["records"]["benign"],
        "stored": report["stored"],
        "quarantined": report["quarantined"],
        "rules_run": result.run.rules_run,
        **result.measurement.as_dict(),
        "report": str(out_dir / REPORT / "report.html"),
        "trace": result.trace_measurement.as_dict() if result.trace_measurement else None,
        "seconds": {"generate": round(demo.seconds, 2),
                    **{key: round(value, 2) for key, value in result.seconds.items()}},
    }


def _print(out: Any, summary: dict[str, Any], rows: list[tuple[str, str, str, str, int, str]]
           ) -> None:
    seconds = summary["seconds"]
    window = summary["window"]
    out.print(f"[bold]Demo incident[/bold] (seed {summary['seed']}, "
              f"{shown(window['start'][:10])} to {shown(window['end'][:10])}): "
              f"{summary['files']:,} files, {summary['records']:,} records "
              f"({summary['attack_records']:,} attack, {summary['benign_records']:,} benign) "
              f"in {shown(summary['evidence'])} [dim]({seconds['generate']} s)[/dim]")
    out.print(f"ingest: {summary['stored']:,} stored, {summary['quarantined']:,} quarantined "
              f"into {shown(summary['case'])} [dim]({seconds['ingest']} s)[/dim]")
    out.print(f"detect: {summary['rules_run']:,} built-in rules, {summary['alerts']:,} alerts "
              f"written to {shown(summary['alerts_file'])} [dim]({seconds['detect']} s)"
              "[/dim]")
    table = Table("step", "technique", "tactic", "what happened", "records", "alerted by",
                  title="Attack steps (ground truth) and the alerts that found them",
                  title_justify="left")
    for step, technique, tactic, title, records, rules in rows:
        table.add_row(shown(step), shown(technique), shown(tactic), shown(title), f"{records:,}",
                      shown(rules) if rules != "—" else "[red]not alerted[/red]")
    out.print(table)
    rate = summary["benign_alert_rate"] * 100
    out.print(f"[bold]steps alerted: {summary['steps_alerted']} of {summary['steps_total']}"
              f"[/bold]; benign records alerted: {summary['benign_records_alerted']:,} of "
              f"{summary['benign_records']:,} ({rate:.2f} %)")
    _print_trace(out, summary)
    out.print(f"[dim]ground truth: {shown(summary['ground_truth'])}; explore with `trailguard "
              f"query --case {shown(summary['case'])} 'SELECT time, operation, actor_user, "
              "src_ip FROM events ORDER BY time'`[/dim]")


def _print_trace(out: Any, summary: dict[str, Any]) -> None:
    from trailguard.trace.model import human_bytes

    trace = summary.get("trace")
    if not trace:
        return
    entry, hops, exfil = trace["entry_point"], trace["lateral_movement"], trace["exfiltration"]

    def verdict(ok: bool) -> str:
        return "[green]as in the ground truth[/green]" if ok else "[red]differs[/red]"

    found = entry["found"] or {}
    out.print(f"[bold]trace:[/bold] {summary['alerts']:,} alerts → {trace['incidents']:,} "
              f"incidents; the attack incident {shown(str(trace['main_incident']))} holds "
              f"{trace['attack_alerts_in_main_incident']:,} of {trace['attack_alerts']:,} "
              f"attack alerts and {trace['steps_in_main_incident']} of {trace['steps_total']} "
              "steps")
    out.print(f"  entry point: {shown(str(found.get('rule', '—')))} on "
              f"{shown(str(found.get('host')))} at {shown(str(found.get('time', ''))[:19])} — "
              f"{verdict(entry['match'])}")
    out.print(f"  lateral movement: {hops['found']} hops (truth {hops['truth']}) — "
              f"{verdict(hops['match'])}")
    out.print(f"  exfiltrated: {human_bytes(exfil['found_bytes'])} "
              f"(truth {human_bytes(exfil['truth_bytes'])}) — {verdict(exfil['match'])}")
    out.print(f"  report: {shown(summary['report'])}")
