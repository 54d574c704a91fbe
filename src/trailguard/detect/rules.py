"""Loading Sigma rules, filters and correlation rules from files and folders.

Every YAML document is read with PyYAML's safe loader (its C build) and becomes a rule, a
filter, or a refusal that says which file and why. One collection holds the rules of all paths,
so a correlation may refer to a rule in another file, and filters apply to every rule they name.
"""

from __future__ import annotations

import gc
import hashlib
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.filters import SigmaFilter
from sigma.rule import SigmaRule

from trailguard.collector import collector_paused

RULE_SUFFIXES = (".yml", ".yaml")
#: Rule files parsed between two collections of young garbage while rules load.
_PARSES_PER_COLLECTION = 100
MAX_RULE_FILE_BYTES = 4 * 1024 * 1024

AnyRule = SigmaRule | SigmaCorrelationRule

if TYPE_CHECKING:
    from trailguard.detect.cache import CompileCache


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
    """A rule with what alerts cite of it. `rule` is the pySigma object; it is None for a rule
    whose compiled form came from the compiled-rule cache (`compiled` then holds it)."""

    path: Path
    source: str  # where the rule comes from: "builtin", "sigmahq" or "user"
    id: str
    name: str | None
    title: str
    level: str
    author: str
    tags: list[str]
    rule: AnyRule | None = None
    compiled: Any = None  # plan.CompiledRule read from the cache
    cached_refusal: str | None = None  # why the cached rule was refused
    file_sha256: str | None = None  # set when the rule's compiled form may be cached

    @classmethod
    def of(cls, rule: AnyRule, path: Path, source: str) -> LoadedRule:
        rule_id = str(rule.id) if rule.id is not None else rule.name or f"{path}#{rule.title}"
        return cls(
            path=path,
            source=source,
            id=rule_id,
            name=rule.name,
            title=rule.title,
            level=rule.level.name.lower() if rule.level else "",
            author=rule.author or "",
            tags=[str(tag) for tag in rule.tags],
            rule=rule,
        )

    @property
    def names(self) -> set[str]:
        """Every reference a correlation may use for this rule: its id and its name."""
        return {n for n in (self.id, self.name) if n}

    @property
    def is_correlation(self) -> bool:
        return isinstance(self.rule, SigmaCorrelationRule)

    def describe(self) -> dict[str, str]:
        """The rule as alerts cite it (DRL 1.1: the author goes wherever a match is shown)."""
        return {
            "id": self.id,
            "title": self.title,
            "level": self.level,
            "author": self.author,
            "path": str(self.path),
            "source": self.source,
        }


@dataclass
class RuleSet:
    rules: list[LoadedRule] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    files: int = 0

    def refuse(self, loaded: LoadedRule, reason: str) -> None:
        self.refusals.append(Refusal(str(loaded.path), loaded.id, loaded.title, reason))


def rule_files(paths: Iterable[Path], seen: set[tuple[int, int]] | None = None) \
        -> Iterator[Path]:
    """Rule files under the given files and folders, each once, in a stable order.

    A file reached twice (named again, or through a link) is known by its device and inode,
    which one ``stat`` gives (resolving every path costs a system call per path component).
    ``seen`` carries the files already taken across calls."""
    seen = set() if seen is None else seen
    for path in paths:
        candidates = (
            sorted(p for p in path.rglob("*") if p.suffix.lower() in RULE_SUFFIXES)
            if path.is_dir()
            else [path]
        )
        for candidate in candidates:
            try:
                status = candidate.stat()
            except OSError:
                yield candidate  # unreadable: the reader says why
                continue
            if not stat.S_ISREG(status.st_mode):
                continue
            identity = (status.st_dev, status.st_ino)
            if identity not in seen:
                seen.add(identity)
                yield candidate


def _has_top_key(data: bytes, key: bytes) -> bool:
    """Whether a rule file has a document with this top-level key (a line starting ``key:``).
    The name is looked for first, at memory speed: a multi-line regex scan of every rule file
    was a fifth of loading a cached rule set."""
    if not (data.startswith(key) or b"\n" + key in data):
        return False
    return re.search(rb"^" + re.escape(key) + rb"\s*:", data, re.MULTILINE) is not None


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C build of the safe loader


def _read(path: Path) -> bytes:
    if path.stat().st_size > MAX_RULE_FILE_BYTES:
        raise ValueError(f"rule file larger than {MAX_RULE_FILE_BYTES // (1024 * 1024)} MiB")
    return path.read_bytes()


def _documents(data: bytes) -> list[object]:
    return [doc for doc in yaml.load_all(data, Loader=_YAML_LOADER) if doc is not None]


