"""The `trailguard` command line (typer + rich).

Exit codes: 0 success; 1 nothing at all could be read (or a rule update failed); 2 wrong
usage; 3 case error; 4 query error; 5 no rules to run; 6 evidence custody problem found;
7 a 3-6-12 clock is breached (sla report --fail-on-breach); 8 a response step failed (run
it again to resume) or a notification could not be sent; 130 interrupted.
"""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from trailguard import __version__
from trailguard.cli.text import shown
from trailguard.errors import CaseError, QueryError, TrailGuardError

EXIT_NOTHING_READ = 1
EXIT_CASE = 3
EXIT_QUERY = 4
EXIT_INTERRUPTED = 130

app = typer.Typer(
    name="trailguard",
    help="TrailGuard: from raw cloud and host logs to a traced incident.",
    epilog="Exit codes: 0 success; 1 nothing at all could be read; 2 wrong usage; "
    "3 case missing or locked; 4 query refused or failed; 130 interrupted (run the same "
    "ingest again to complete it).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(highlight=False, soft_wrap=True)
if not out.is_terminal:  # piped output: do not squeeze tables to 80 columns
    out = Console(highlight=False, soft_wrap=True, width=200)
err = Console(stderr=True, highlight=False, soft_wrap=True)

CaseOption = Annotated[Path, typer.Option("--case", help="Case folder (created by ingest).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object for machines.")]


def _fail(error: TrailGuardError, code: int) -> typer.Exit:
    err.print(f"[bold red]error:[/bold red] {shown(str(error))}")
    return typer.Exit(code)


@app.callback(invoke_without_command=True)
def _root(
    version: Annotated[bool, typer.Option("--version", help="Print the version.")] = False,
) -> None:
    if version:
        out.print(f"trailguard {__version__}")
        raise typer.Exit(0)


@app.command()
def ingest(
    evidence: Annotated[list[Path], typer.Argument(help="Files, folders or archives.")],
    case: CaseOption,
    as_json: JsonOption = False,
    source: Annotated[
        str | None, typer.Option("--source", help="Force a source type instead of detecting it "
                     "(names: `trailguard sources`).")
    ] = None,
    year: Annotated[
        int | None, typer.Option("--year", help="Year for timestamps without one (syslog).")
    ] = None,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Show a progress bar (stderr).")
    ] = True,
) -> None:
    """Read evidence into a case: every record stored, quarantined or counted as duplicate."""
    from trailguard.cli.progress import IngestProgress
    from trailguard.ingest.pipeline import Ingest
    from trailguard.store.case import Case

    if source is not None:
        import trailguard.ingest.parsers  # noqa: F401
        from trailguard.ingest.base import PARSERS

        try:
            PARSERS.get(source)
        except TrailGuardError as error:
            raise _fail(error, typer.BadParameter.exit_code) from None
    try:
        with Case.open(case, create=True) as opened:
            runner = Ingest(opened, source=source, reference_year=year)
            if progress and err.is_terminal:
                with IngestProgress(err) as bar:
                    runner.progress = bar
                    report = runner.run(evidence)
            else:
                report = runner.run(evidence)
    except CaseError as error:
        raise _fail(error, EXIT_CASE) from None
    except TrailGuardError as error:
        raise _fail(error, typer.BadParameter.exit_code) from None
    except KeyboardInterrupt:
        err.print("[yellow]interrupted:[/yellow] files already written stay in the case; "
                  "running the same ingest again completes exactly the rest")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if as_json:
        out.print_json(json.dumps(report.to_json()))
    else:
        _print_ingest(report.to_json())
    if report.nothing_read and report.files + len(report.problems) > 0:
        if not as_json:
            err.print("[bold red]nothing could be read[/bold red]")
        raise typer.Exit(EXIT_NOTHING_READ)


def _short_time(value: str | None) -> str:
    return value[:19].replace("T", " ") if value else ""


def _print_ingest(summary: dict[str, Any]) -> None:
    table = Table(title="Ingest", title_justify="left")
    for column in ("source", "files", "records", "stored", "quarantined", "duplicates",
                   "first", "last"):
        table.add_column(column, justify="left" if column in ("source", "first", "last")
                         else "right", no_wrap=column == "source")
    for name, stats in summary["sources"].items():
        table.add_row(shown(name), *(f"{stats[key]:,}" for key in
                                      ("files", "records", "stored", "quarantined", "duplicates")),
                      _short_time(stats["first"]), _short_time(stats["last"]))
    table.add_row("[bold]total", f"{summary['files']:,}", f"{summary['records']:,}",
                  f"{summary['stored']:,}", f"{summary['quarantined']:,}",
                  f"{summary['duplicates']:,}", "", "")
    out.print(table)
    for problem in summary["problems"]:
        where = problem["file"] + (f"!{problem['member']}" if problem["member"] else "")
        err.print(f"[yellow]warning:[/yellow] {shown(where)}: {shown(problem['message'])}")


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="One read-only SQL statement (DuckDB dialect).")],
    case: CaseOption,
    as_json: JsonOption = False,
    limit: Annotated[int, typer.Option("--limit", help="Rows to show in the table view.")] = 100,
) -> None:
    """Run a read-only SQL query on a case (tables: events, ev_<source>, files, quarantine)."""
    from trailguard.store.query import run_query

    try:
        columns, rows = run_query(case, sql)
    except CaseError as error:
        raise _fail(error, EXIT_CASE) from None
    except QueryError as error:
        raise _fail(error, EXIT_QUERY) from None
    if as_json:
        records = [dict(zip(columns, row, strict=True)) for row in rows]
        sys.stdout.write(json.dumps(records, default=_json_default, ensure_ascii=False) + "\n")
        return
    table = Table(*[shown(column) for column in columns])
    for row in rows[:limit]:
        table.add_row(*[shown(_cell(value)) for value in row])
    out.print(table)
    if len(rows) > limit:
        err.print(f"[dim]{len(rows) - limit} more rows (use --limit or --json)[/dim]")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    return text if len(text) <= 200 else text[:199] + "…"


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace")
    return str(value)


