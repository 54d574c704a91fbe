"""The compiled-rule cache: a warm run is the same run without parsing, and nothing stale, filtered,
correlated or corrupt is ever served from it."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import duckdb
import pytest

import trailguard.detect.rules as rules_module
from tests.detect._support import MACOS_RULE
from trailguard.detect.alerts import EventDetails, iter_json
from trailguard.detect.cache import CompileCache
from trailguard.detect.rules import RuleSet, load_rules
from trailguard.detect.run import DetectionRun, detect

WHOAMI = "5a1b0000-0000-4000-8000-000000000002"
FILTER_WS02 = """\
title: Ignore whoami on WS02
id: 5a1b0000-0000-4000-8000-000000000702
status: test
logsource:
    product: windows
    category: process_creation
filter:
    rules:
        - 5a1b0000-0000-4000-8000-000000000002
    selection:
        Computer: WS02.corp.example
    condition: not selection
"""


@pytest.fixture
def cache(tmp_path: Path) -> CompileCache:
    return CompileCache(tmp_path / "cache")


def run_once(connection: duckdb.DuckDBPyConnection, cache: CompileCache | None,
             *paths: Path) -> tuple[RuleSet, DetectionRun, list[str]]:
    """Load (through the cache), detect, and the alerts as sorted JSON lines."""
    ruleset = load_rules([(path, "user") for path in paths], cache)
    run = detect(connection, ruleset, cache=cache)
    assert not run.stats.errors
    details = EventDetails.read(connection, [ref.uid for alert in run.alerts
                                             for ref in (alert.event, *alert.members)])
    return ruleset, run, sorted(json.dumps(line) for line in iter_json(run.alerts, details))


def entries(cache: CompileCache) -> list[Path]:
    return sorted(cache.folder.rglob("*.json"))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_warm_cache_gives_identical_alerts_without_parsing(
        connection, cache: CompileCache, rules: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folders = [rules / name for name in ("windows", "linux", "cloud", "zeek")]
    cold_rules, cold_run, cold = run_once(connection, cache, *folders)
    assert all(loaded.compiled is None for loaded in cold_rules.rules)  # compiled, not cached
    assert len(entries(cache)) == cold_rules.files == 13

    def no_parsing(*args: object) -> list[rules_module.LoadedRule]:
        raise AssertionError("a cached rule file was parsed")

    monkeypatch.setattr(rules_module, "_parse", no_parsing)
    warm_rules, warm_run, warm = run_once(connection, cache, *folders)
    assert len(warm_rules.rules) == len(cold_rules.rules) == 13
    assert all(loaded.rule is None and loaded.compiled is not None
               for loaded in warm_rules.rules)
    assert warm == cold
    assert len(warm) == 27  # the auditd EXECVE rule included
    assert warm_run.rules_run == cold_run.rules_run == 13
    assert warm_run.matches == cold_run.matches


def test_editing_a_rule_file_invalidates_its_entry(connection, cache: CompileCache, rules: Path,
                                                   tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    shutil.copytree(rules / "windows", folder)
    _, _, cold = run_once(connection, cache, folder)
    whoami = folder / "proc_creation_whoami.yml"
    before = sha256(whoami)
    whoami.write_text(whoami.read_text(encoding="utf-8").replace("whoami.exe", "certutil.exe"),
                      encoding="utf-8")

    ruleset, _, warm = run_once(connection, cache, folder)
    parsed = {loaded.id for loaded in ruleset.rules if loaded.compiled is None}
    assert parsed == {WHOAMI}
    assert cache.get(sha256(whoami)) is not None  # the edited file has its own entry now
    assert cache.get(before) is not None
    fired = [json.loads(line)["event"]["record"] for line in warm
             if json.loads(line)["rule"]["id"] == WHOAMI]
    assert sorted(fired) == [1, 2, 4]  # certutil on WS01, WS02 and (4688) DC01
    assert warm != cold


def test_refused_rule_stays_refused_from_the_cache(connection, cache: CompileCache,
                                                   tmp_path: Path) -> None:
    rule = tmp_path / "macos.yml"
    rule.write_text(MACOS_RULE, encoding="utf-8")
    _, cold, _ = run_once(connection, cache, rule)
    reason = cold.plan.refused["5a1b0000-0000-4000-8000-000000000701"]
    assert reason.startswith("no ingested source serves logsource")

    ruleset, warm, alerts = run_once(connection, cache, rule)
    (loaded,) = ruleset.rules
    assert loaded.rule is None and loaded.compiled is None
    assert loaded.cached_refusal == reason
    assert warm.plan.refused == cold.plan.refused
    assert warm.rules_run == 0 and alerts == []


def test_a_filter_document_bypasses_the_cache(connection, cache: CompileCache, rules: Path,
                                              tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    shutil.copy(rules / "windows" / "proc_creation_whoami.yml", folder)
    _, _, unfiltered = run_once(connection, cache, folder)
    assert len(unfiltered) == 2
    stored = entries(cache)

    (folder / "filter_ws02.yml").write_text(FILTER_WS02, encoding="utf-8")
    ruleset, _, filtered = run_once(connection, cache, folder)
    assert all(loaded.compiled is None for loaded in ruleset.rules)
    assert [json.loads(line)["entities"]["host"] for line in filtered] == ["WS01.corp.example"]
    assert entries(cache) == stored  # the filtered rule was not cached

    (folder / "filter_ws02.yml").unlink()
    ruleset, _, again = run_once(connection, cache, folder)
    assert all(loaded.compiled is not None for loaded in ruleset.rules)
    assert again == unfiltered


def test_correlation_files_are_never_cached(connection, cache: CompileCache, rules: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    run_once(connection, cache, rules / "windows", rules / "correlation")
    # One entry per base-rule file, but for the files holding rules a correlation names: pySigma
    # resolves correlations against rule objects, so those are always parsed.
    assert len(entries(cache)) == 3
    correlations = sorted((rules / "correlation").iterdir())
    for correlation in correlations:
        assert cache.get(sha256(correlation)) is None

    parsed: list[Path] = []
    real_parse = rules_module._parse

    def recording(ruleset: RuleSet, filters: list[object], path: Path, source: str,
                  data: bytes) -> list[rules_module.LoadedRule]:
        parsed.append(path)
        return real_parse(ruleset, filters, path, source, data)  # type: ignore[arg-type]

    monkeypatch.setattr(rules_module, "_parse", recording)
    load_rules([(rules / "windows", "user"), (rules / "correlation", "user")], cache)
    # Parsed again: the correlations and the base rules they name; the rest came from the cache.
    assert set(correlations) <= set(parsed)
    assert len(parsed) == len(correlations) + len(list((rules / "windows").iterdir())) - 3


def test_warm_cache_keeps_correlations_over_cached_base_rules(connection, cache: CompileCache,
                                                              rules: Path) -> None:
    folders = (rules / "windows", rules / "correlation")
    _, _, cold = run_once(connection, cache, *folders)
    ruleset, _, warm = run_once(connection, cache, *folders)
    assert ruleset.refusals == []
    assert warm == cold


@pytest.mark.parametrize("garbage", [
    pytest.param(b"", id="empty"),
    pytest.param(b"\x00\xff\xfe not json at all", id="binary"),
    pytest.param(None, id="truncated"),
    pytest.param(b'{"format": 1, "rules": [{"id": 1}]}', id="wrong-shape"),
    pytest.param(b'{"format": 1, "rules": [null]}', id="null-entry"),
    pytest.param(b'{"format": 999, "rules": []}', id="other-format"),
    pytest.param(b"[1, 2, 3]", id="not-an-object"),
])
def test_a_corrupt_cache_file_is_ignored(connection, cache: CompileCache, rules: Path,
                                         garbage: bytes | None) -> None:
    folder = rules / "windows"
    _, _, cold = run_once(connection, cache, folder)
    for entry in entries(cache):
        content = entry.read_bytes()
        entry.write_bytes(content[: len(content) // 2] if garbage is None else garbage)

    ruleset, _, warm = run_once(connection, cache, folder)
    assert all(loaded.compiled is None for loaded in ruleset.rules)
    assert warm == cold
    # The unreadable entries were written afresh: the next run is served from the cache.
    ruleset, _, again = run_once(connection, cache, folder)
    assert all(loaded.compiled is not None for loaded in ruleset.rules)
    assert again == cold


def test_a_malformed_cached_program_leaves_the_rule_to_its_sql(connection, cache: CompileCache,
                                                               rules: Path) -> None:
    rule = rules / "windows" / "proc_creation_whoami.yml"
    _, _, cold = run_once(connection, cache, rule)
    (entry,) = entries(cache)
    data = json.loads(entry.read_text(encoding="utf-8"))
    for route in data["rules"][0]["routes"]:
        route["program"] = ["bogus"]
    entry.write_text(json.dumps(data), encoding="utf-8")
    ruleset, _, warm = run_once(connection, cache, rule)
    assert warm == cold
    (loaded,) = ruleset.rules
    assert loaded.compiled is not None  # served from the cache …
    assert all(route.unsupported and route.program is None  # … its program decoded, refused
               for route in loaded.compiled.routes)


def test_default_cache_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TRAILGUARD_CACHE_DIR", str(tmp_path / "explicit"))
    default = CompileCache.default()
    assert default is not None and default.root == tmp_path / "explicit"
    assert default.folder.parent == default.root and default.folder.name.startswith("compiled-")
    monkeypatch.delenv("TRAILGUARD_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    default = CompileCache.default()
    assert default is not None and default.root == tmp_path / "xdg" / "trailguard"
    monkeypatch.setenv("TRAILGUARD_NO_CACHE", "1")
    assert CompileCache.default() is None
