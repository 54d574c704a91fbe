from __future__ import annotations

import hashlib
import stat
from pathlib import Path

from trailguard.custody.keys import load_or_create_key, load_public_key, raw_public_bytes


def test_key_is_made_once_private_and_reused(tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path)
    private = tmp_path / "custody" / "case.key"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    again = load_or_create_key(tmp_path)
    assert again.fingerprint == key.fingerprint
    public = load_public_key(tmp_path / "custody" / "case.pub")
    assert raw_public_bytes(public) == raw_public_bytes(key.public_key)
    assert key.fingerprint == hashlib.sha256(raw_public_bytes(public)).hexdigest()


def test_repr_shows_the_fingerprint_not_the_key(tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path)
    assert repr(key) == f"CaseKey(fingerprint={key.fingerprint!r})"
    assert not list((tmp_path / "custody").glob(".*.tmp"))
