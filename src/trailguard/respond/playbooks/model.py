"""The playbook model: conditions on an incident, and steps that run response actions.

A playbook file (YAML, loaded with ``yaml.safe_load`` only)::

    id: contain-stolen-cloud-key
    title: Contain a stolen cloud access key
    description: ...
    when:                       # every given condition must hold; each list means any of
      tactics: [credential-access, persistence]
      techniques: [T1078]       # prefix match at the dot: T1078 matches T1078.004
      entities: [access_key]    # entity kinds present with role attacker
      min_score: 60
      severities: [critical, high]
      providers: [aliyun]       # the cloud the incident lives in
    vars:                       # defaults; `respond plan --var name=value` overrides
      forensic_cidr: 10.0.0.0/24
    steps:
      - id: disable-keys
        action: aliyun.disable_access_key
        for_each: indicators.access-key      # one step instance per value: {item}
        params: {access_key_id: "{item}", user_name: "{principal_of_key}"}
        approval: required                   # none | required
        on_failure: continue                 # stop | continue | rollback
        after: [snapshot]                    # default: the previous step

Everything that can be checked without an incident is checked when the playbook loads:
action ids, parameter names, placeholders, ``for_each`` paths, step ids and ``after``
references (no cycles). Parameter values are checked at plan time, once substituted.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from trailguard.errors import SourceLocation, UnknownPluginError
from trailguard.respond.actions import ACTIONS
from trailguard.respond.playbooks.errors import PlaybookError
from trailguard.respond.playbooks.facts import ENTITY_KINDS, FOR_EACH, PROVIDERS
from trailguard.respond.playbooks.placeholders import PlaceholderError, placeholders

APPROVALS = ("none", "required")
ON_FAILURE = ("stop", "continue", "rollback")
SEVERITIES = ("critical", "high", "medium", "low", "informational")

_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
_VAR = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_TECHNIQUE = re.compile(r"^T[0-9]{4}(\.[0-9]{3})?$")
_TACTIC = re.compile(r"^[a-z][a-z-]{1,40}$")
_PLAYBOOK_KEYS = ("id", "title", "description", "when", "vars", "steps")
_STEP_KEYS = ("id", "title", "action", "for_each", "params", "approval", "on_failure", "after")
_WHEN_KEYS = ("tactics", "techniques", "entities", "min_score", "severities", "providers")


@dataclass(frozen=True)
class Conditions:
    """When a playbook applies: every non-empty condition must hold (a list means any of)."""

    tactics: tuple[str, ...] = ()
    techniques: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()
    min_score: float | None = None
    severities: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for name in _WHEN_KEYS:
            value = getattr(self, name)
            if value is not None and value != ():
                data[name] = list(value) if isinstance(value, tuple) else value
        return data


@dataclass(frozen=True)
class Step:
    """One step: an action from ``ACTIONS`` with parameter templates.

    ``after`` holds the resolved dependencies (the previous step when the file gave none);
    ``line`` is where the step starts in its file (not part of equality)."""

    id: str
    action: str
    params: Mapping[str, Any] = field(default_factory=dict)
    for_each: str | None = None
    approval: str = "none"
    on_failure: str = "stop"
    after: tuple[str, ...] = ()
    title: str = ""
    line: int | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id}
        if self.title:
            data["title"] = self.title
        data["action"] = self.action
        if self.for_each:
            data["for_each"] = self.for_each
        data["params"] = dict(self.params)
        data["approval"] = self.approval
        data["on_failure"] = self.on_failure
        data["after"] = list(self.after)
        return data


@dataclass(frozen=True)
class Playbook:
    """A validated playbook. ``when`` is ``None`` for a playbook that is never matched
    automatically (an imported CACAO playbook without TrailGuard conditions); ``source``
    is the file it came from and ``notes`` what an import could not map (neither is part
    of equality)."""

    id: str
    title: str
    steps: tuple[Step, ...]
    when: Conditions | None = field(default_factory=Conditions)
    description: str = ""
    vars: Mapping[str, Any] = field(default_factory=dict)
    source: str | None = field(default=None, compare=False)
    notes: tuple[str, ...] = field(default=(), compare=False)

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def location(self, step: Step | None = None, item: str | None = None) -> SourceLocation:
        """Where to point an error: the file, the step (and item) and its line."""
        member = ""
        if step is not None:
            member = f"step {step.id}" + (f"[{item}]" if item is not None else "")
        return SourceLocation(self.source or f"playbook {self.id}", member,
                              step.line if step is not None else None)

    def ordered(self) -> tuple[Step, ...]:
        """Steps in execution order: dependencies first, file order among the ready."""
        return _ordered(self.steps, self.location())

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "title": self.title}
        if self.description:
            data["description"] = self.description
        if self.when is not None:
            data["when"] = self.when.to_dict()
        if self.vars:
            data["vars"] = dict(self.vars)
        data["steps"] = [s.to_dict() for s in self.steps]
        return data

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)


def parse_playbook(text: str, source: str) -> Playbook:
    """Parse and validate one YAML playbook; errors name ``source``, the step and line."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise PlaybookError(f"not valid YAML: {exc}", SourceLocation(source, "", line)) from None
    return playbook_from_dict(data, source, _step_lines(text))


