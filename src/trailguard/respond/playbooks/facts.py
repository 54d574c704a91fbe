"""What playbooks read from an incident: a fixed set of facts over its JSON document.

Playbooks never see Python objects: they see the document ``Incident.to_json()`` produces
(the one stored in the case table ``incidents``), so an incident read back from a case and
one fresh from the tracer match alike. Every accessor here tolerates missing keys (the
summarised single-alert documents leave most of them out).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from trailguard.trace.model import Incident

Document = Mapping[str, Any]

#: ``{incident.<field>}`` fields a playbook may use (scalars of the document).
INCIDENT_FIELDS = ("id", "title", "severity", "score", "first", "last", "alerts")

#: Indicator kinds (``Indicator.kind``) usable in ``for_each: indicators.<kind>``.
INDICATOR_KINDS = ("ipv4-addr", "ipv6-addr", "domain-name", "url", "user-agent",
                   "access-key", "file")

#: ``for_each: impact.<list>``.
IMPACT_LISTS = ("instances", "hosts", "keys", "buckets", "accounts")

#: Entity kinds usable in ``when.entities`` and ``for_each: attacker.<kind>``.
ENTITY_KINDS = ("ip", "access_key", "principal", "user", "host", "instance", "process",
                "session", "file", "bucket", "security_group", "pod", "user_agent", "domain",
                "url")

PROVIDERS = ("aliyun", "aws")

_SOURCE_PROVIDERS = (("actiontrail", "aliyun"), ("aliyun", "aliyun"), ("oss", "aliyun"),
                     ("cloudtrail", "aws"), ("aws", "aws"), ("s3", "aws"))
_KEY_PROVIDERS = (("LTAI", "aliyun"), ("AKIA", "aws"), ("ASIA", "aws"))


def document(incident: Incident | Document) -> Document:
    """The JSON document of an incident (an :class:`Incident` or its stored document)."""
    return incident.to_json() if isinstance(incident, Incident) else incident


def _list(doc: Document, key: str) -> list[Any]:
    value = doc.get(key)
    return value if isinstance(value, list) else []


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def impact(doc: Document, name: str) -> list[str]:
    block = doc.get("impact")
    values = block.get(name) if isinstance(block, Mapping) else None
    return _unique([str(v) for v in values]) if isinstance(values, list) else []


def indicators(doc: Document, kind: str) -> list[str]:
    return _unique([str(i.get("value", "")) for i in _list(doc, "indicators")
                    if isinstance(i, Mapping) and i.get("kind") == kind])


def entities(doc: Document, kind: str, role: str | None = None) -> list[str]:
    return _unique([str(e.get("value", "")) for e in _list(doc, "entities")
                    if isinstance(e, Mapping) and e.get("kind") == kind
                    and (role is None or e.get("role") == role)])


def attacker_kinds(doc: Document) -> set[str]:
    """Entity kinds with at least one entity of role ``attacker``."""
    return {str(e.get("kind")) for e in _list(doc, "entities")
            if isinstance(e, Mapping) and e.get("role") == "attacker"}


def providers(doc: Document) -> set[str]:
    """The clouds an incident lives in, from its evidence sources, keys and principals."""
    found: set[str] = set()
    for step in _list(doc, "chain"):
        evidence = step.get("evidence") if isinstance(step, Mapping) else None
        source = str(evidence.get("source_type", "")) if isinstance(evidence, Mapping) else ""
        found.update(p for marker, p in _SOURCE_PROVIDERS if marker in source.lower())
    keys = entities(doc, "access_key") + indicators(doc, "access-key") + impact(doc, "keys")
    for key in keys:
        found.update(p for prefix, p in _KEY_PROVIDERS if key.startswith(prefix))
    for principal in entities(doc, "principal"):
        if "arn:aws:" in principal:
            found.add("aws")
        elif "acs:ram:" in principal:
            found.add("aliyun")
    return found


def user_name(principal: str) -> str:
    """The user part of a principal: ``1234:alice`` -> ``alice``,
    ``arn:aws:iam::1111:user/ops/alice`` -> ``alice``, ``acs:ram::1234:user/alice`` -> ``alice``."""
    if principal.startswith(("arn:", "acs:")):
        return re.split(r"[:/]", principal)[-1]
    return principal.split(":", 1)[1] if ":" in principal else principal


def co_occurrence_counts(doc: Document, kind: str, value: str, other: str) -> dict[str, int]:
    """How many alerts name each value of entity kind ``other`` together with ``kind:value``
    (the chain's steps, weighted by the alerts each collapses)."""
    counts: dict[str, int] = {}
    for step in _list(doc, "chain"):
        refs = step.get("entities") if isinstance(step, Mapping) else None
        if not isinstance(refs, list):
            continue
        pairs = [(str(r.get("kind")), str(r.get("value"))) for r in refs
                 if isinstance(r, Mapping)]
        if (kind, value) in pairs:
            weight = step.get("alerts") if isinstance(step.get("alerts"), int) else 1
            for k, v in dict.fromkeys(pairs):
                if k == other:
                    counts[v] = counts.get(v, 0) + int(weight)
    return counts


def co_occurring(doc: Document, kind: str, value: str, other: str) -> list[str]:
    """Values of entity kind ``other`` named in the chain steps that name ``kind:value``, in
    the order they first appear."""
    return [v for v in co_occurrence_counts(doc, kind, value, other) if v]


def _for_each_paths() -> dict[str, Callable[[Document], list[str]]]:
    paths: dict[str, Callable[[Document], list[str]]] = {}
    for name in IMPACT_LISTS:
        paths[f"impact.{name}"] = partial(impact, name=name)
    for kind in INDICATOR_KINDS:
        paths[f"indicators.{kind}"] = partial(indicators, kind=kind)
    for kind in ENTITY_KINDS:
        paths[f"attacker.{kind}"] = partial(entities, kind=kind, role="attacker")
        paths[f"entities.{kind}"] = partial(entities, kind=kind)
    paths["attacker.long_term_key"] = long_term_keys
    return paths


#: Prefixes of temporary (STS) access keys: they expire on their own and cannot be disabled
#: with UpdateAccessKey; the role's sessions must be revoked instead.
TEMPORARY_KEY_PREFIXES = ("STS.", "ASIA")


def long_term_keys(doc: Document) -> list[str]:
    """The attacker's access keys that belong to a user (not temporary STS credentials)."""
    return [key for key in entities(doc, "access_key", role="attacker")
            if not key.startswith(TEMPORARY_KEY_PREFIXES)]


FOR_EACH: dict[str, Callable[[Document], list[str]]] = _for_each_paths()
"""Every allowed ``for_each`` path: ``attacker.long_term_key``, ``impact.<list>``,
``indicators.<kind>``, ``attacker.<entity kind>`` (entities of role attacker) and
``entities.<entity kind>``."""
