"""`trailguard respond`: contain an incident through the cloud APIs — plan (dry run, the
default), run (`--approve` for the steps that need it), and the least-privilege policy the
actions need."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from trailguard.cli.text import shown

respond_app = typer.Typer(
    help="Contain an incident through the Alibaba Cloud and AWS APIs: plan (dry run), run "
    "with approvals, the policy the actions need. Every call is in the case's audit log.",
    no_args_is_help=True,
)

CaseOption = Annotated[Path, typer.Option("--case", help="Case folder.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
PlaybookOption = Annotated[
    list[Path] | None,
    typer.Option("--playbook", help="Playbook files or folders (YAML or CACAO 2.0 JSON), "
                 "besides the built-in ones (repeatable)."),
]
OnlyOption = Annotated[
    list[str] | None, typer.Option("--only", help="Run only these playbook ids (repeatable).")]
RegionOption = Annotated[
    str | None, typer.Option("--region", help="Cloud region (default: ALIBABA_CLOUD_REGION_ID "
                             "or AWS_DEFAULT_REGION).")]
VarOption = Annotated[
    list[str] | None,
    typer.Option("--var", help="A playbook variable, NAME=VALUE (repeatable; e.g. "
                 "forensic_cidr=203.0.113.10/32)."),
]
ProfileOption = Annotated[
    str | None, typer.Option("--profile", help="AWS profile name (credentials otherwise from "
                             "the SDKs' standard chains).")]

EXIT_STEP_FAILED = 8


def _consoles() -> tuple[Any, Any]:
    from trailguard.cli.main import err, out

    return out, err


class Clients:
    """One provider client per provider, built on first use from the SDKs' standard
    credential chains (environment, profiles, ECS RAM role / instance role)."""

    def __init__(self, case: Path, region: str | None, profile: str | None) -> None:
        self.case = case
        self.region = region
        self.profile = profile
        self.built: dict[str, Any] = {}

    def __call__(self, action: Any) -> Any:
        provider = action.provider
        if provider not in self.built:
            self.built[provider] = self._build(provider)
        return self.built[provider]

    def _build(self, provider: str) -> Any:
        from trailguard.respond.errors import ParamsError

        if provider == "aliyun":
            from trailguard.respond.clients.aliyun import AliyunClient

            region = self.region or os.environ.get("ALIBABA_CLOUD_REGION_ID")
            if not region:
                raise ParamsError("an Alibaba Cloud region is needed: --region or "
                                  "ALIBABA_CLOUD_REGION_ID")
            return AliyunClient(region)
        if provider == "aws":
            from trailguard.respond.clients.aws import AwsClient

            return AwsClient(self.region, profile_name=self.profile)
        from trailguard.respond.clients.notify import NotifyClient
        from trailguard.respond.clocks import NOTIFY_KEYS_FILE
        from trailguard.respond.idempotency import FileIdempotencyStore

        # the same key store as `sla report --notify`, so the two never send one message twice
        return NotifyClient(FileIdempotencyStore(self.case / "respond" / NOTIFY_KEYS_FILE))


def _incident(case: Path, incident_id: str) -> Any:
    from trailguard.store.case import Case
    from trailguard.trace.model import incident_from_json
    from trailguard.trace.singles import documents

    with Case.open(case, read_only=True) as opened:
        tables = {row[0] for row in opened.connection.execute(
            "SELECT table_name FROM information_schema.tables").fetchall()}
        if "incidents" not in tables:
            raise typer.BadParameter("the case has no incidents: run `trailguard trace` first")
        for document in documents(opened.connection):
            data = json.loads(document)
            if data["id"] == incident_id:
                return incident_from_json(data)
    raise typer.BadParameter(f"no incident {incident_id!r} in the case")


def _variables(values: list[str] | None) -> dict[str, str]:
    found: dict[str, str] = {}
    for value in values or []:
        name, sep, text = value.partition("=")
        if not sep or not name.strip():
            raise typer.BadParameter(f"--var {value!r}: expected NAME=VALUE")
        found[name.strip()] = text
    return found


def _steps_for(incident: Any, playbook_paths: list[Path] | None, only: list[str] | None,
               variables: dict[str, str]) -> list[tuple[Any, list[Any]]]:
    """The playbooks to run and their concrete steps: those named with --only, else those
    matching the incident (one that cannot be expanded is left out with a warning)."""
    from trailguard.errors import TrailGuardError
    from trailguard.respond.playbooks.load import load_playbooks
    from trailguard.respond.playbooks.match import expand, matching

    playbooks = load_playbooks(list(playbook_paths or []), builtin=True)
    if only:
        chosen = [p for p in playbooks if p.id in only]  # named: run even if not matching
        unknown = set(only) - {p.id for p in chosen}
        if unknown:
            raise typer.BadParameter(f"--only: no playbook {', '.join(sorted(unknown))}")
    else:
        chosen = matching(playbooks, incident)
    expanded = []
    for playbook in chosen:
        try:
            expanded.append((playbook, expand(playbook, incident, variables)))
        except TrailGuardError as error:  # e.g. a variable only the responder can give
            if only:
                raise
            _, err = _consoles()
            err.print(f"[yellow]playbook {shown(playbook.id)} left out:[/yellow] "
                      f"{shown(str(error))} — name it with --only and give what it needs "
                      "(--var NAME=VALUE)")
    return expanded


def respond_command(incident_id: str, case: Path, playbooks: list[Path] | None,
                    only: list[str] | None, region: str | None, profile: str | None,
                    as_json: bool, *, execute: bool, approve: bool = False,
                    variables: list[str] | None = None) -> None:
    """Plan (dry run) or run the matching playbooks for one incident."""
    from trailguard.cli.main import _fail
    from trailguard.errors import TrailGuardError
    from trailguard.respond.run import plan_steps, run_steps

    out, _ = _consoles()
    try:
        incident = _incident(case, incident_id)
        clients = Clients(case, region, profile)
        reports = [run_steps(case, incident.id, playbook.id, steps, clients, approve=approve)
                   if execute else plan_steps(case, incident.id, playbook.id, steps, clients)
                   for playbook, steps in _steps_for(incident, playbooks, only,
                                                     _variables(variables))]
    except TrailGuardError as error:
        raise _fail(error, typer.BadParameter.exit_code) from None
    if as_json:
        sys.stdout.write(json.dumps({"incident": incident.id, "dry_run": not execute,
                                     "playbooks": [r.to_json() for r in reports]},
                                    ensure_ascii=False, default=str) + "\n")
    else:
        _print_reports(out, incident, reports, dry_run=not execute)
    if any(o.status == "failed" for r in reports for o in r.outcomes):
        raise typer.Exit(EXIT_STEP_FAILED)


def _print_reports(out: Any, incident: Any, reports: list[Any], dry_run: bool) -> None:
    if not reports:
        out.print(f"no playbook matches {shown(incident.id)} (tactics "
                  f"{shown(', '.join(incident.tactics))}); name one with --playbook")
        return
    for report in reports:
        title = (f"{'Plan (dry run)' if dry_run else 'Run'} of {report.playbook} for "
                 f"{incident.id}" + (f" — resumed {report.run}" if report.resumed else ""))
        table = Table("step", "action", "status", "calls and changes", title=title,
                      title_justify="left")
        for outcome in report.outcomes:
            detail = outcome.error or outcome.reason
            if outcome.plan is not None and not outcome.plan.empty:
                detail = outcome.plan.diff() + ("\n" + detail if detail else "")
            table.add_row(shown(outcome.key), shown(outcome.action), outcome.status,
                          shown(detail))
        out.print(table)
    if dry_run:
        out.print("[dim]nothing was changed; `trailguard respond run INCIDENT --case DIR "
                  "--approve` makes these calls (every one is written to the audit log)[/dim]")


@respond_app.command("plan")
def plan(incident: Annotated[str, typer.Argument(help="Incident id (INC-…).")],
         case: CaseOption, playbook: PlaybookOption = None, only: OnlyOption = None,
         var: VarOption = None, region: RegionOption = None, profile: ProfileOption = None,
         as_json: JsonOption = False) -> None:
    """Dry run: the matching playbooks' steps, the exact API calls and the diff."""
    respond_command(incident, case, playbook, only, region, profile, as_json, execute=False,
                    variables=var)