@collector_paused()
def load_rules(paths: Iterable[tuple[Path, str]], cache: CompileCache | None = None) -> RuleSet:
    """Rules from (path, source) pairs; what cannot be read is refused with its reason.

    With a cache, a rule file whose compiled form is cached is not parsed at all (unless a
    filter is among the files: filters change rules, so then every file is parsed)."""
    ruleset = RuleSet()
    filters: list[SigmaFilter] = []
    seen_ids: set[str] = set()
    files: list[tuple[Path, str, bytes]] = []
    seen_files: set[tuple[int, int]] = set()
    for root, source in paths:
        for path in rule_files([root], seen_files):
            ruleset.files += 1
            try:
                files.append((path, source, _read(path)))
            except (OSError, ValueError) as error:
                ruleset.refusals.append(Refusal(str(path), "", "", f"unreadable: {error}"))
    if any(_has_top_key(data, b"filter") for _, _, data in files):
        cache = None
    referenced = _correlation_references(files) if cache is not None else set()
    parsed = 0
    for path, source, data in files:
        sha256 = hashlib.sha256(data).hexdigest()
        refused_before = len(ruleset.refusals)
        # pySigma resolves a correlation against rule objects, so the rules it names are parsed.
        cacheable = (cache is not None and not _has_top_key(data, b"correlation")
                     and not any(reference in data for reference in referenced))
        cached = cache.rules(sha256, path, source) if cache is not None and cacheable else None
        if cached is not None:
            loaded_rules = cached
        else:
            loaded_rules = _parse(ruleset, filters, path, source, data)
            parsed += 1
            if parsed % _PARSES_PER_COLLECTION == 0:
                # pySigma's rule objects hold reference cycles: free the young ones now and
                # then (the collector is paused; a full pass over every rule would be costly).
                gc.collect(1)
        for loaded in loaded_rules:
            if loaded.id in seen_ids:
                ruleset.refuse(loaded, f"duplicate rule id {loaded.id}")
                continue
            seen_ids.add(loaded.id)
            ruleset.rules.append(loaded)
        if cached is None and cacheable and len(ruleset.refusals) == refused_before:
            # Only a file read whole, every rule of it kept, is cached.
            for loaded in loaded_rules:
                loaded.file_sha256 = sha256
    _resolve(ruleset, filters)
    return ruleset


def _correlation_references(files: list[tuple[Path, str, bytes]]) -> set[bytes]:
    """The rule ids and names the correlation rules among the files refer to."""
    references: set[bytes] = set()
    for _, _, data in files:
        if not _has_top_key(data, b"correlation"):
            continue
        try:
            documents = _documents(data)
        except yaml.YAMLError:
            continue
        for document in documents:
            correlation = document.get("correlation") if isinstance(document, dict) else None
            if isinstance(correlation, dict):
                names = correlation.get("rules") or []
                if isinstance(names, str):
                    names = [names]
                references.update(str(name).encode() for name in names if name)
                condition = correlation.get("condition")
                if isinstance(condition, str):  # extended conditions name rules too
                    references.update(word.encode() for word in re.findall(r"[\w.-]+", condition)
                                      if word not in ("and", "or", "not"))
    return references


def _parse(ruleset: RuleSet, filters: list[SigmaFilter], path: Path, source: str,
           data: bytes) -> list[LoadedRule]:
    try:
        documents = _documents(data)
    except yaml.YAMLError as error:
        ruleset.refusals.append(Refusal(str(path), "", "", f"unreadable: {error}"))
        return []
    dicts = [doc for doc in documents if isinstance(doc, dict)]
    if len(dicts) != len(documents):
        ruleset.refusals.append(Refusal(str(path), "", "", "a YAML document is not a mapping"))
    try:
        collection = SigmaCollection.from_dicts(
            dicts, collect_errors=True, collect_filters=True, resolve_references=False
        )
    except (SigmaError, ValueError, TypeError, KeyError, AttributeError) as error:
        ruleset.refusals.append(Refusal(str(path), "", "", f"invalid: {error}"))
        return []
    filters.extend(collection.filters)
    parsed = []
    for rule in collection.rules:
        loaded = LoadedRule.of(rule, path, source)
        if rule.errors:
            ruleset.refuse(loaded, "; ".join(str(e) for e in rule.errors))
        else:
            parsed.append(loaded)
    return parsed


def _resolve(ruleset: RuleSet, filters: list[SigmaFilter]) -> None:
    """Apply filters and tie correlations to the rules they name, refusing what fails."""
    rules: list[SigmaRule | SigmaCorrelationRule | SigmaFilter] = [
        loaded.rule for loaded in ruleset.rules if loaded.rule is not None
    ]
    collection = SigmaCollection(rules, resolve_references=False)
    kept: list[LoadedRule] = []
    for loaded in ruleset.rules:
        rule = loaded.rule
        if rule is None:
            kept.append(loaded)
            continue
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
