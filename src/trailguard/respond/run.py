"""Running a response: the steps of a playbook for one incident, planned, approved, executed,
audited, and resumed after an interruption.

A run is a sequence of `StepSpec` (what `respond.playbooks.match.expand` produces: a stable
`key`, the action id and its parameters, whether it needs approval, what to do on failure).
Dry run (`plan_steps`) reads the cloud and writes "planned" records; `run_steps` executes:

* a step that needs approval runs only when the run is approved (`--approve`); otherwise it
  is "skipped" with that reason and the run goes on without it;
* every step is planned again right before it runs, so a step whose effect is already in place
  (a re-run, a resumed run, someone else's fix) has an empty plan and is "skipped" as done;
* success appends "executed" with every call's redacted request and response; a failure
  appends "failed" with the error and the calls that had succeeded, then follows the step's
  `on_failure`: `stop` (the run ends unfinished and the next `run` resumes it), `continue`,
  or `rollback` (the steps this run executed are undone in reverse, "rolled-back");
* a run that did not reach "run-finished" is resumed by the next run of the same playbook for
  the same incident: its id is reused and the steps it executed are not run again.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from trailguard.respond import audit
from trailguard.respond.actions.base import ACTIONS, Action
from trailguard.respond.errors import CloudCallError, NotReversibleError, ResponseError
from trailguard.respond.model import Plan


class StepSpec(Protocol):
    """One concrete step of a run (a playbook step for one item)."""

    @property
    def key(self) -> str:  # stable across runs: step id + item
        ...

    @property
    def step(self) -> str:  # the playbook's step id
        ...

    @property
    def action(self) -> str:  # ACTIONS id: aliyun.isolate_instance …
        ...

    @property
    def params(self) -> Mapping[str, Any]:
        ...

    @property
    def approval(self) -> str:  # none | required
        ...

    @property
    def on_failure(self) -> str:  # stop | continue | rollback
        ...


@dataclass(frozen=True)
class Step:
    """A plain StepSpec."""

    key: str
    step: str
    action: str
    params: Mapping[str, Any]
    approval: str = "none"
    on_failure: str = "stop"


ClientFor = Callable[[Action[Any, Any]], Any]
"""Gives the provider client an action needs (built once per provider by the caller)."""


@dataclass
class StepOutcome:
    key: str
    action: str
    status: str  # planned | executed | skipped | failed | rolled-back | not-planned
    reason: str = ""
    plan: Plan | None = None
    error: str | None = None


@dataclass
class RunReport:
    run: str
    incident: str
    playbook: str
    resumed: bool
    finished: bool
    outcomes: list[StepOutcome] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"run": self.run, "incident": self.incident, "playbook": self.playbook,
                "resumed": self.resumed, "finished": self.finished,
                "steps": [{"key": o.key, "action": o.action, "status": o.status,
                           "reason": o.reason, "error": o.error,
                           "plan": o.plan.to_dict() if o.plan else None}
                          for o in self.outcomes]}


def _error(exc: Exception) -> dict[str, Any]:
    found: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
    for name in ("code", "request_id", "attempts"):
        value = getattr(exc, name, None)
        if value is not None:
            found[name] = value
    return found


def plan_steps(case: Path, incident: str, playbook: str, steps: Sequence[StepSpec],
               client_for: ClientFor) -> RunReport:
    """The dry run: each step's plan (the exact calls and the diff), nothing changed."""
    report = RunReport(f"dry-{uuid.uuid4().hex[:12]}", incident, playbook, False, True)
    for spec in steps:
        action = ACTIONS.get(spec.action)()
        try:
            plan = action.plan(client_for(action), action.parse_params(spec.params))
        except (CloudCallError, ResponseError) as exc:
            report.outcomes.append(StepOutcome(spec.key, spec.action, "not-planned",
                                               error=str(exc)))
            audit.append(case, "failed", incident=incident, run=report.run, playbook=playbook,
                         step=spec.key, action=spec.action, error=_error(exc),
                         detail={"phase": "plan"})
            continue
        report.outcomes.append(StepOutcome(spec.key, spec.action, "planned", plan=plan,
                                           reason="no change needed" if plan.empty else ""))
        audit.append(case, "planned", incident=incident, run=report.run, playbook=playbook,
                     step=spec.key, action=spec.action, plan=plan.to_dict(),
                     detail={"dry_run": True, "approval": spec.approval})
    return report