@respond_app.command("run")
def run(incident: Annotated[str, typer.Argument(help="Incident id (INC-…).")],
        case: CaseOption,
        approve: Annotated[bool, typer.Option("--approve", help="Approve the steps that "
                                              "need approval.")] = False,
        playbook: PlaybookOption = None, only: OnlyOption = None, var: VarOption = None,
        region: RegionOption = None, profile: ProfileOption = None,
        as_json: JsonOption = False) -> None:
    """Execute the matching playbooks (an interrupted run resumes where it stopped)."""
    respond_command(incident, case, playbook, only, region, profile, as_json, execute=True,
                    approve=approve, variables=var)


@respond_app.command("permissions")
def permissions(
    provider: Annotated[str, typer.Option("--provider", help="aliyun (RAM) or aws (IAM).")],
    action: Annotated[list[str] | None, typer.Option(
        "--action", help="Only these actions (repeatable; default all of the provider's).")
    ] = None,
) -> None:
    """Print the least-privilege policy document the response actions need."""
    from trailguard.errors import TrailGuardError
    from trailguard.respond.permissions import policy_document

    try:
        document = policy_document(provider, action)
    except TrailGuardError as error:
        _, err = _consoles()
        err.print(f"[bold red]error:[/bold red] {shown(str(error))}")
        raise typer.Exit(2) from None
    sys.stdout.write(json.dumps(document, indent=2) + "\n")
