"""Shared test fixtures. The one way tests reach the public data in ../shared/data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
SHARED_DATA = Path(os.environ.get("TRAILGUARD_SHARED_DATA", _DEFAULT_DATA)).resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Root of ../shared/data (public third-party logs and rules); skips the test when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"public test data not found at {SHARED_DATA} (set TRAILGUARD_SHARED_DATA)")
    return SHARED_DATA


FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def fixtures() -> Path:
    """The project's own small fixture files (tests/fixtures)."""
    return FIXTURES
