"""`trailguard evidence record` and `trailguard evidence verify`: the chain of custody.

Exit codes: 0 intact; 3 case missing, locked or unusable; 6 a custody problem was found
(or the log does not verify, so nothing was recorded).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from trailguard.cli.text import shown
from trailguard.errors import TrailGuardError

if TYPE_CHECKING:
    from trailguard.custody import VerifyReport

EXIT_CASE = 3
EXIT_CUSTODY = 6

evidence_app = typer.Typer(
    name="evidence",
    help="Evidence under chain of custody: record it, verify it.",
    epilog="Exit codes: 0 intact; 3 case missing or locked; 6 custody problem found.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

CaseOption = Annotated[Path, typer.Option("--case", help="Case folder (created by ingest).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object for machines.")]
ActorOption = Annotated[str | None, typer.Option(
    "--actor", help="Who is acting (default: $TRAILGUARD_ACTOR or user@host).")]


def _consoles() -> tuple[Console, Console]:
    out = Console(highlight=False, soft_wrap=True)
    if not out.is_terminal:
        out = Console(highlight=False, soft_wrap=True, width=200)
    return out, Console(stderr=True, highlight=False, soft_wrap=True)


def _fail(error: TrailGuardError, code: int) -> typer.Exit:
    _, err = _consoles()
    err.print(f"[bold red]error:[/bold red] {shown(str(error))}")
    return typer.Exit(code)


@evidence_app.command("record")
def record_command(case: CaseOption, as_json: JsonOption = False,
                   actor: ActorOption = None) -> None:
    """Add every evidence file of the case to its custody log (running it again adds
    nothing)."""
    import json

    from trailguard.custody import LogTamperedError, record_evidence
    from trailguard.store.case import Case

    out, err = _consoles()
    try:
        with Case.open(case, read_only=True) as opened:
            result = record_evidence(opened.folder, opened.connection, actor=actor)
    except LogTamperedError as error:
        raise _fail(error, EXIT_CUSTODY) from None
    except TrailGuardError as error:
        raise _fail(error, EXIT_CASE) from None
    if as_json:
        sys.stdout.write(json.dumps({
            "recorded": len(result.added), "already_recorded": result.already_recorded,
            "changed_since_ingest": result.changed_since_ingest}, ensure_ascii=False) + "\n")
    else:
        out.print(f"recorded {len(result.added)} evidence entries "
                  f"({result.already_recorded} already in the custody log)")
    for path in result.changed_since_ingest:
        err.print(f"[yellow]warning:[/yellow] {shown(path)} no longer matches the hash "
                  "ingest measured (recorded with ingest's hash; verify will report it)")


@evidence_app.command("verify")
def verify_command(
    case: CaseOption,
    as_json: JsonOption = False,
    expected_fingerprint: Annotated[str | None, typer.Option(
        "--fingerprint", help="The case key fingerprint kept outside the case.")] = None,
    record: Annotated[bool, typer.Option(
        "--record", help="Append the outcome to the custody log as a 'verified' entry.")
    ] = False,
    actor: ActorOption = None,
) -> None:
    """Check the custody log and every file it names: changed, removed or added bytes."""
    from trailguard.custody import LogTamperedError, record_verification, verify
    from trailguard.store.case import Case

    out, _ = _consoles()
    try:
        with Case.open(case, read_only=True) as opened:
            report = verify(opened.folder, opened.connection, expected_fingerprint)
        if record:
            record_verification(case, report, actor=actor)
    except LogTamperedError as error:
        raise _fail(error, EXIT_CUSTODY) from None
    except TrailGuardError as error:
        raise _fail(error, EXIT_CASE) from None
    if as_json:
        sys.stdout.write(report.to_json() + "\n")
    else:
        _print_report(out, report)
    if not report.ok:
        raise typer.Exit(EXIT_CUSTODY)


def _print_report(out: Console, report: VerifyReport) -> None:
    summary = (f"{report.entries} log entries, {report.files_checked} files checked, key "
               f"{report.key_fingerprint or 'unknown'}")
    if report.ok:
        out.print(f"[green]custody intact[/green]: {shown(summary)}")
        return
    out.print(f"[bold red]{len(report.problems)} custody problem(s)[/bold red]: "
              f"{shown(summary)}")
    table = Table(show_lines=False)
    for column in ("kind", "where", "detail"):
        table.add_column(column)
    for problem in report.problems:
        where = [problem.path or "", f"seq {problem.seq}" if problem.seq is not None else "",
                 f"field {problem.field}" if problem.field else "",
                 f"bytes {problem.offset_range[0]}-{problem.offset_range[1]}"
                 if problem.offset_range else ""]
        table.add_row(shown(problem.kind), shown(", ".join(part for part in where if part)),
                      shown(problem.detail))
    out.print(table)
