"""`trailguard detect` and `trailguard rules check|update`."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from trailguard.cli.text import shown

EXIT_NO_RULES = 5

rules_app = typer.Typer(help="Check Sigma rules, or fetch the current SigmaHQ release.",
                        no_args_is_help=True)

RulesOption = Annotated[
    list[Path] | None,
    typer.Option("--rules", help="Sigma rule files or folders to run (repeatable)."),
]


def _consoles() -> tuple[Any, Any]:
    from trailguard.cli.main import err, out

    return out, err


def check_report(paths: list[Path], per_rule: list[dict[str, Any]] | None = None
                 ) -> dict[str, Any]:
    """{"rules", "compiled", "refused", "refusals": [{"path", "id", "reason"}]} for rule paths;
    `per_rule` (when given) receives one entry per rule: compiled with its routes, or refused."""
    from trailguard.detect.correlation import CorrelationError
    from trailguard.detect.correlation.rule import plan_of
    from trailguard.detect.plan import plan_rules
    from trailguard.detect.rules import load_rules

    ruleset = load_rules([(path, "user") for path in paths])
    plan = plan_rules(ruleset)
    refusals = [refusal.as_dict() for refusal in ruleset.refusals]
    compiled = len(plan.compiled)
    if per_rule is not None:
        per_rule.extend(
            {"path": str(item.loaded.path), "id": item.loaded.id, "title": item.loaded.title,
             "status": "compiled", "routes": [route.route.label for route in item.routes]}
            for item in plan.compiled
        )
    for loaded in ruleset.rules:
        if loaded.id in plan.refused:
            refusals.append({"path": str(loaded.path), "id": loaded.id,
                             "title": loaded.title, "reason": plan.refused[loaded.id]})
        elif loaded.is_correlation:
            try:
                plan_of(loaded.rule)  # type: ignore[arg-type]
                compiled += 1
            except CorrelationError as error:
                refusals.append({"path": str(loaded.path), "id": loaded.id,
                                 "title": loaded.title, "reason": str(error)})
    if per_rule is not None:
        per_rule.extend({**refusal, "status": "refused"} for refusal in refusals)
    return {
        "files": ruleset.files,
        "rules": compiled + len(refusals),
        "compiled": compiled,
        "refused": len(refusals),
        "refusals": refusals,
    }


@rules_app.command("check")
def rules_check(
    paths: Annotated[list[Path], typer.Argument(help="Rule files or folders.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    report_file: Annotated[
        Path | None, typer.Option("--report", help="Write one JSON line per rule here: "
                                  "compiled (with the routes it runs on) or refused (why).")
    ] = None,
) -> None:
    """Compile every rule: compiled, or refused with the reason."""
    out, err = _consoles()
    missing = [path for path in paths if not path.exists()]
    if missing:
        err.print(f"[bold red]error:[/bold red] no such file or folder: {shown(str(missing[0]))}")
        raise typer.Exit(2)
    per_rule: list[dict[str, Any]] = []
    report = check_report(paths, per_rule)
    if report_file is not None:
        report_file.parent.mkdir(parents=True, exist_ok=True)
        with report_file.open("w", encoding="utf-8") as handle:
            for entry in per_rule:
                handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
    if as_json:
        sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
        return
    reasons = Counter(_reason_family(r["reason"]) for r in report["refusals"])
    out.print(f"{report['rules']:,} rules in {report['files']:,} files: "
              f"[green]{report['compiled']:,} compiled[/green], "
              f"[yellow]{report['refused']:,} refused[/yellow]")
    if reasons:
        table = Table("refusals", "reason", title="Why rules were refused", title_justify="left")
        for reason, count in reasons.most_common():
            table.add_row(f"{count:,}", shown(reason))
        out.print(table)


def _reason_family(reason: str) -> str:
    """Refusal reasons grouped for the summary (the logsource, not each rule's own text)."""
    return reason if len(reason) <= 120 else reason[:119] + "…"


def list_report() -> dict[str, Any]:
    """The built-in packs and the installed SigmaHQ release, with their rule counts."""
    from trailguard.detect.rules import load_rules
    from trailguard.detect.sources import builtin_packs, default_rule_paths, sigmahq_rules

    packs = []
    for name, folder in builtin_packs().items():
        ruleset = load_rules([(folder, "builtin")])
        correlations = sum(1 for rule in ruleset.rules if rule.is_correlation)
        packs.append({"pack": name, "source": "builtin", "path": str(folder),
                      "rules": len(ruleset.rules) - correlations, "correlations": correlations,
                      "refused": len(ruleset.refusals)})
    installed = sigmahq_rules()
    if installed is not None:
        folders = [path for path, source in default_rule_paths(False) if source == "sigmahq"]
        from trailguard.detect.rules import rule_files

        packs.append({"pack": "sigmahq", "source": "sigmahq", "path": str(installed),
                      "rules": sum(1 for _ in rule_files(folders)), "correlations": None,
                      "refused": None})
    return {"packs": packs}


@rules_app.command("list")
def rules_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """The rule packs `detect` runs by default, with their rule counts."""
    out, _ = _consoles()
    report = list_report()
    if as_json:
        sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
        return
    table = Table("pack", "source", "rules", "correlations", "path", title="Rule packs",
                  title_justify="left")
    for pack in report["packs"]:
        table.add_row(shown(pack["pack"]), pack["source"], f"{pack['rules']:,}",
                      "" if pack["correlations"] is None else f"{pack['correlations']:,}",
                      shown(pack["path"]))
    out.print(table)
    out.print("[dim]switch a built-in pack off with `detect --disable-pack NAME`; install "
              "SigmaHQ's rules with `rules update`[/dim]")


@rules_app.command("update")
def rules_update(
    url: Annotated[str | None, typer.Option("--url", help="Release archive to fetch.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Fetch the current SigmaHQ release into the user's data folder."""
    from trailguard.detect.sources import SIGMAHQ_URL, RuleUpdateError, update_sigmahq

    out, err = _consoles()
    try:
        result = update_sigmahq(url or SIGMAHQ_URL)
    except RuleUpdateError as error:
        err.print(f"[bold red]error:[/bold red] {shown(str(error))}")
        raise typer.Exit(1) from None
    if as_json:
        sys.stdout.write(json.dumps(result.as_dict()) + "\n")
        return
    out.print(f"installed {result.rule_files:,} rule files from {shown(result.url)} "
              f"into {shown(str(result.folder))} (sha256 {result.sha256[:16]}…)")


def load_ruleset(rules: list[Path] | None, builtin: bool,
                 disabled_packs: list[str] | None) -> tuple[Any, Any]:
    """The rules to run (built-in packs and the user's), and the compile cache; exits with a
    clear error on a missing path, an unknown pack or no rules at all."""
    from trailguard.detect.cache import CompileCache
    from trailguard.detect.rules import load_rules
    from trailguard.detect.sources import default_rule_paths
    from trailguard.errors import TrailGuardError

    _, err = _consoles()
    missing = [path for path in rules or [] if not path.exists()]
    if missing:
        err.print(f"[bold red]error:[/bold red] no such file or folder: {shown(str(missing[0]))}")
        raise typer.Exit(2)
    try:
        paths = default_rule_paths(builtin, disabled_packs or [])
    except TrailGuardError as error:
        err.print(f"[bold red]error:[/bold red] {shown(str(error))}")
        raise typer.Exit(2) from None
    paths += [(path, "user") for path in rules or []]
    cache = CompileCache.default()
    ruleset = load_rules(paths, cache)
    if not ruleset.rules:
        err.print("[bold red]error:[/bold red] no rules to run: name rule files with --rules, "
                  "or run `trailguard rules update` to install the SigmaHQ rules")
        raise typer.Exit(EXIT_NO_RULES)
    return ruleset, cache


def run_detection(connection: Any, ruleset: Any, cache: Any, engine: str,
                  out_file: Path | None) -> tuple[Any, int]:
    """Run the rules over an open case, store the alerts, write them as JSON Lines."""
    from trailguard.detect.alerts import EventDetails, store, write_jsonl
    from trailguard.detect.run import detect

    run = detect(connection, ruleset, vectorised=engine == "vector", cache=cache)
    store(connection, run.alerts)
    written = 0
    if out_file is not None:
        details = EventDetails.read(
            connection, [ref.uid for alert in run.alerts for ref in (alert.event, *alert.members)])
        out_file.parent.mkdir(parents=True, exist_ok=True)
        with out_file.open("w", encoding="utf-8") as handle:
            written = write_jsonl(handle, run.alerts, details)
    return run, written


def detect_command(
    case: Path,
    rules: list[Path] | None,
    builtin: bool,
    out_file: Path | None,
    as_json: bool,
    engine: str,
    disabled_packs: list[str] | None = None,
) -> None:
    from trailguard.cli.main import EXIT_CASE, _fail
    from trailguard.errors import CaseError
    from trailguard.store.case import Case

    out, err = _consoles()
    ruleset, cache = load_ruleset(rules, builtin, disabled_packs)
    try:
        with Case.open(case) as opened:
            run, written = run_detection(opened.connection, ruleset, cache, engine, out_file)
    except CaseError as error:
        raise _fail(error, EXIT_CASE) from None
    summary = _summary(run, written, out_file)
    if as_json:
        sys.stdout.write(json.dumps(summary, ensure_ascii=False, default=str) + "\n")
        return
    _print_summary(out, err, summary, run)


def _summary(run: Any, written: int, out_file: Path | None) -> dict[str, Any]:
    by_rule = Counter(alert.rule.id for alert in run.alerts)
    titles = {alert.rule.id: alert.rule for alert in run.alerts}
    return {
        "rules": len(run.ruleset.rules),
        "rules_run": run.rules_run,
        "refused": len(run.plan.refused) + len(run.ruleset.refusals),
        "rule_errors": run.stats.errors,
        "correlation_errors": run.correlation_errors,
        "matches": run.matches,
        "alerts": len(run.alerts),
        "written": written,
        "out": str(out_file) if out_file else None,
        "seconds": {k: round(v, 3) for k, v in run.seconds.items()},
        "top_rules": [
            {**titles[rule_id].describe(), "alerts": count}
            for rule_id, count in by_rule.most_common(20)
        ],
    }


def _print_summary(out: Any, err: Any, summary: dict[str, Any], run: Any) -> None:
    out.print(f"{summary['rules_run']:,} rules run ({summary['refused']:,} refused), "
              f"{summary['alerts']:,} alerts")
    if summary["top_rules"]:
        table = Table("alerts", "level", "rule", "author", title="Alerts by rule",
                      title_justify="left")
        for item in summary["top_rules"]:
            table.add_row(f"{item['alerts']:,}", shown(item["level"]), shown(item["title"]),
                          shown(item["author"]))
        out.print(table)
    if summary["out"]:
        out.print(f"wrote {summary['written']:,} alerts to {shown(summary['out'])}")
    for rule_id, error in {**run.stats.errors, **run.correlation_errors}.items():
        err.print(f"[yellow]warning:[/yellow] rule {shown(rule_id)}: {shown(error)}")
