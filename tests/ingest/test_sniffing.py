"""Format detection over every fixture, by content: each file in tests/fixtures/<source>/ must be
recognised as <source>, under its own name and under a meaningless one."""

from __future__ import annotations

from pathlib import Path

import pytest

from trailguard.ingest.base import SNIFF_BYTES
from trailguard.ingest.evidence import Unit, hash_root, iter_units
from trailguard.ingest.reader import choose_parser

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

#: Files whose content alone does not decide (or deliberately decides otherwise).
SPECIAL: dict[str, str | None] = {
    "shell_history/bash_plain.txt": None,  # plain history is only claimed by its file name
}


def expected_source(path: Path) -> str | None:
    relative = path.relative_to(FIXTURES).as_posix()
    if relative in SPECIAL:
        return SPECIAL[relative]
    folder = relative.split("/", 1)[0]
    if folder == "vpcflow":
        return "vpcflow_aliyun" if path.name.startswith("aliyun") else "vpcflow_aws"
    return folder


def heads(path: Path) -> list[tuple[str, bytes]]:
    """(member name, first bytes) of each unit of a fixture, decompressed."""
    out = []
    for unit in iter_units(hash_root(path)):
        assert isinstance(unit, Unit)
        out.append((unit.name, unit.opener().read(SNIFF_BYTES)))
    return out


#: Folders of tests/fixtures that are not evidence of one source (detect/: the detection tests'
#: small cases of several sources and their Sigma rules; audit/ and respond/: cloud API
#: responses, playbooks and CACAO documents, which are not evidence at all).
NOT_ONE_SOURCE = ("detect", "audit", "respond")
FILES = sorted(p for p in FIXTURES.rglob("*") if p.is_file() and p.parent != FIXTURES
               and p.relative_to(FIXTURES).parts[0] not in NOT_ONE_SOURCE)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(FIXTURES).as_posix())
def test_fixture_is_recognised_by_content(path: Path) -> None:
    expected = expected_source(path)
    for name, head in heads(path):
        for shown_as in (name, "evidence.bin"):
            chosen = choose_parser(head, shown_as)
            assert (chosen.NAME if chosen else None) == expected, shown_as
