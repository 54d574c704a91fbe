"""Loading playbooks: the built-ins shipped with TrailGuard, then files and folders."""

from __future__ import annotations

import json
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

from trailguard.errors import SourceLocation
from trailguard.respond.playbooks.cacao import from_cacao
from trailguard.respond.playbooks.errors import PlaybookError
from trailguard.respond.playbooks.model import Playbook, parse_playbook

YAML_SUFFIXES = (".yml", ".yaml")
CACAO_SUFFIXES = (".json",)


def builtin_playbooks() -> list[Playbook]:
    """The playbooks shipped in ``trailguard/respond/playbooks/builtin/``, by file name."""
    folder = resources.files("trailguard.respond.playbooks") / "builtin"
    found = sorted((p for p in folder.iterdir() if p.name.endswith(YAML_SUFFIXES)),
                   key=lambda p: p.name)
    return [parse_playbook(p.read_text(encoding="utf-8"), f"builtin/{p.name}") for p in found]


def load_file(path: Path) -> Playbook:
    """One playbook file: YAML, or CACAO 2.0 JSON (validated, imported)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlaybookError(f"cannot read playbook: {exc}", SourceLocation(str(path))) from None
    if path.suffix.lower() in CACAO_SUFFIXES:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PlaybookError(f"not valid JSON: {exc.msg}",
                                SourceLocation(str(path), "", exc.lineno)) from None
        return from_cacao(data, source=str(path))
    return parse_playbook(text, str(path))


def _files(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file()
                            and p.suffix.lower() in YAML_SUFFIXES + CACAO_SUFFIXES)
        elif path.is_file():
            files.append(path)
        else:
            raise PlaybookError("no such playbook file or folder", SourceLocation(str(path)))
    return files


def load_playbooks(paths: Iterable[Path] = (), builtin: bool = True) -> list[Playbook]:
    """The built-ins (unless ``builtin=False``) and every playbook in ``paths`` (files, or
    folders searched recursively for .yml/.yaml and CACAO .json), in that order. Two
    playbooks with one id are refused, naming both files."""
    playbooks = builtin_playbooks() if builtin else []
    playbooks += [load_file(path) for path in _files(paths)]
    seen: dict[str, Playbook] = {}
    for playbook in playbooks:
        first = seen.get(playbook.id)
        if first is not None:
            raise PlaybookError(f"duplicate playbook id {playbook.id} (also in "
                                f"{first.source})", playbook.location())
        seen[playbook.id] = playbook
    return playbooks
