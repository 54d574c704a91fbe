"""Loading Sigma rules, filters and correlation rules from files and folders.

Every YAML document is read with ``yaml.safe_load_all`` (through pySigma) and becomes a rule, a
filter, or a refusal that says which file and why. One collection holds the rules of all paths,
so a correlation may refer to a rule in another file, and filters apply to every rule they name.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.filters import SigmaFilter
from sigma.rule import SigmaRule

RULE_SUFFIXES = (".yml", ".yaml")
MAX_RULE_FILE_BYTES = 4 * 1024 * 1024

AnyRule = SigmaRule | SigmaCorrelationRule


@dataclass(frozen=True)
class Refusal:
    path: str
    id: str
    title: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "id": self.id, "title": self.title, "reason": self.reason}


@dataclass
class LoadedRule:
    rule: AnyRule
    path: Path
    source: str  # where the rule comes from: "builtin", "sigmahq" or "user"

    @property
    def id(self) -> str:
        if self.rule.id is not None:
            return str(self.rule.id)
        if self.rule.name:
            return self.rule.name
        return f"{self.path}#{self.rule.title}"

    @property
    def author(self) -> str:
        return self.rule.author or ""

    @property
    def is_correlation(self) -> bool:
        return isinstance(self.rule, SigmaCorrelationRule)


@dataclass
class RuleSet:
    rules: list[LoadedRule] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    files: int = 0

    def refuse(self, loaded: LoadedRule, reason: str) -> None:
        self.refusals.append(Refusal(str(loaded.path), loaded.id, loaded.rule.title, reason))


def rule_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Rule files under the given files and folders, each once, in a stable order."""
    seen: set[Path] = set()
    for path in paths:
        candidates = (
            sorted(p for p in path.rglob("*") if p.suffix.lower() in RULE_SUFFIXES and p.is_file())
            if path.is_dir()
            else [path]
        )
        for candidate in candidates:
            resolved = candidate.resolve()
            if resolved not in seen:
                seen.add(resolved)
                yield candidate


def _documents(path: Path) -> list[object]:
    if path.stat().st_size > MAX_RULE_FILE_BYTES:
        raise ValueError(f"rule file larger than {MAX_RULE_FILE_BYTES // (1024 * 1024)} MiB")
    with path.open("rb") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc is not None]


def load_rules(paths: Iterable[tuple[Path, str]]) -> RuleSet:
    """Rules from (path, source) pairs; what cannot be read is refused with its reason."""
    ruleset = RuleSet()
    filters: list[SigmaFilter] = []
    by_identity: dict[int, LoadedRule] = {}
    seen_ids: set[str] = set()
    for root, source in paths:
        for path in rule_files([root]):
            ruleset.files += 1
            try:
                documents = _documents(path)
            except (OSError, ValueError, yaml.YAMLError) as error:
                ruleset.refusals.append(Refusal(str(path), "", "", f"unreadable: {error}"))
                continue
            dicts = [doc for doc in documents if isinstance(doc, dict)]
            if len(dicts) != len(documents):
                ruleset.refusals.append(
                    Refusal(str(path), "", "", "a YAML document is not a mapping")
                )
            try:
                collection = SigmaCollection.from_dicts(
                    dicts, collect_errors=True, collect_filters=True, resolve_references=False
                )
            except (SigmaError, ValueError, TypeError, KeyError, AttributeError) as error:
                ruleset.refusals.append(Refusal(str(path), "", "", f"invalid: {error}"))
                continue
            filters.extend(collection.filters)
            for rule in collection.rules:
                loaded = LoadedRule(rule, path, source)
                if rule.errors:
                    ruleset.refuse(loaded, "; ".join(str(e) for e in rule.errors))
                    continue
                if loaded.id in seen_ids:
                    ruleset.refuse(loaded, f"duplicate rule id {loaded.id}")
                    continue
                seen_ids.add(loaded.id)
                ruleset.rules.append(loaded)
                by_identity[id(rule)] = loaded
    _resolve(ruleset, filters)
    return ruleset


def _resolve(ruleset: RuleSet, filters: list[SigmaFilter]) -> None:
    """Apply filters and tie correlations to the rules they name, refusing what fails."""
    rules: list[SigmaRule | SigmaCorrelationRule | SigmaFilter] = [
        loaded.rule for loaded in ruleset.rules
    ]
    collection = SigmaCollection(rules, resolve_references=False)
    kept: list[LoadedRule] = []
    for loaded in ruleset.rules:
        rule = loaded.rule
        try:
            if isinstance(rule, SigmaRule):
                for sigma_filter in filters:
                    rule = sigma_filter.apply_on_rule(rule)
                loaded.rule = rule
            else:
                rule.resolve_rule_references(collection)
        except (SigmaError, ValueError, TypeError, KeyError) as error:
            ruleset.refuse(loaded, str(error))
            continue
        kept.append(loaded)
    ruleset.rules = kept
