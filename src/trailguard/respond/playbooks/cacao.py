"""Import and export OASIS CACAO Security Playbooks 2.0 (JSON).

**Export** (:func:`to_cacao`): one ``action`` workflow step per playbook step, chained in
execution order from a ``start`` step to one ``end`` step. ``on_success`` goes to the next
step; ``on_failure`` goes to the next step for ``on_failure: continue`` and to the end for
``stop`` and ``rollback``. Each action step carries one standard ``manual`` command (what a
human or another orchestrator would do) and, because CACAO has no TrailGuard command type,
the exact machine-readable step in a ``step_extensions`` entry of the TrailGuard extension
(declared in ``extension_definitions``, as CACAO 2.0 section 8 requires of extensions);
the conditions and variables ride in ``playbook_extensions``. The agent is a
``security-category`` orchestrator ("TrailGuard"); targets are the clouds' OpenAPI
endpoints (``http-api``) and the on-call responders (``individual``).

**Import** (:func:`from_cacao`): the document is validated first (schema and references,
:func:`validate_cacao`); our own exports come back exactly. From a third-party playbook,
action steps that carry the TrailGuard step extension (at least ``action`` and ``params``)
are imported, ordered by the workflow graph; everything else (other commands, conditions,
loops, sub-playbooks, conditions of use) is reported in ``Playbook.notes`` with its JSON
path. A playbook with no importable step is refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from collections.abc import Mapping
from typing import Any

from trailguard.errors import SourceLocation
from trailguard.respond.playbooks.cacao_check import json_path, validate_cacao
from trailguard.respond.playbooks.errors import CacaoError, Problem
from trailguard.respond.playbooks.model import Playbook, Step, playbook_from_dict

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:trailguard:cacao")
"""Namespace of TrailGuard's UUIDv5 playbook ids (not the CACAO namespace: its rules for
the name part are not ours, and the specification reserves it for producers following them)."""

EXTENSION_ID = f"extension-definition--{uuid.uuid5(NAMESPACE, 'trailguard-playbook')}"
IDENTITY_ID = f"identity--{uuid.uuid5(NAMESPACE, 'trailguard')}"
EXTENSION_VERSION = "1.0.0"

_ACTIVITY = {"isolate_instance": "disconnect-system", "stop_instance": "disconnect-system",
             "disable_access_key": "restrict-access", "block_address": "restrict-access",
             "revoke_security_group_rule": "restrict-access",
             "snapshot_disks": "analyze-collected-data"}
_ENDPOINTS = {"aliyun": ("Alibaba Cloud OpenAPI", ["ecs.aliyuncs.com", "vpc.aliyuncs.com",
                                                   "ram.aliyuncs.com"]),
              "aws": ("AWS API", ["ec2.amazonaws.com", "iam.amazonaws.com"])}
_STEP_KEYS = ("step_id", "title", "action", "for_each", "params", "approval", "on_failure",
              "after")


def _v4_like(*parts: str) -> str:
    """A deterministic UUID with version 4 bits (CACAO requires v4 for steps; deriving it
    from the playbook and step ids keeps exports stable across runs)."""
    digest = hashlib.sha256("\x00".join(parts).encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def _timestamp(value: dt.datetime | None) -> str:
    when = (value or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _provider(action: str) -> str:
    return action.split(".", 1)[0]


def _command_text(step: Step) -> str:
    each = f" for each {step.for_each}" if step.for_each else ""
    args = ", ".join(f"{k}={v}" for k, v in step.params.items())
    return f"Run TrailGuard action {step.action}{each} ({args})"


def to_cacao(playbook: Playbook, *, created: dt.datetime | None = None,
             modified: dt.datetime | None = None) -> dict[str, Any]:
    """The CACAO 2.0 document of ``playbook`` (valid against the official schemas)."""
    agent_id = f"security-category--{_v4_like(playbook.id, 'agent')}"
    providers = list(dict.fromkeys(_provider(s.action) for s in playbook.steps))
    targets: dict[str, dict[str, Any]] = {}
    target_of: dict[str, str] = {}
    for provider in providers:
        if provider in _ENDPOINTS:
            name, hosts = _ENDPOINTS[provider]
            key = f"http-api--{_v4_like(playbook.id, 'target', provider)}"
            targets[key] = {"type": "http-api", "name": name, "address": {"dname": hosts}}
        else:
            key = f"individual--{_v4_like(playbook.id, 'target', provider)}"
            targets[key] = {"type": "individual", "name": "On-call responders",
                            "description": "reached through the notify actions"}
        target_of[provider] = key
    ordered = playbook.ordered()
    position = {s.id: index for index, s in enumerate(playbook.steps)}
    step_ids = {s.id: f"action--{_v4_like(playbook.id, 'step', s.id)}" for s in ordered}
    start_id = f"start--{_v4_like(playbook.id, 'start')}"
    end_id = f"end--{_v4_like(playbook.id, 'end')}"
    workflow: dict[str, Any] = {start_id: {"type": "start", "name": "Start",
                                           "on_completion": step_ids[ordered[0].id]}}
    for index, step in enumerate(ordered):
        following = step_ids[ordered[index + 1].id] if index + 1 < len(ordered) else end_id
        provider = _provider(step.action)
        activity = _ACTIVITY.get(step.action.split(".", 1)[-1],
                                 "deliver-content" if provider == "notify" else
                                 "execute-operation")
        extension = {"step_id": step.id, "position": position[step.id], **step.to_dict(),
                     "title": step.title}
        del extension["id"]
        workflow[step_ids[step.id]] = {
            "type": "action", "name": step.title or step.id,
            "description": f"TrailGuard step {step.id}: {step.action} (approval "
                           f"{step.approval}, on failure {step.on_failure})",
            "commands": [{"type": "manual", "command": _command_text(step),
                          "playbook_activity": activity}],
            "agent": agent_id, "targets": [target_of[provider]],
            "on_success": following,
            "on_failure": following if step.on_failure == "continue" else end_id,
            "step_extensions": {EXTENSION_ID: extension},
        }
    workflow[end_id] = {"type": "end", "name": "End"}
    kinds = {_provider(s.action) for s in playbook.steps}
    types = (["mitigation"] if kinds - {"notify"} else []) + (
        ["notification"] if "notify" in kinds else [])
    activities = sorted({c["playbook_activity"] for s in workflow.values()
                         for c in s.get("commands", [])})
    meta: dict[str, Any] = {"id": playbook.id}
    if playbook.when is not None:
        meta["when"] = playbook.when.to_dict()
    if playbook.vars:
        meta["vars"] = dict(playbook.vars)
    document: dict[str, Any] = {
        "type": "playbook", "spec_version": "cacao-2.0",
        "id": f"playbook--{uuid.uuid5(NAMESPACE, playbook.id)}",
        "name": playbook.title,
        "description": playbook.description or playbook.title,
        "playbook_types": types, "playbook_activities": activities,
        "created_by": IDENTITY_ID,
        "created": _timestamp(created), "modified": _timestamp(modified or created),
        "labels": ["trailguard"],
        "workflow_start": start_id, "workflow": workflow,
        "playbook_extensions": {EXTENSION_ID: meta},
        "agent_definitions": {agent_id: {
            "type": "security-category", "name": "TrailGuard",
            "description": "TrailGuard's responder, calling the cloud APIs with the SDKs' "
                           "standard credentials", "category": ["orchestrator"]}},
        "target_definitions": targets,
        "extension_definitions": {EXTENSION_ID: {
            "type": "extension-definition", "name": "TrailGuard playbook",
            "description": "playbook_extensions: {id, when, vars}; step_extensions: "
                           "{step_id, position, title, action, for_each, params, approval, "
                           "on_failure, after}, as in TrailGuard's YAML playbooks",
            "created_by": IDENTITY_ID,
            "schema": "TrailGuard YAML playbook model (trailguard.respond.playbooks.model)",
            "version": EXTENSION_VERSION}},
    }
    return document


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:60].strip("-") or "step"


def _edges(steps: Mapping[str, Any]) -> dict[str, list[str]]:
    edges: dict[str, list[str]] = {}
    for step_id, step in steps.items():
        targets = [step.get(k) for k in ("on_completion", "on_success", "on_failure",
                                          "on_true", "on_false")]
        targets += list(step.get("next_steps") or [])
        targets += list((step.get("cases") or {}).values())
        edges[step_id] = [t for t in targets if isinstance(t, str) and t in steps]
    return edges


def _reachable(start: str, edges: Mapping[str, list[str]]) -> list[str]:
    seen: list[str] = []
    queue = [start]
    while queue:
        node = queue.pop(0)
        if node in seen:
            continue
        seen.append(node)
        queue += edges.get(node, [])
    return seen


def _mapped_predecessors(node: str, edges: Mapping[str, list[str]],
                         mapped: set[str]) -> list[str]:
    incoming: dict[str, list[str]] = {}
    for source, targets in edges.items():
        for target in targets:
            incoming.setdefault(target, []).append(source)
    found: list[str] = []
    seen = {node}
    stack = list(incoming.get(node, []))
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        if current in mapped:
            found.append(current)
        else:
            stack += incoming.get(current, [])
    return found


def from_cacao(document: Any, source: str | None = None) -> Playbook:
    """Import a CACAO 2.0 playbook; refuses invalid documents with every problem and its
    JSON path (:class:`CacaoError`)."""
    where = SourceLocation(source or "<cacao>")
    problems = validate_cacao(document)
    if problems:
        raise CacaoError("not a valid CACAO 2.0 playbook", problems, where)
    steps: Mapping[str, Any] = document["workflow"]
    edges = _edges(steps)
    order = _reachable(document["workflow_start"], edges)
    order += [s for s in steps if s not in order]
    notes: list[str] = []
    mapped: dict[str, Mapping[str, Any]] = {}
    for step_id in order:
        step = steps[step_id]
        path = json_path(["workflow", step_id])
        extension = (step.get("step_extensions") or {}).get(EXTENSION_ID)
        kind = step.get("type")
        if kind in ("start", "end", "parallel"):
            continue
        if isinstance(extension, Mapping) and "action" in extension and kind == "action":
            mapped[step_id] = extension
            continue
        if kind == "action":
            types = ", ".join(sorted({str(c.get("type")) for c in step.get("commands", [])}))
            notes.append(f"{path}: action step {step.get('name', '')!r} has no TrailGuard "
                         f"action (commands: {types}): not imported")
        else:
            notes.append(f"{path}: {kind} step {step.get('name', '')!r}: TrailGuard "
                         f"playbooks have no {kind}; its branches are imported as a "
                         f"sequence")
    if not mapped:
        raise CacaoError("nothing to import: no action step carries a TrailGuard action",
                         [Problem(n.split(": ", 1)[0], n.split(": ", 1)[1]) for n in notes]
                         or [Problem("$.workflow", "no action steps")], where)
    meta = (document.get("playbook_extensions") or {}).get(EXTENSION_ID)
    meta = meta if isinstance(meta, Mapping) else {}
    names: dict[str, str] = {}
    for step_id, extension in mapped.items():
        name = str(extension.get("step_id") or _slug(str(steps[step_id].get("name", ""))))
        while name in names.values():
            name = f"{name}-{len(names) + 1}"
        names[step_id] = name
    raw_steps: list[tuple[float, dict[str, Any]]] = []
    for index, (step_id, extension) in enumerate(mapped.items()):
        raw = {k: v for k, v in extension.items() if k in _STEP_KEYS and k != "step_id"}
        raw["id"] = names[step_id]
        if "after" not in extension:
            raw["after"] = [names[p] for p in _mapped_predecessors(step_id, edges,
                                                                   set(mapped))]
        if "on_failure" not in extension:
            step = steps[step_id]
            raw["on_failure"] = ("continue" if step.get("on_failure") is not None
                                 and step.get("on_failure") == step.get("on_success")
                                 else "stop")
        if "title" not in extension and steps[step_id].get("name"):
            raw["title"] = str(steps[step_id]["name"])
        raw_steps.append((float(extension.get("position", index)), raw))
    raw_steps.sort(key=lambda pair: pair[0])
    data: dict[str, Any] = {
        "id": meta.get("id") or _slug(str(document.get("name", "cacao-playbook"))),
        "title": document.get("name", ""),
        "steps": [raw for _, raw in raw_steps],
    }
    if document.get("description") and document.get("description") != document.get("name"):
        data["description"] = document["description"]
    if "when" in meta:
        data["when"] = meta["when"]
    else:
        notes.append("$.playbook_extensions: no TrailGuard conditions (when): the playbook "
                     "is never matched automatically")
    if meta.get("vars"):
        data["vars"] = meta["vars"]
    playbook = playbook_from_dict(data, source or f"cacao {document.get('id')}")
    return Playbook(id=playbook.id, title=playbook.title, steps=playbook.steps,
                    when=playbook.when, description=playbook.description, vars=playbook.vars,
                    source=source, notes=tuple(notes))
