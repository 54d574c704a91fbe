"""Fixtures shared by the detection tests: a small case built from tests/fixtures/detect (Windows,
CloudTrail, Linux and Zeek evidence) and the test rules in tests/detect/rules."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from trailguard.ingest.pipeline import Ingest
from trailguard.store.case import Case


@pytest.fixture(scope="module")
def detect_fixtures(fixtures: Path) -> Path:
    return fixtures / "detect"


@pytest.fixture(scope="module")
def rules() -> Path:
    return Path(__file__).resolve().parent / "rules"


@pytest.fixture(scope="module")
def case_dir(tmp_path_factory: pytest.TempPathFactory, detect_fixtures: Path) -> Path:
    """A case per test module (tests run detection on it, which replaces its alerts)."""
    folder = tmp_path_factory.mktemp("detect-case")
    with Case.open(folder, create=True) as case:
        Ingest(case, reference_year=2024).run(sorted(detect_fixtures.iterdir()))
    return folder


@pytest.fixture
def connection(case_dir: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    with Case.open(case_dir) as case:
        yield case.connection