def _unfinished_run(case: Path, incident: str, playbook: str
                    ) -> tuple[str | None, dict[str, dict[str, Any]]]:
    """The last run of this playbook for this incident if it did not finish, and the
    "executed" records of it by step key."""
    records = [r for r in audit.read(case, incident) if r.get("playbook") == playbook]
    started = [r["run"] for r in records if r["event"] == "run-started"]
    if not started:
        return None, {}
    last = started[-1]
    if any(r["run"] == last and r["event"] == "run-finished" for r in records):
        return None, {}
    executed = {r["step"]: r for r in records if r["run"] == last and r["event"] == "executed"}
    return last, executed


def run_steps(case: Path, incident: str, playbook: str, steps: Sequence[StepSpec],
              client_for: ClientFor, *, approve: bool = False) -> RunReport:
    """Execute the steps (see the module's docstring)."""
    previous, done = _unfinished_run(case, incident, playbook)
    run_id = previous or f"run-{uuid.uuid4().hex[:12]}"
    report = RunReport(run_id, incident, playbook, previous is not None, False)
    audit.append(case, "run-started", incident=incident, run=run_id, playbook=playbook,
                 detail={"resumed": previous is not None, "approved": approve,
                         "steps": [spec.key for spec in steps]})
    executed: list[tuple[StepSpec, Mapping[str, Any]]] = [
        (spec, done[spec.key].get("result") or {}) for spec in steps if spec.key in done]
    stopped = False
    for spec in steps:
        if spec.key in done:
            report.outcomes.append(StepOutcome(spec.key, spec.action, "executed",
                                               reason="done in an earlier attempt of this run"))
            continue
        if spec.approval == "required" and not approve:
            _skip(case, report, spec, "needs approval (run with --approve)")
            continue
        action = ACTIONS.get(spec.action)()
        client = client_for(action)
        try:
            plan = action.plan(client, action.parse_params(spec.params))
            if plan.empty:
                _skip(case, report, spec, "already in the desired state", plan)
                continue
            audit.append(case, "approved" if spec.approval == "required" else "planned",
                         incident=incident, run=run_id, playbook=playbook, step=spec.key,
                         action=spec.action, plan=plan.to_dict())
            result = action.execute(client, plan)
        except (CloudCallError, ResponseError) as exc:
            partial = getattr(exc, "partial", None)
            audit.append(case, "failed", incident=incident, run=run_id, playbook=playbook,
                         step=spec.key, action=spec.action, error=_error(exc),
                         result=partial.to_dict() if partial is not None else None,
                         detail={"on_failure": spec.on_failure})
            report.outcomes.append(StepOutcome(spec.key, spec.action, "failed",
                                               error=str(exc)))
            if spec.on_failure == "continue":
                continue
            if spec.on_failure == "rollback":
                _roll_back(case, report, executed, client_for)
            stopped = spec.on_failure == "stop"
            break
        audit.append(case, "executed", incident=incident, run=run_id, playbook=playbook,
                     step=spec.key, action=spec.action, result=result.to_dict())
        report.outcomes.append(StepOutcome(spec.key, spec.action, "executed", plan=plan))
        executed.append((spec, result.to_dict()))
    if not stopped:
        report.finished = True
        audit.append(case, "run-finished", incident=incident, run=run_id, playbook=playbook,
                     detail={"outcomes": {o.key: o.status for o in report.outcomes}})
    return report


def _skip(case: Path, report: RunReport, spec: StepSpec, reason: str,
          plan: Plan | None = None) -> None:
    audit.append(case, "skipped", incident=report.incident, run=report.run,
                 playbook=report.playbook, step=spec.key, action=spec.action,
                 plan=plan.to_dict() if plan else None, detail={"reason": reason})
    report.outcomes.append(StepOutcome(spec.key, spec.action, "skipped", reason=reason,
                                       plan=plan))


def _roll_back(case: Path, report: RunReport,
               executed: list[tuple[StepSpec, Mapping[str, Any]]], client_for: ClientFor
               ) -> None:
    for spec, result in reversed(executed):
        action = ACTIONS.get(spec.action)()
        try:
            undo = action.rollback_plan(result.get("state") or {})
            if not undo.empty:
                action.execute(client_for(action), undo)
        except NotReversibleError as exc:
            audit.append(case, "skipped", incident=report.incident, run=report.run,
                         playbook=report.playbook, step=spec.key, action=spec.action,
                         detail={"reason": f"not reversible: {exc}", "phase": "rollback"})
            continue
        except (CloudCallError, ResponseError) as exc:
            audit.append(case, "failed", incident=report.incident, run=report.run,
                         playbook=report.playbook, step=spec.key, action=spec.action,
                         error=_error(exc), detail={"phase": "rollback"})
            continue
        audit.append(case, "rolled-back", incident=report.incident, run=report.run,
                     playbook=report.playbook, step=spec.key, action=spec.action,
                     plan=undo.to_dict())
        report.outcomes.append(StepOutcome(spec.key, spec.action, "rolled-back"))
