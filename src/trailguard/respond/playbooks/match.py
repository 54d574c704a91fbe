"""Which playbooks apply to an incident, and the concrete steps one of them makes for it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from trailguard.respond.actions import ACTIONS
from trailguard.respond.errors import ParamsError
from trailguard.respond.playbooks.errors import PlaybookError
from trailguard.respond.playbooks.facts import (
    FOR_EACH,
    Document,
    attacker_kinds,
    document,
    providers,
)
from trailguard.respond.playbooks.model import Conditions, Playbook
from trailguard.respond.playbooks.placeholders import (
    PlaceholderError,
    UnresolvedError,
    substitute,
)
from trailguard.trace.model import Incident


def technique_matches(wanted: str, technique: str) -> bool:
    """``T1078`` matches ``T1078`` and ``T1078.004``; ``T1078.004`` only itself."""
    return technique == wanted or technique.startswith(wanted + ".")


def conditions_hold(when: Conditions, doc: Document) -> bool:
    """Whether every condition given in ``when`` holds for the incident document."""
    tactics = {str(t) for t in doc.get("tactics") or []}
    techniques = [str(t) for t in doc.get("techniques") or []]
    score = doc.get("score")
    checks = (
        not when.tactics or bool(tactics & set(when.tactics)),
        not when.techniques or any(technique_matches(w, t)
                                   for w in when.techniques for t in techniques),
        not when.entities or bool(attacker_kinds(doc) & set(when.entities)),
        when.min_score is None or (isinstance(score, int | float)
                                   and score >= when.min_score),
        not when.severities or doc.get("severity") in when.severities,
        not when.providers or bool(providers(doc) & set(when.providers)),
    )
    return all(checks)


def matching(playbooks: Iterable[Playbook], incident: Incident | Document) -> list[Playbook]:
    """The playbooks whose conditions hold for ``incident``, in the order given. Playbooks
    without conditions (``when`` is ``None``) never match automatically."""
    doc = document(incident)
    return [p for p in playbooks if p.when is not None and conditions_hold(p.when, doc)]


@dataclass(frozen=True)
class PlannedStep:
    """One concrete step instance for one incident.

    ``key`` is stable across runs (``step-id`` or ``step-id[item]``): a resumed run skips
    the keys its audit log records as done. ``params`` are substituted and checked with the
    action's ``Params.from_mapping``; ``after`` are the *keys* this instance waits for (every
    instance of each step it comes after). ``reversible`` tells a runner whether
    ``on_failure: rollback`` can undo it."""

    key: str
    playbook: str
    step: str
    action: str
    params: Mapping[str, Any]
    approval: str
    on_failure: str
    item: str | None
    after: tuple[str, ...]
    reversible: bool
    title: str = ""

    @property
    def needs_approval(self) -> bool:
        return self.approval == "required"

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "playbook": self.playbook, "step": self.step,
                "action": self.action, "params": dict(self.params),
                "approval": self.approval, "on_failure": self.on_failure, "item": self.item,
                "after": list(self.after), "reversible": self.reversible,
                "title": self.title}


def expand(playbook: Playbook, incident: Incident | Document,
           variables: Mapping[str, Any] | None = None) -> list[PlannedStep]:
    """The concrete steps of ``playbook`` for ``incident`` in execution order.

    ``variables`` override the playbook's ``vars`` defaults. A step with ``for_each`` makes
    one instance per value (none when the incident has no value). Raises
    :class:`PlaybookError` naming the file and step when a placeholder cannot be resolved
    or the substituted parameters do not parse."""
    doc = document(incident)
    values = {**playbook.vars, **(variables or {})}
    unknown = sorted(set(variables or {}) - set(playbook.vars))
    if unknown:
        raise PlaybookError(f"unknown variable(s) {', '.join(unknown)}; the playbook "
                            f"declares {', '.join(playbook.vars) or 'none'}",
                            playbook.location())
    planned: list[PlannedStep] = []
    keys_of: dict[str, list[str]] = {}
    for step in playbook.ordered():
        action = ACTIONS.get(step.action)
        items: list[str | None] = (list(FOR_EACH[step.for_each](doc)) if step.for_each
                                   else [None])
        after = tuple(key for dependency in step.after for key in keys_of[dependency])
        keys_of[step.id] = []
        for item in items:
            where = playbook.location(step, item)
            try:
                params = substitute(dict(step.params), doc, item, values)
                action.Params.from_mapping(params)
            except (PlaceholderError, UnresolvedError, ParamsError) as exc:
                raise PlaybookError(str(exc), where) from None
            key = step.id if item is None else f"{step.id}[{item}]"
            keys_of[step.id].append(key)
            planned.append(PlannedStep(
                key=key, playbook=playbook.id, step=step.id, action=step.action,
                params=params, approval=step.approval, on_failure=step.on_failure,
                item=item, after=after, reversible=action.REVERSIBLE, title=step.title))
    return planned
