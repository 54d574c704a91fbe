"""`trailguard rules list` and switching built-in packs off."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from trailguard.cli.main import app
from trailguard.detect.sources import builtin_packs

runner = CliRunner()


def test_rules_list_names_every_builtin_pack_with_counts() -> None:
    result = runner.invoke(app, ["rules", "list", "--json"])
    assert result.exit_code == 0, result.output
    packs = {pack["pack"]: pack for pack in json.loads(result.stdout)["packs"]}
    assert set(builtin_packs()) <= set(packs)
    for name in builtin_packs():
        assert packs[name]["source"] == "builtin"
        assert packs[name]["rules"] + packs[name]["correlations"] >= 1
        assert packs[name]["refused"] == 0


def test_an_unknown_pack_is_a_usage_error(tmp_path: Path, fixtures: Path) -> None:
    case = tmp_path / "case"
    assert runner.invoke(app, ["ingest", str(fixtures / "actiontrail"), "--case", str(case),
                               "--no-progress"]).exit_code == 0
    result = runner.invoke(app, ["detect", "--case", str(case), "--disable-pack", "nosuch"])
    assert result.exit_code == 2
    assert "no built-in pack named nosuch" in result.stderr


def test_a_disabled_pack_does_not_run(tmp_path: Path, fixtures: Path) -> None:
    case = tmp_path / "case"
    assert runner.invoke(app, ["ingest", str(fixtures / "actiontrail"), "--case", str(case),
                               "--no-progress"]).exit_code == 0
    every = json.loads(runner.invoke(app, ["detect", "--case", str(case), "--json"]).stdout)
    off = ["--disable-pack", "aliyun"]
    without = runner.invoke(app, ["detect", "--case", str(case), "--json", *off])
    if len(builtin_packs()) == 1:  # nothing else to run: no rules at all
        assert without.exit_code == 5
        return
    assert json.loads(without.stdout)["rules"] < every["rules"]