@app.command()
def detect(
    case: CaseOption,
    rules: Annotated[
        list[Path] | None,
        typer.Option("--rules", help="Sigma rule files or folders to run (repeatable)."),
    ] = None,
    builtin: Annotated[
        bool, typer.Option("--builtin-rules/--no-builtin-rules",
                           help="Also run TrailGuard's own rule packs.")
    ] = True,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write the alerts as JSON Lines to this file.")
    ] = None,
    as_json: JsonOption = False,
    engine: Annotated[
        str, typer.Option("--engine", help="vector (default) or sql: how rules are evaluated.")
    ] = "vector",
    disabled_packs: Annotated[
        list[str] | None,
        typer.Option("--disable-pack", help="Switch a built-in pack off (repeatable; "
                     "`trailguard rules list` names them)."),
    ] = None,
) -> None:
    """Run Sigma rules (and correlations) over a case; store and write the alerts."""
    from trailguard.cli.detect import detect_command

    if engine not in ("vector", "sql"):
        raise typer.BadParameter("--engine must be vector or sql")
    detect_command(case, rules, builtin, out_file, as_json, engine, disabled_packs)


WindowOption = Annotated[
    list[str] | None,
    typer.Option("--window", help="Linking window of an entity kind, e.g. ip=72h, host=15m "
                 "(repeatable; kinds: ip, ip_private, access_key, principal, session, user, "
                 "host, instance, process, file, bucket, security_group, pod, domain, "
                 "invocation)."),
]
HubOption = Annotated[
    int | None,
    typer.Option("--hub-peers", help="An entity seen with more distinct hosts and principals "
                 "than this is a hub and links nothing (default 20)."),
]


@app.command()
def trace(
    case: CaseOption,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Write report.html, incidents.json, "
                                  "timeline.csv, attack-layer.json and iocs.stix.json here.")
    ] = None,
    as_json: JsonOption = False,
    window: WindowOption = None,
    hub_peers: HubOption = None,
) -> None:
    """Group the case's alerts into incidents and rebuild each attack chain."""
    from trailguard.cli.trace import trace_command

    trace_command(case, out_dir, as_json, window, hub_peers)


@app.command()
def investigate(
    evidence: Annotated[list[Path], typer.Argument(help="Files, folders or archives.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the report, incidents "
                                          "and alerts (the case goes to OUT/case).")],
    case: Annotated[
        Path | None, typer.Option("--case", help="Case folder (default: OUT/case).")
    ] = None,
    rules: Annotated[
        list[Path] | None,
        typer.Option("--rules", help="Sigma rule files or folders to run (repeatable)."),
    ] = None,
    builtin: Annotated[
        bool, typer.Option("--builtin-rules/--no-builtin-rules",
                           help="Also run TrailGuard's own rule packs.")
    ] = True,
    disabled_packs: Annotated[
        list[str] | None,
        typer.Option("--disable-pack", help="Switch a built-in pack off (repeatable)."),
    ] = None,
    as_json: JsonOption = False,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Show a progress bar (stderr).")
    ] = True,
    window: WindowOption = None,
    hub_peers: HubOption = None,
) -> None:
    """Ingest evidence, run the rules, trace incidents and write the report: the whole job."""
    from trailguard.cli.trace import investigate_command

    investigate_command(evidence, out_dir, case, rules, builtin, disabled_packs, as_json,
                        progress, window, hub_peers)


@app.command()
def sources(as_json: JsonOption = False) -> None:
    """List the evidence formats TrailGuard reads, with an example of each."""
    import trailguard.ingest.parsers  # noqa: F401
    from trailguard.ingest.base import PARSERS

    items = [{"source_type": name, "title": cls.TITLE, "example": cls.EXAMPLE}
             for name, cls in sorted(PARSERS)]
    if as_json:
        sys.stdout.write(json.dumps(items, ensure_ascii=False, indent=2) + "\n")
        return
    for item in items:
        out.print(f"[bold cyan]{shown(item['source_type'])}[/bold cyan]  {shown(item['title'])}")
        out.print(f"  [dim]example:[/dim] {shown(item['example'])}\n")


@app.command()
def demo(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for the evidence, ground truth, case and "
                           "alerts (an earlier demo there is replaced).")
    ] = Path("cases/demo-incident"),
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same bytes.")] = 1,
    as_json: JsonOption = False,
) -> None:
    """Write a realistic incident's evidence and ground truth, ingest, detect, measure.

    Five days of an Alibaba Cloud account and three hosts with one intrusion in them:
    <out>/evidence (ActionTrail OSS files, VPC flow logs, auth.log, audit.log, nginx logs, bash
    history), <out>/ground-truth.json (every attack step and its records), the case
    <out>/case, the built-in packs' alerts in <out>/alerts.jsonl, and a summary of which steps
    were alerted and how many benign records were.
    """
    from trailguard.cli.demo import demo_command

    demo_command(out_dir, seed, as_json)


def _register_groups() -> None:
    from trailguard.cli.audit import audit_app
    from trailguard.cli.detect import rules_app
    from trailguard.cli.evidence import evidence_app
    from trailguard.cli.respond import respond_app
    from trailguard.cli.sla import sla_app

    app.add_typer(rules_app, name="rules")
    app.add_typer(evidence_app, name="evidence")
    app.add_typer(respond_app, name="respond")
    app.add_typer(sla_app, name="sla")
    app.add_typer(audit_app, name="audit")


_register_groups()


def main() -> None:
    app()
