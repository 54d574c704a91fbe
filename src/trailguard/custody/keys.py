"""The per-case Ed25519 key pair that signs the custody log.

``custody/case.key`` holds the private key (PEM PKCS8, mode 0600) and ``custody/case.pub``
the public key (PEM SubjectPublicKeyInfo). The key is made on first use. Nothing here ever
logs, prints or returns the private key's bytes.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InternalError, InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from trailguard.custody.errors import CustodyError
from trailguard.errors import SourceLocation

CUSTODY_FOLDER = "custody"
PRIVATE_KEY_FILE = "case.key"
PUBLIC_KEY_FILE = "case.pub"
ALGORITHM = "Ed25519"
#: What decoding a damaged PEM key can raise (OpenSSL reports some damage as internal errors).
_DECODE_ERRORS = (ValueError, TypeError, UnsupportedAlgorithm, InternalError)


def custody_folder(case_folder: Path) -> Path:
    return case_folder / CUSTODY_FOLDER


def raw_public_bytes(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def fingerprint(public_key: Ed25519PublicKey) -> str:
    """SHA-256 (hex) of the 32 raw public key bytes."""
    return hashlib.sha256(raw_public_bytes(public_key)).hexdigest()


def public_key_from_raw(text: str) -> Ed25519PublicKey:
    """The public key from its raw bytes in base64 (as the log's first entry keeps it)."""
    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except ValueError as error:
        raise CustodyError(f"not an Ed25519 public key: {error}") from error


def signature_valid(public_key: Ed25519PublicKey, signature_b64: str, message: bytes) -> bool:
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        if base64.b64encode(signature).decode("ascii") != signature_b64:
            return False  # non-canonical base64 (unused bits set): not what was written
        public_key.verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def private_pem(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.private_bytes(serialization.Encoding.PEM,
                                     serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())


def public_pem(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.PEM,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)


@dataclass(frozen=True, slots=True)
class CaseKey:
    """The case's key pair. ``repr`` shows the fingerprint only."""

    private_key: Ed25519PrivateKey
    public_key: Ed25519PublicKey

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_key)

    def sign(self, message: bytes) -> str:
        """Ed25519 signature of ``message``, base64."""
        return base64.b64encode(self.private_key.sign(message)).decode("ascii")

    def __repr__(self) -> str:
        return f"CaseKey(fingerprint={self.fingerprint!r})"


def load_or_create_key(case_folder: Path) -> CaseKey:
    """The case's key pair, made and written on first use (safe against a racing process:
    the private key file is created exclusively, the loser reads the winner's key)."""
    folder = custody_folder(case_folder)
    private_path = folder / PRIVATE_KEY_FILE
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not private_path.exists():
            _write_new_private_key(private_path)
    except OSError as error:
        raise CustodyError(f"cannot create the case key: {error.strerror or error}",
                           SourceLocation(str(private_path))) from error
    private_key = load_private_key(private_path)
    public_key = private_key.public_key()
    _ensure_public_file(folder / PUBLIC_KEY_FILE, public_key)
    return CaseKey(private_key, public_key)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CustodyError(f"cannot read the case key: {error.strerror or error}",
                           SourceLocation(str(path))) from error
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except _DECODE_ERRORS:
        raise CustodyError("the case key is not a readable PEM private key",
                           SourceLocation(str(path))) from None  # the cause may quote the key
    if not isinstance(key, Ed25519PrivateKey):
        raise CustodyError("the case key is not an Ed25519 key", SourceLocation(str(path)))
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except OSError as error:
        raise CustodyError(f"cannot read the case public key: {error.strerror or error}",
                           SourceLocation(str(path))) from error
    except _DECODE_ERRORS as error:
        raise CustodyError(f"the case public key is not readable PEM: {error}",
                           SourceLocation(str(path))) from error
    if not isinstance(key, Ed25519PublicKey):
        raise CustodyError("the case public key is not an Ed25519 key",
                           SourceLocation(str(path)))
    return key


def _write_new_private_key(path: Path) -> None:
    """Write a fresh key to a private temporary file, then link it into place (atomic and
    exclusive: a key that already exists is never replaced)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(private_pem(Ed25519PrivateKey.generate()))
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process made the key first
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    _fsync_folder(path.parent)


def _ensure_public_file(path: Path, public_key: Ed25519PublicKey) -> None:
    if path.exists():
        return  # a different file here is for verify to report, not for us to overwrite
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_bytes(public_pem(public_key))
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    except OSError as error:
        raise CustodyError(f"cannot write the case public key: {error.strerror or error}",
                           SourceLocation(str(path))) from error
    finally:
        temporary.unlink(missing_ok=True)
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a folder be synced
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
