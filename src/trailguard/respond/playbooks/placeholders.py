"""The placeholder language of playbook parameters: small, closed and evaluated by us.

A parameter string may contain placeholders in braces; ``{{`` and ``}}`` are literal braces.
A placeholder is one of:

* ``{item}``: the current value of the step's ``for_each`` (only in steps with one);
* ``{incident.<field>}``: a field of :data:`~.facts.INCIDENT_FIELDS` (``id``, ``title``,
  ``severity``, ``score``, ``first``, ``last``, ``alerts``);
* ``{vars.<name>}``: a variable declared in the playbook's ``vars`` (defaults there,
  overridden at plan time: the forensic CIDR, the security groups to put drop rules in …);
* ``{<resolver>}``: a named pure function over the incident, see :data:`RESOLVERS`.

A string that is exactly one placeholder keeps the value's type (a list variable stays a
list, ``{incident.alerts}`` an integer); placeholders inside longer text become text. There
is no expression syntax, no attribute access beyond the names above and no evaluation:
unknown names are refused when the playbook loads.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from trailguard.respond.playbooks.facts import (
    INCIDENT_FIELDS,
    Document,
    co_occurrence_counts,
    co_occurring,
    entities,
    providers,
    user_name,
)

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?$")


class PlaceholderError(Exception):
    """A template is malformed or names something unknown (wrapped by the caller, which
    knows the file and step)."""


class UnresolvedError(Exception):
    """A resolver found no value for this incident (wrapped by the caller)."""


@dataclass(frozen=True)
class Resolver:
    """A named function of the incident document (and the step's item, when ``needs_item``)."""

    name: str
    needs_item: bool
    summary: str
    function: Callable[[Document, str | None], str | None]


def _principal_of_key(doc: Document, item: str | None) -> str | None:
    """The user a key belongs to: the one named with it in the chain. A key also appears
    beside the user who *created* it (once); the owner is the user named with it at least
    twice as often as any other, else the key is ambiguous."""
    key = item or ""
    counts: dict[str, int] = {}
    for principal, count in co_occurrence_counts(doc, "access_key", key, "principal").items():
        name = user_name(principal)
        counts[name] = counts.get(name, 0) + count
    if not counts:
        counts = {user_name(p): 1 for p in entities(doc, "principal")}
    ranked = sorted(counts.items(), key=lambda item: -item[1])
    if len(ranked) > 1 and ranked[0][1] < 2 * ranked[1][1]:
        raise UnresolvedError(f"the key {key} is named with several users "
                              f"({', '.join(name for name, _ in ranked)}); set user_name "
                              "explicitly")
    return ranked[0][0] if ranked else None


def _instance_of_host(doc: Document, item: str | None) -> str | None:
    host = item or ""
    if re.fullmatch(r"i-[0-9a-z]{8,24}", host):
        return host
    instances = co_occurring(doc, "host", host, "instance")
    if len(instances) > 1:
        raise UnresolvedError(f"the host {host} is named with several instances "
                              f"({', '.join(instances)})")
    return instances[0] if instances else None


def _summary(doc: Document, item: str | None) -> str:
    score = doc.get("score")
    return (f"{doc.get('id', '?')} [{doc.get('severity', '?')}, score {score}]: "
            f"{doc.get('title', '')}")


def _provider(doc: Document, item: str | None) -> str | None:
    found = sorted(providers(doc))
    if len(found) > 1:
        raise UnresolvedError(f"the incident spans several clouds ({', '.join(found)})")
    return found[0] if found else None


def _attacker_ips(doc: Document, item: str | None) -> str | None:
    found = entities(doc, "ip", "attacker")
    return ", ".join(found) if found else None


RESOLVERS: dict[str, Resolver] = {r.name: r for r in (
    Resolver("principal_of_key", True,
             "the RAM/IAM user name of the access key {item}: the principal named with the "
             "key in the chain (else the incident's only principal); account and ARN "
             "prefixes removed", _principal_of_key),
    Resolver("instance_of_host", True,
             "the instance id of host {item} (the host itself when it is an instance id, "
             "else the instance named with it in the chain)", _instance_of_host),
    Resolver("summary", False, "'<id> [<severity>, score <score>]: <title>'", _summary),
    Resolver("provider", False, "the incident's cloud (aliyun or aws)", _provider),
    Resolver("attacker_ips", False, "the attacker's addresses, comma-separated",
             _attacker_ips),
)}
"""Named resolvers: pure functions over the incident document."""


@dataclass(frozen=True)
class Placeholder:
    """One ``{name}`` of a template: ``scope`` is ``item``, ``incident``, ``vars`` or
    ``resolver``; ``name`` the field, variable or resolver name."""

    scope: str
    name: str

    def __str__(self) -> str:
        if self.scope in ("incident", "vars"):
            return "{" + f"{self.scope}.{self.name}" + "}"
        return "{" + self.name + "}"

    @property
    def needs_item(self) -> bool:
        return self.scope == "item" or (self.scope == "resolver"
                                        and RESOLVERS[self.name].needs_item)


Segment = str | Placeholder


def parse(template: str, variables: Mapping[str, Any]) -> list[Segment]:
    """Split a template into text and placeholders; refuse unknown names."""
    segments: list[Segment] = []
    text = ""
    position = 0
    for match in _TOKEN.finditer(template):
        text += template[position:match.start()]
        position = match.end()
        token = match.group(0)
        if token in ("{{", "}}"):
            text += token[0]
            continue
        if match.group(1) is None:
            raise PlaceholderError(f"unbalanced {token!r} in {template!r} (write {token * 2} "
                                   f"for a literal brace)")
        if text:
            segments.append(text)
            text = ""
        segments.append(_placeholder(match.group(1).strip(), variables))
    text += template[position:]
    if text:
        segments.append(text)
    return segments


def _placeholder(name: str, variables: Mapping[str, Any]) -> Placeholder:
    if not _NAME.match(name):
        raise PlaceholderError(f"{{{name}}} is not a placeholder name")
    if name == "item":
        return Placeholder("item", "item")
    scope, _, field = name.partition(".")
    if scope == "incident" and field:
        if field not in INCIDENT_FIELDS:
            raise PlaceholderError(f"{{{name}}}: incident fields are "
                                   f"{', '.join(INCIDENT_FIELDS)}")
        return Placeholder("incident", field)
    if scope == "vars" and field:
        if field not in variables:
            known = ", ".join(variables) or "none declared"
            raise PlaceholderError(f"{{{name}}}: no such variable in vars ({known})")
        return Placeholder("vars", field)
    if not field and name in RESOLVERS:
        return Placeholder("resolver", name)
    raise PlaceholderError(f"unknown placeholder {{{name}}}; known: {{item}}, "
                           f"{{incident.<field>}}, {{vars.<name>}}, "
                           + ", ".join("{" + r + "}" for r in RESOLVERS))


def placeholders(value: Any, variables: Mapping[str, Any]) -> list[Placeholder]:
    """Every placeholder in a parameter value (strings in lists and mappings too)."""
    if isinstance(value, str):
        return [s for s in parse(value, variables) if isinstance(s, Placeholder)]
    if isinstance(value, list | tuple):
        return [p for v in value for p in placeholders(v, variables)]
    if isinstance(value, Mapping):
        return [p for v in value.values() for p in placeholders(v, variables)]
    return []


def value_of(placeholder: Placeholder, doc: Document, item: str | None,
             variables: Mapping[str, Any]) -> Any:
    if placeholder.scope == "item":
        return item
    if placeholder.scope == "incident":
        return doc.get(placeholder.name)
    if placeholder.scope == "vars":
        value = variables.get(placeholder.name)
        if value is None:
            raise UnresolvedError(f"variable {placeholder.name} has no value "
                                  f"(give it at plan time)")
        return value
    resolved = RESOLVERS[placeholder.name].function(doc, item)
    if resolved is None:
        about = f" for {item}" if RESOLVERS[placeholder.name].needs_item else ""
        raise UnresolvedError(f"{placeholder} found no value{about} in this incident")
    return resolved


def substitute(value: Any, doc: Document, item: str | None,
               variables: Mapping[str, Any]) -> Any:
    """``value`` with every placeholder replaced (recursively)."""
    if isinstance(value, list | tuple):
        return [substitute(v, doc, item, variables) for v in value]
    if isinstance(value, Mapping):
        return {k: substitute(v, doc, item, variables) for k, v in value.items()}
    if not isinstance(value, str):
        return value
    segments = parse(value, variables)
    if len(segments) == 1 and isinstance(segments[0], Placeholder):
        return value_of(segments[0], doc, item, variables)
    parts: list[str] = []
    for segment in segments:
        if isinstance(segment, str):
            parts.append(segment)
            continue
        resolved = value_of(segment, doc, item, variables)
        if isinstance(resolved, list | tuple | Mapping):
            raise UnresolvedError(f"{segment} is a list; it can only be a whole value")
        parts.append("" if resolved is None else str(resolved))
    return "".join(parts)
