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


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never touch the network: any connection attempt fails loudly."""
    import socket

    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> None:
        if self.family == socket.AF_UNIX:
            return real_connect(self, address)  # type: ignore[arg-type]
        raise RuntimeError(f"a test tried to reach the network: {address!r}")

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(autouse=True)
def _private_folders(tmp_path_factory: pytest.TempPathFactory,
                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never write the user's cache or data folders (compiled rules, SigmaHQ releases)."""
    cache = tmp_path_factory.getbasetemp() / "trailguard-cache"
    monkeypatch.setenv("TRAILGUARD_CACHE_DIR", str(cache))
    monkeypatch.setenv("TRAILGUARD_DATA_DIR", str(tmp_path_factory.getbasetemp() / "data"))
