"""Validation of CACAO 2.0 documents: the official JSON schemas (vendored in ``schemas/``,
see the README there) and the references the schemas cannot check.

Every problem comes with its JSON path (``$.workflow['action--…'].agent``). The schemas
declare draft-07, so they are applied as draft-07 (their ``unevaluatedProperties`` keywords
are draft 2019-09 and have no effect under draft-07, as for every draft-07 validator).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from importlib import resources
from typing import Any

from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from trailguard.respond.playbooks.errors import Problem

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: Step properties that name another step, and the step types they occur in.
STEP_LINKS = ("on_completion", "on_success", "on_failure", "on_true", "on_false")


def json_path(parts: Sequence[str | int]) -> str:
    """``$.workflow['start--…'].on_completion`` from path parts."""
    text = "$"
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            text += f".{part}"
        else:
            text += "['" + part.replace("\\", "\\\\").replace("'", "\\'") + "']"
    return text


@lru_cache(maxsize=1)
def _validator() -> Draft7Validator:
    root = resources.files("trailguard.respond.playbooks") / "schemas"
    registry: Registry[Any] = Registry()
    playbook: dict[str, Any] = {}
    pending = [root]
    while pending:
        folder = pending.pop()
        for entry in folder.iterdir():
            if entry.is_dir():
                pending.append(entry)
            elif entry.name.endswith(".json"):
                contents = json.loads(entry.read_text(encoding="utf-8"))
                resource = Resource.from_contents(contents, default_specification=DRAFT7)
                registry = registry.with_resource(contents["$id"], resource)
                if entry.name == "playbook.json" and folder == root:
                    playbook = contents
    return Draft7Validator(playbook, registry=registry)


def _schema_problems(document: Any) -> list[Problem]:
    problems = []
    for error in _validator().iter_errors(document):
        detail = best_match(error.context) if error.context else None
        chosen: ValidationError = detail if detail is not None else error
        problems.append(Problem(json_path(list(chosen.absolute_path)),
                                f"schema: {chosen.message}"))
    return problems


def _ids(document: Mapping[str, Any], key: str) -> set[str]:
    value = document.get(key)
    return set(value) if isinstance(value, Mapping) else set()


def _step_targets(step: Mapping[str, Any]) -> Iterator[tuple[list[str | int], Any]]:
    for link in STEP_LINKS:
        if link in step:
            yield [link], step[link]
    next_steps = step.get("next_steps")
    if isinstance(next_steps, list):
        for index, target in enumerate(next_steps):
            yield ["next_steps", index], target
    cases = step.get("cases")
    if isinstance(cases, Mapping):
        for case, target in cases.items():
            yield ["cases", str(case)], target


def reference_problems(document: Mapping[str, Any]) -> list[Problem]:
    """Dangling references: step links, the start and exception steps, agents, targets,
    authentication info, markings and extensions must name defined objects."""
    problems: list[Problem] = []
    workflow = document.get("workflow")
    steps: Mapping[str, Any] = workflow if isinstance(workflow, Mapping) else {}
    start = document.get("workflow_start")
    if start is None:
        problems.append(Problem("$.workflow_start", "missing: the playbook names no start "
                                "step"))
    elif start not in steps:
        problems.append(Problem("$.workflow_start", f"{start!r} is not a step of workflow"))
    elif isinstance(steps[start], Mapping) and steps[start].get("type") != "start":
        problems.append(Problem("$.workflow_start", f"{start!r} is not a start step"))
    exception = document.get("workflow_exception")
    if exception is not None and exception not in steps:
        problems.append(Problem("$.workflow_exception",
                                f"{exception!r} is not a step of workflow"))
    agents = _ids(document, "agent_definitions")
    targets = _ids(document, "target_definitions")
    auth = _ids(document, "authentication_info_definitions")
    markings = _ids(document, "data_marking_definitions")
    extensions = _ids(document, "extension_definitions")
    for step_id, step in steps.items():
        if not isinstance(step, Mapping):
            continue
        base: list[str | int] = ["workflow", step_id]
        for where, target in _step_targets(step):
            if target not in steps:
                problems.append(Problem(json_path(base + where),
                                        f"{target!r} is not a step of workflow"))
        agent = step.get("agent")
        if agent is not None and agent not in agents:
            problems.append(Problem(json_path([*base, "agent"]),
                                    f"{agent!r} is not in agent_definitions"))
        for index, target in enumerate(step.get("targets") or []):
            if target not in targets:
                problems.append(Problem(json_path([*base, "targets", index]),
                                        f"{target!r} is not in target_definitions"))
        for name in step.get("step_extensions") or {}:
            if name not in extensions:
                problems.append(Problem(json_path([*base, "step_extensions", name]),
                                        "not in extension_definitions"))
    for key in ("agent_definitions", "target_definitions"):
        definitions = document.get(key)
        for name, item in (definitions.items() if isinstance(definitions, Mapping) else []):
            info = item.get("authentication_info") if isinstance(item, Mapping) else None
            if info is not None and info not in auth:
                problems.append(Problem(json_path([key, name, "authentication_info"]),
                                        f"{info!r} is not in authentication_info_definitions"))
    for index, marking in enumerate(document.get("markings") or []):
        if marking not in markings:
            problems.append(Problem(json_path(["markings", index]),
                                    f"{marking!r} is not in data_marking_definitions"))
    for name in document.get("playbook_extensions") or {}:
        if name not in extensions:
            problems.append(Problem(json_path(["playbook_extensions", name]),
                                    "not in extension_definitions"))
    return problems


def validate_cacao(document: Any) -> list[Problem]:
    """Every problem of a CACAO 2.0 playbook document: schema violations, then dangling
    references, each with its JSON path. An empty list means valid."""
    if not isinstance(document, Mapping):
        return [Problem("$", "a CACAO playbook is a JSON object")]
    return _schema_problems(document) + reference_problems(document)
