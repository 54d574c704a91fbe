"""`trailguard audit`: posture findings from a live account or a configuration export.

    trailguard audit --provider aliyun --from-export DIR [--case DIR] [--format json|sarif|html]
    trailguard audit run --provider aws [--keep-export DIR] [--region R …] [--out FILE]
    trailguard audit collect --provider aliyun --out DIR [--region R …]

Without ``--from-export`` the account is read live first (read-only calls, credentials from the
SDKs' default chains) into ``--keep-export DIR`` or a temporary folder.

Exit codes: 0 success; 1 nothing could be read (not an export, collection impossible); 2 wrong
usage; 3 case missing or locked.
"""

from __future__ import annotations

import json
import sys
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from trailguard.cli.text import shown
from trailguard.errors import CaseError, TrailGuardError

if TYPE_CHECKING:
    from trailguard.audit.run import AuditReport

EXIT_NOTHING_READ = 1
EXIT_USAGE = 2
EXIT_CASE = 3


class ProviderName(StrEnum):
    aliyun = "aliyun"
    aws = "aws"


class OutputFormat(StrEnum):
    json = "json"
    sarif = "sarif"
    html = "html"


ProviderOption = Annotated[ProviderName | None, typer.Option(
    "--provider", help="Cloud provider.", case_sensitive=False)]
FromExportOption = Annotated[Path | None, typer.Option(
    "--from-export", help="Audit this export folder instead of reading the account live.")]
CaseOption = Annotated[Path | None, typer.Option(
    "--case", help="Case folder: store the snapshot and findings, compare with the last "
    "snapshot, let checks read the ingested logs.")]
FormatOption = Annotated[OutputFormat, typer.Option("--format", help="Output format.")]
OutOption = Annotated[Path | None, typer.Option("--out", help="Write here (default stdout).")]
KeepOption = Annotated[Path | None, typer.Option(
    "--keep-export", help="Live audit: keep the collected export in this folder.")]
RegionOption = Annotated[list[str] | None, typer.Option(
    "--region", help="Region to read (repeatable; default: every region of the account).")]

OfflineOption = Annotated[bool, typer.Option(
    "--offline", help="No configuration (no live calls, no export): audit only what the "
    "case's logs show (needs --case).")]

audit_app = typer.Typer(
    name="audit",
    help="Posture audit: exposed security groups (with Alibaba's priorities), logging gaps, "
    "public buckets, risky keys. Give --provider to audit (same as `audit run`).",
    epilog="Exit codes: 0 success; 1 nothing could be read; 2 wrong usage; "
    "3 case missing or locked.",
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _err() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def _fail(message: str, code: int) -> typer.Exit:
    _err().print(f"[bold red]error:[/bold red] {shown(message)}")
    return typer.Exit(code)


def _render(report: AuditReport, fmt: OutputFormat) -> str:
    from trailguard.audit.report import to_html, to_json, to_sarif

    if fmt is OutputFormat.html:
        return to_html(report)
    document = to_sarif(report) if fmt is OutputFormat.sarif else to_json(report)
    return json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n"


def run_audit(provider: ProviderName, from_export: Path | None, case: Path | None,
              fmt: OutputFormat, out: Path | None, keep_export: Path | None,
              regions: list[str] | None, offline: bool = False) -> None:
    """Collect (when live), audit, write the report. `offline`: no configuration at all,
    only what the case's logs show (logging gaps, trail-based checks)."""
    from trailguard.audit.collect import collect
    from trailguard.audit.export import ExportReader
    from trailguard.audit.run import audit

    try:
        with tempfile.TemporaryDirectory(prefix="trailguard-export-") as scratch:
            export: ExportReader | None
            if offline:
                if case is None:
                    raise _fail("--offline audits a case's logs: give --case", EXIT_USAGE)
                export = None
            elif from_export is None:
                folder = keep_export or Path(scratch)
                result = collect(provider.value, folder, regions or None)
                _err().print(f"collected {len(result.files)} responses from "
                             f"{len(result.regions)} region(s); {len(result.errors)} call(s) "
                             "failed (see manifest.json)")
                export = ExportReader(folder)
            else:
                export = ExportReader(from_export)
            if export is not None and export.manifest.get("provider") not in (
                    None, "", provider.value):
                raise _fail(f"the export is from {export.manifest['provider']}, not "
                            f"{provider.value}", EXIT_USAGE)
            if case is not None:
                from trailguard.audit.run import trail_events
                from trailguard.store.case import Case

                with Case.open(case, create=True) as opened:
                    report = audit(provider.value, export, opened.connection,
                                   trail_events(opened.connection))
            else:
                report = audit(provider.value, export)
    except CaseError as error:
        raise _fail(str(error), EXIT_CASE) from None
    except TrailGuardError as error:
        raise _fail(str(error), EXIT_NOTHING_READ) from None
    text = _render(report, fmt)
    if out is None:
        sys.stdout.write(text)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    counts = ", ".join(f"{n} {s}" for s, n in report.counts().items() if n)
    _err().print(f"{len(report.findings)} finding(s){': ' + counts if counts else ''}"
                 + (f"; written to {shown(str(out))}" if out else ""))


@audit_app.callback(invoke_without_command=True)
def _audit_root(ctx: typer.Context, provider: ProviderOption = None,
                from_export: FromExportOption = None, case: CaseOption = None,
                fmt: FormatOption = OutputFormat.json, out: OutOption = None,
                keep_export: KeepOption = None, region: RegionOption = None,
                offline: OfflineOption = False) -> None:
    if ctx.invoked_subcommand is not None:
        return
    if provider is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(EXIT_USAGE)
    run_audit(provider, from_export, case, fmt, out, keep_export, region, offline)


@audit_app.command("run")
def run_command(provider: Annotated[ProviderName, typer.Option(
                    "--provider", help="Cloud provider.", case_sensitive=False)],
                from_export: FromExportOption = None, case: CaseOption = None,
                fmt: FormatOption = OutputFormat.json, out: OutOption = None,
                keep_export: KeepOption = None, region: RegionOption = None,
                offline: OfflineOption = False) -> None:
    """Audit an export (--from-export) or the live account (and a case's logs: --case)."""
    run_audit(provider, from_export, case, fmt, out, keep_export, region, offline)


@audit_app.command("collect")
def collect_command(provider: Annotated[ProviderName, typer.Option(
                        "--provider", help="Cloud provider.", case_sensitive=False)],
                    out: Annotated[Path, typer.Option("--out", help="Export folder to write.")],
                    region: RegionOption = None) -> None:
    """Read the account's configuration (read-only calls) into an export folder."""
    from trailguard.audit.collect import collect

    try:
        result = collect(provider.value, out, region or None)
    except TrailGuardError as error:
        raise _fail(str(error), EXIT_NOTHING_READ) from None
    _err().print(f"{len(result.files)} responses from {len(result.regions)} region(s) written "
                 f"to {shown(str(out))}; {len(result.errors)} call(s) failed")
    for failed in result.errors[:20]:
        _err().print(f"  {shown(failed['region'])} {shown(failed['action'])} "
                     f"{shown(failed['resource'] or '')}: {shown(failed['code'])}")
