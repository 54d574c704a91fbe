"""The compiled-rule cache: what a rule file compiles to, kept by the file's SHA-256.

Parsing 2,400 SigmaHQ rules with pySigma and compiling them takes several seconds; reading back
their compiled form takes a fraction of one. An entry holds, for each rule of a file, what alerts
cite (id, title, level, author, tags) and per route the DuckDB text and the vectorised program —
or the reason the rule was refused. Entries live under a folder named after a digest of the
TrailGuard and pySigma versions and of the compiler's own source, so any change to how rules
compile starts a fresh cache. Files with correlations or filters are never cached (they need
pySigma's objects), and while any filter is loaded no cached entry is used.

Location: TRAILGUARD_CACHE_DIR, else $XDG_CACHE_HOME/trailguard, else ~/.cache/trailguard;
TRAILGUARD_NO_CACHE=1 turns it off.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import orjson
import pyarrow.compute as pc
import sigma
from sigma.rule import SigmaLogSource, SigmaRule

from trailguard import __version__
from trailguard.detect import compiler, dialects, logsources, vector
from trailguard.detect.logsources import routes_for
from trailguard.detect.plan import CompiledRoute, CompiledRule
from trailguard.detect.rules import LoadedRule
from trailguard.detect.vector import Program

FORMAT = 1
_KERNELS: dict[str, Callable[..., Any]] = {
    "less": pc.less, "less_equal": pc.less_equal,
    "greater": pc.greater, "greater_equal": pc.greater_equal,
}


@lru_cache(maxsize=1)
def compiler_digest() -> str:
    digest = hashlib.sha256(f"{FORMAT}:{__version__}:{_sigma_version()}".encode())
    for module in (compiler, dialects, logsources, vector):
        source = getattr(module, "__file__", None)
        if source:
            digest.update(Path(source).read_bytes())
    digest.update(Path(__file__).with_name("plan.py").read_bytes())
    return digest.hexdigest()[:20]


def _sigma_version() -> str:
    try:
        from importlib.metadata import version

        return version("pysigma")
    except Exception:
        return str(getattr(sigma, "__version__", "unknown"))


class CompileCache:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.folder = root / f"compiled-{compiler_digest()}"

    @classmethod
    def default(cls) -> CompileCache | None:
        if os.environ.get("TRAILGUARD_NO_CACHE"):
            return None
        explicit = os.environ.get("TRAILGUARD_CACHE_DIR")
        if explicit:
            return cls(Path(explicit))
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return cls(Path(base) / "trailguard")

    def _path(self, sha256: str) -> Path:
        return self.folder / sha256[:2] / f"{sha256}.json"

    def get(self, sha256: str) -> list[dict[str, Any]] | None:
        try:
            data = orjson.loads(self._path(sha256).read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            return None
        rules = data.get("rules")
        return rules if isinstance(rules, list) else None

    def put(self, sha256: str, rules: list[dict[str, Any]]) -> None:
        path = self._path(sha256)
        try:
            if not self.folder.exists():
                self._prune()
            path.parent.mkdir(parents=True, exist_ok=True)
            payload = orjson.dumps({"format": FORMAT, "rules": rules}, default=_encode_default)
            with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as handle:
                handle.write(payload)
            Path(handle.name).replace(path)
        except OSError:
            return  # a cache that cannot be written only costs time

    def rules(self, sha256: str, path: Path, source: str) -> list[LoadedRule] | None:
        """The rules of a file from its cached compiled form, or None (not cached, stale)."""
        entries = self.get(sha256)
        if entries is None:
            return None
        loaded_rules = []
        try:
            for entry in entries:
                loaded = LoadedRule(
                    path=path, source=source, id=entry["id"], name=entry["name"],
                    title=entry["title"], level=entry["level"], author=entry["author"],
                    tags=list(entry["tags"]),
                )
                if entry["refused"]:
                    loaded.cached_refusal = str(entry["refused"])
                else:
                    routes = decode_routes(entry)
                    if routes is None:
                        return None
                    loaded.compiled = CompiledRule(loaded, routes)
                loaded_rules.append(loaded)
        except (KeyError, TypeError, ValueError):
            return None
        return loaded_rules

    def _prune(self) -> None:
        """Drop caches of other compiler versions."""
        if self.root.is_dir():
            for old in self.root.glob("compiled-*"):
                shutil.rmtree(old, ignore_errors=True)


def _encode_default(value: object) -> object:
    name = getattr(value, "__name__", None)
    if callable(value) and name in _KERNELS:
        return {"kernel": name}
    raise TypeError(f"cannot cache {type(value).__name__}")


def _decode_program(value: Any) -> Any:
    kind = type(value)
    if kind is str or kind is int or kind is float:  # most of a program: names and literals
        return value
    if kind is list:
        return tuple([_decode_program(item) for item in value])
    if isinstance(value, dict) and set(value) == {"kernel"}:
        kernel = _KERNELS.get(str(value["kernel"]))
        if kernel is None:
            raise ValueError(f"unknown kernel {value['kernel']!r}")
        return kernel
    return value


_LEAF_ARITY = {"null": 2, "present": 2, "in": 3, "like": 3, "regex": 3, "compare": 4,
               "literal": 4, "literals": 4}


def _is_text(value: Any) -> bool:
    return (isinstance(value, tuple) and len(value) == 2
            and value[0] in ("raw", "lower", "double") and isinstance(value[1], str))


def valid_program(program: Any) -> bool:
    """Whether a program read back from the cache has the shapes `vector.prepare` builds."""
    if not isinstance(program, tuple) or not program or not isinstance(program[0], str):
        return False
    op = program[0]
    if op in ("true", "false"):
        return len(program) == 1
    if op in ("and", "or"):
        return (len(program) == 2 and isinstance(program[1], tuple)
                and all(valid_program(p) for p in program[1]))
    if op == "not":
        return len(program) == 2 and valid_program(program[1])
    if _LEAF_ARITY.get(op) != len(program) or not _is_text(program[1]):
        return False
    if op in ("null", "present"):
        return True
    if op == "compare":
        return callable(program[2]) and isinstance(program[3], int | float)
    if op == "in":
        return isinstance(program[2], tuple) and all(isinstance(v, str) for v in program[2])
    if op == "literal":
        return program[2] in ("contains", "starts", "ends", "equals") and isinstance(program[3],
                                                                                    str)
    if op == "literals":
        return (isinstance(program[2], tuple) and isinstance(program[3], str)
                and all(isinstance(pair, tuple) and len(pair) == 2 for pair in program[2]))
    return isinstance(program[2], str)


def encode_rule(loaded: LoadedRule, compiled: CompiledRule | None,
                refused: str | None) -> dict[str, Any] | None:
    """A cache entry for one rule: its metadata and compiled routes, or why it was refused."""
    rule = loaded.rule
    if not isinstance(rule, SigmaRule):
        return None
    logsource = rule.logsource
    entry: dict[str, Any] = {
        "id": loaded.id, "name": loaded.name, "title": loaded.title, "level": loaded.level,
        "author": loaded.author, "tags": loaded.tags,
        "logsource": [logsource.product, logsource.category, logsource.service],
        "refused": refused,
    }
    entry["routes"] = [] if compiled is None else [
        {
            "route": route.route.label,
            "sql": route.sql(),
            "program": route.vector_program(),
            "columns": sorted(route.columns),
        }
        for route in compiled.routes
    ]
    return entry


def decode_routes(entry: dict[str, Any]) -> list[CompiledRoute] | None:
    """The compiled routes of a cached rule; None when they no longer resolve."""
    product, category, service = entry["logsource"]
    known = {route.label: route for route in routes_for(
        SigmaLogSource(product=product, category=category, service=service)
    )}
    decoded = []
    for item in entry["routes"]:
        route = known.get(item["route"])
        if route is None:
            return None
        if not isinstance(item["sql"], str):
            return None
        decoded.append(CompiledRoute(route, None, frozenset(item["columns"]),
                                     duckdb_sql=item["sql"],
                                     cached_program=partial(decoded_program, item["program"]),
                                     unsupported=item["program"] is None))
    return decoded


def decoded_program(cached: Any) -> Program | None:
    """A cached vectorised program, or None when it is not one `vector.prepare` builds."""
    try:
        program = _decode_program(cached)
    except (ValueError, TypeError, RecursionError):
        return None
    return program if valid_program(program) else None
