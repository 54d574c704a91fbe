"""Plans and results: what an action hands to playbooks, the CLI and the audit log.

Everything here is plain, JSON-serialisable data (``to_dict``/``from_dict``), so a playbook
runner can store a plan for approval, execute it later and append every call to the case's
audit log.

A parameter value of the form ``${name}`` is a *reference* to an output of an earlier call
in the same plan (for example the id of a security group the plan creates); ``execute``
substitutes it from the response of the call that declares ``outputs={"name": "Path.In.Body"}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_REF = re.compile(r"^\$\{([a-z][a-z0-9_]*)\}$")


def ref(name: str) -> str:
    """The placeholder for the output ``name`` of an earlier call."""
    if not _REF.match("${" + name + "}"):
        raise ValueError(f"bad reference name {name!r}")
    return "${" + name + "}"


def resolve_refs(value: Any, outputs: Mapping[str, Any]) -> Any:
    """``value`` with every ``${name}`` found in ``outputs`` replaced (recursively)."""
    if isinstance(value, str):
        match = _REF.match(value)
        if match and match.group(1) in outputs:
            return outputs[match.group(1)]
        return value
    if isinstance(value, Mapping):
        return {k: resolve_refs(v, outputs) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [resolve_refs(v, outputs) for v in value]
    return value


def dig(body: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted ``path`` in a response body (``None`` when absent)."""
    node: Any = body
    for part in path.split("."):
        if isinstance(node, Mapping):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _plain(value: Any) -> Any:
    """A JSON-compatible deep copy (tuples become lists)."""
    result: Any = json.loads(json.dumps(value, default=str))
    return result


@dataclass(frozen=True)
class ApiCall:
    """One provider API call: ``service`` (``ecs``, ``ram``, ``ec2``, ``iam``, ``dingtalk`` …),
    the API ``action`` as the provider names it (``ModifyInstanceAttribute``) and its
    ``parameters`` exactly as sent (Alibaba: the flat RPC query, ``SecurityGroupIds.1``;
    AWS: the boto3 keyword arguments, which carry the API's own member names).

    ``outputs`` names values of the response that later calls reference as ``${name}``.
    """

    service: str
    action: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    outputs: Mapping[str, str] = field(default_factory=dict)

    @property
    def permission(self) -> str:
        """The RAM/IAM policy action this call needs (``ecs:ModifyInstanceAttribute``)."""
        return f"{self.service}:{self.action}"

    def resolve(self, outputs: Mapping[str, Any]) -> ApiCall:
        return ApiCall(self.service, self.action, resolve_refs(dict(self.parameters), outputs),
                       dict(self.outputs))

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"service": self.service, "action": self.action,
                                "parameters": _plain(dict(self.parameters))}
        if self.outputs:
            data["outputs"] = dict(self.outputs)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ApiCall:
        return cls(str(data["service"]), str(data["action"]), dict(data.get("parameters", {})),
                   dict(data.get("outputs", {})))

    def __str__(self) -> str:
        args = ", ".join(f"{k}={json.dumps(v, default=str)}" for k, v in self.parameters.items())
        return f"{self.service}:{self.action}({args})"


@dataclass(frozen=True)
class Change:
    """One line of the human diff: ``resource``'s ``attribute`` goes from ``before`` to
    ``after`` (``before=None``: created; ``after=None``: removed)."""

    resource: str
    attribute: str
    before: Any
    after: Any

    def render(self) -> str:
        if self.before is None:
            return f"+ {self.resource}: {self.attribute} = {_show(self.after)}"
        if self.after is None:
            return f"- {self.resource}: {self.attribute} = {_show(self.before)}"
        return (f"~ {self.resource}: {self.attribute}: {_show(self.before)} -> "
                f"{_show(self.after)}")

    def to_dict(self) -> dict[str, Any]:
        return {"resource": self.resource, "attribute": self.attribute,
                "before": _plain(self.before), "after": _plain(self.after)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Change:
        return cls(str(data["resource"]), str(data["attribute"]), data.get("before"),
                   data.get("after"))


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(_plain(value))


@dataclass(frozen=True)
class Plan:
    """What an action would do, computed from the current state (a dry run).

    ``calls`` are the exact write calls ``execute`` will make, in order; ``reads`` the read
    calls made while planning; ``changes`` the human diff; ``state`` what rollback needs (for
    isolation: the original security groups per network interface). An *empty* plan (no
    calls) means nothing needs changing: that is how idempotency shows.
    """

    action: str
    params: Mapping[str, Any]
    calls: tuple[ApiCall, ...] = ()
    changes: tuple[Change, ...] = ()
    reads: tuple[ApiCall, ...] = ()
    state: Mapping[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    rollback: bool = False

    @property
    def empty(self) -> bool:
        return not self.calls

    def diff(self) -> str:
        """The human-readable diff, one change per line (or a no-op line)."""
        kind = "rollback of " if self.rollback else ""
        head = f"{kind}{self.action}"
        if self.empty:
            lines = [f"{head}: nothing to change"]
        else:
            lines = [f"{head}: {len(self.calls)} call(s)"]
            lines += [f"  {c.render()}" for c in self.changes]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "rollback": self.rollback,
                "params": _plain(dict(self.params)),
                "calls": [c.to_dict() for c in self.calls],
                "changes": [c.to_dict() for c in self.changes],
                "reads": [c.to_dict() for c in self.reads],
                "state": _plain(dict(self.state)), "notes": list(self.notes)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        return cls(action=str(data["action"]), params=dict(data.get("params", {})),
                   calls=tuple(ApiCall.from_dict(c) for c in data.get("calls", ())),
                   changes=tuple(Change.from_dict(c) for c in data.get("changes", ())),
                   reads=tuple(ApiCall.from_dict(c) for c in data.get("reads", ())),
                   state=dict(data.get("state", {})),
                   notes=tuple(str(n) for n in data.get("notes", ())),
                   rollback=bool(data.get("rollback", False)))


@dataclass(frozen=True)
class CallRecord:
    """One executed call: the request as sent (references resolved) and the provider's
    response body, both redacted, with timing and the number of attempts (retries)."""

    call: ApiCall
    response: Mapping[str, Any]
    attempts: int
    started_at: str
    finished_at: str
    request_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"request": self.call.to_dict(), "response": _plain(dict(self.response)),
                "attempts": self.attempts, "started_at": self.started_at,
                "finished_at": self.finished_at, "request_id": self.request_id}


@dataclass(frozen=True)
class Result:
    """What ``execute`` did. ``state`` is the plan's state with references resolved plus the
    ``outputs`` of the calls: pass it to ``rollback_plan``."""

    action: str
    records: tuple[CallRecord, ...]
    state: Mapping[str, Any]
    rollback: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.records)

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "rollback": self.rollback, "changed": self.changed,
                "records": [r.to_dict() for r in self.records],
                "state": _plain(dict(self.state))}