def _step_lines(text: str) -> list[int]:
    """The line each item of ``steps`` starts on (composing nodes only: no construction)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return []
    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if getattr(key, "value", None) == "steps" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def playbook_from_dict(data: Any, source: str | None = None,
                       lines: list[int] | None = None) -> Playbook:
    """Validate a playbook given as plain data (YAML or a CACAO extension)."""
    where = SourceLocation(source or "<playbook>")
    if not isinstance(data, Mapping):
        raise PlaybookError("a playbook must be a mapping", where)
    _known(data, _PLAYBOOK_KEYS, "playbook", where)
    playbook_id = data.get("id")
    if not isinstance(playbook_id, str) or not _ID.match(playbook_id):
        raise PlaybookError(f"id must be lowercase letters, digits and dashes: {playbook_id!r}",
                            where)
    where = SourceLocation(source or f"playbook {playbook_id}")
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        raise PlaybookError("title is required", where)
    description = data.get("description", "")
    if not isinstance(description, str):
        raise PlaybookError("description must be text", where)
    when = _conditions(data["when"], where) if "when" in data else None
    variables = _variables(data.get("vars", {}), where)
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise PlaybookError("steps must be a non-empty list", where)
    steps: list[Step] = []
    for index, raw in enumerate(raw_steps):
        line = lines[index] if lines and index < len(lines) else None
        previous = steps[-1].id if steps else None
        steps.append(_step(raw, index, line, previous, variables, source or where.path))
    playbook = Playbook(id=playbook_id, title=title.strip(), description=description.strip(),
                        when=when, vars=variables, steps=tuple(steps), source=source)
    _check_references(playbook)
    return playbook


def _known(data: Mapping[str, Any], keys: tuple[str, ...], what: str,
           where: SourceLocation) -> None:
    unknown = sorted(str(k) for k in data if k not in keys)
    if unknown:
        raise PlaybookError(f"unknown {what} key(s) {', '.join(unknown)}; known: "
                            f"{', '.join(keys)}", where)


def _strings(value: Any, name: str, where: SourceLocation,
             pattern: re.Pattern[str] | None = None,
             allowed: tuple[str, ...] = ()) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PlaybookError(f"when.{name} must be a list of strings", where)
    for item in value:
        if allowed and item not in allowed:
            raise PlaybookError(f"when.{name}: {item!r} is not one of {', '.join(allowed)}",
                                where)
        if pattern is not None and not pattern.match(item):
            raise PlaybookError(f"when.{name}: {item!r} is not well formed", where)
    return tuple(value)


def _conditions(data: Any, where: SourceLocation) -> Conditions:
    if data is None:
        return Conditions()
    if not isinstance(data, Mapping):
        raise PlaybookError("when must be a mapping", where)
    _known(data, _WHEN_KEYS, "when", where)
    min_score = data.get("min_score")
    if min_score is not None and (isinstance(min_score, bool)
                                  or not isinstance(min_score, int | float)
                                  or not 0 <= min_score <= 100):
        raise PlaybookError(f"when.min_score must be a number from 0 to 100: {min_score!r}",
                            where)
    return Conditions(
        tactics=_strings(data.get("tactics", []), "tactics", where, _TACTIC),
        techniques=_strings(data.get("techniques", []), "techniques", where, _TECHNIQUE),
        entities=_strings(data.get("entities", []), "entities", where, allowed=ENTITY_KINDS),
        min_score=None if min_score is None else float(min_score),
        severities=_strings(data.get("severities", []), "severities", where,
                            allowed=SEVERITIES),
        providers=_strings(data.get("providers", []), "providers", where, allowed=PROVIDERS),
    )


def _variables(data: Any, where: SourceLocation) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise PlaybookError("vars must be a mapping of name to default value", where)
    variables: dict[str, Any] = {}
    for name, value in data.items():
        if not isinstance(name, str) or not _VAR.match(name):
            raise PlaybookError(f"vars: bad variable name {name!r}", where)
        scalar = value is None or isinstance(value, str | int | float | bool)
        if not scalar and not (isinstance(value, list)
                               and all(isinstance(v, str) for v in value)):
            raise PlaybookError(f"vars.{name}: a default is a scalar or a list of strings",
                                where)
        variables[name] = list(value) if isinstance(value, list) else value
    return variables


def _step(raw: Any, index: int, line: int | None, previous: str | None,
          variables: Mapping[str, Any], path: str) -> Step:
    label = raw.get("id") if isinstance(raw, Mapping) else None
    where = SourceLocation(path, f"step {label if isinstance(label, str) else index + 1}",
                           line)
    if not isinstance(raw, Mapping):
        raise PlaybookError("a step must be a mapping", where)
    _known(raw, _STEP_KEYS, "step", where)
    step_id = raw.get("id")
    if not isinstance(step_id, str) or not _ID.match(step_id):
        raise PlaybookError(f"step id must be lowercase letters, digits and dashes: "
                            f"{step_id!r}", where)
    action_id = raw.get("action")
    try:
        action = ACTIONS.get(str(action_id))
    except UnknownPluginError as exc:
        raise PlaybookError(str(exc), where) from None
    for_each = raw.get("for_each")
    if for_each is not None and for_each not in FOR_EACH:
        raise PlaybookError(f"for_each {for_each!r} is not an allowed path; allowed: "
                            "impact.<instances|hosts|keys|buckets|accounts>, "
                            "indicators.<kind>, attacker.<entity kind>, "
                            "entities.<entity kind>", where)
    params = raw.get("params", {})
    if not isinstance(params, Mapping):
        raise PlaybookError("params must be a mapping", where)
    _check_params(action.Params, params, for_each, variables, where)
    approval = raw.get("approval", "none")
    if approval not in APPROVALS:
        raise PlaybookError(f"approval must be one of {', '.join(APPROVALS)}: {approval!r}",
                            where)
    on_failure = raw.get("on_failure", "stop")
    if on_failure not in ON_FAILURE:
        raise PlaybookError(f"on_failure must be one of {', '.join(ON_FAILURE)}: "
                            f"{on_failure!r}", where)
    after_raw = raw.get("after", [previous] if previous else [])
    if isinstance(after_raw, str):
        after_raw = [after_raw]
    if not isinstance(after_raw, list) or not all(isinstance(a, str) for a in after_raw):
        raise PlaybookError("after must be a list of step ids", where)
    title = raw.get("title", "")
    if not isinstance(title, str):
        raise PlaybookError("title must be text", where)
    return Step(id=step_id, action=str(action_id), params=dict(params), for_each=for_each,
                approval=str(approval), on_failure=str(on_failure),
                after=tuple(dict.fromkeys(after_raw)), title=title, line=line)


def _check_params(params_cls: type[Any], params: Mapping[str, Any], for_each: str | None,
                  variables: Mapping[str, Any], where: SourceLocation) -> None:
    fields = {f.name: f for f in dataclasses.fields(params_cls)}
    unknown = sorted(str(k) for k in params if k not in fields)
    if unknown:
        raise PlaybookError(f"unknown parameter(s) {', '.join(unknown)}; known: "
                            f"{', '.join(fields)}", where)
    missing = sorted(name for name, f in fields.items() if name not in params
                     and f.default is dataclasses.MISSING
                     and f.default_factory is dataclasses.MISSING)
    if missing:
        raise PlaybookError(f"missing parameter(s) {', '.join(missing)}", where)
    for name, value in params.items():
        try:
            found = placeholders(value, variables)
        except PlaceholderError as exc:
            raise PlaybookError(f"params.{name}: {exc}", where) from None
        needs_item = [str(p) for p in found if p.needs_item]
        if needs_item and for_each is None:
            raise PlaybookError(f"params.{name}: {', '.join(needs_item)} needs for_each",
                                where)


def _check_references(playbook: Playbook) -> None:
    seen: set[str] = set()
    for step in playbook.steps:
        if step.id in seen:
            raise PlaybookError(f"duplicate step id {step.id}", playbook.location(step))
        seen.add(step.id)
    for step in playbook.steps:
        for dependency in step.after:
            if dependency == step.id:
                raise PlaybookError("a step cannot come after itself", playbook.location(step))
            if dependency not in seen:
                raise PlaybookError(f"after: no step {dependency!r}", playbook.location(step))
    playbook.ordered()


def _ordered(steps: tuple[Step, ...], where: SourceLocation) -> tuple[Step, ...]:
    done: list[Step] = []
    names: set[str] = set()
    pending = list(steps)
    while pending:
        ready = next((s for s in pending if set(s.after) <= names), None)
        if ready is None:
            cycle = ", ".join(s.id for s in pending)
            raise PlaybookError(f"the after references form a cycle among: {cycle}",
                                dataclasses.replace(where, member=f"step {pending[0].id}",
                                                    position=pending[0].line))
        done.append(ready)
        names.add(ready.id)
        pending.remove(ready)
    return tuple(done)
