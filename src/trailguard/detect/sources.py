"""Where rules come from: TrailGuard's own packs, the SigmaHQ release fetched by
`trailguard rules update` into the user's data folder, and any path a user names.

The project never vendors SigmaHQ rules; `rules update` downloads a release archive (any URL
urllib opens, so tests use a local ``file://`` URL), checks every member before extracting
(no absolute paths, no ``..``, no links, bounded sizes), extracts only rule files and the
licence, and switches the data folder to the new release atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import urllib.request
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path, PurePosixPath

from trailguard.errors import TrailGuardError

SIGMAHQ_URL = "https://github.com/SigmaHQ/sigma/releases/latest/download/sigma_all_rules.zip"
SIGMAHQ_FOLDERS = ("rules", "rules-emerging-threats", "rules-threat-hunting", "rules-dfir")
MAX_ARCHIVE_BYTES = 256 * 1024 * 1024
MAX_EXTRACTED_BYTES = 1024 * 1024 * 1024
MAX_MEMBERS = 50_000
ALLOWED_SCHEMES = ("https://", "file://")
KEPT_SUFFIXES = (".yml", ".yaml")
KEPT_NAMES = ("LICENSE", "LICENSE.Detection.Rules.md", "Releases.md", "README.md")


class RuleUpdateError(TrailGuardError):
    """The SigmaHQ release could not be fetched or is not acceptable."""


def data_folder() -> Path:
    """The user's TrailGuard data folder (TRAILGUARD_DATA_DIR, else XDG_DATA_HOME)."""
    explicit = os.environ.get("TRAILGUARD_DATA_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "trailguard"


def builtin_rules() -> Path:
    """TrailGuard's own rule packs, shipped inside the package."""
    return Path(str(resources.files("trailguard") / "rules"))


def sigmahq_rules() -> Path | None:
    """The SigmaHQ release `rules update` installed, or None."""
    pointer = data_folder() / "sigmahq" / "current.json"
    try:
        current = json.loads(pointer.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    folder = pointer.parent / str(current.get("folder", ""))
    return folder if folder.is_dir() and folder.parent == pointer.parent else None


def builtin_packs() -> dict[str, Path]:
    """TrailGuard's own packs: one folder each under the package's `rules` folder."""
    root = builtin_rules()
    if not root.is_dir():
        return {}
    return {folder.name: folder for folder in sorted(root.iterdir())
            if folder.is_dir() and not folder.name.startswith((".", "_"))}


def default_rule_paths(builtin: bool, disabled_packs: Iterable[str] = ()
                       ) -> list[tuple[Path, str]]:
    """The rules `detect` runs unless told otherwise: the built-in packs (but those switched
    off) and the installed SigmaHQ release."""
    paths: list[tuple[Path, str]] = []
    if builtin:
        unknown = set(disabled_packs) - set(builtin_packs())
        if unknown:
            raise TrailGuardError(f"no built-in pack named {', '.join(sorted(unknown))} "
                                  f"(packs: {', '.join(builtin_packs()) or 'none'})")
        paths.extend((folder, "builtin") for name, folder in builtin_packs().items()
                     if name not in set(disabled_packs))
    installed = sigmahq_rules()
    if installed is not None:
        # A release archive holds the rule folders at its top or inside one folder.
        for base in (installed, *sorted(p for p in installed.iterdir() if p.is_dir())):
            found = [base / name for name in SIGMAHQ_FOLDERS if (base / name).is_dir()]
            if found:
                paths.extend((folder, "sigmahq") for folder in found)
                break
    return paths


@dataclass(frozen=True)
class UpdateResult:
    url: str
    sha256: str
    folder: Path
    rule_files: int
    fetched: str

    def as_dict(self) -> dict[str, object]:
        return {"url": self.url, "sha256": self.sha256, "folder": str(self.folder),
                "rule_files": self.rule_files, "fetched": self.fetched}


def update_sigmahq(url: str = SIGMAHQ_URL, timeout: float = 120.0) -> UpdateResult:
    """Fetch a SigmaHQ release archive and make it the installed rule set."""
    if not url.startswith(ALLOWED_SCHEMES):
        raise RuleUpdateError(f"unsupported URL scheme (use {', '.join(ALLOWED_SCHEMES)})")
    root = data_folder() / "sigmahq"
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix=".download-") as scratch:
        archive = Path(scratch) / "release.zip"
        digest = _download(url, archive, timeout)
        staging = Path(tempfile.mkdtemp(dir=root, prefix=".extract-"))
        try:
            rule_files = _extract(archive, staging)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    folder = root / f"release-{digest[:16]}"
    if folder.exists():
        shutil.rmtree(staging, ignore_errors=True)
    else:
        staging.rename(folder)
    fetched = datetime.now(UTC).isoformat(timespec="seconds")
    pointer = {"folder": folder.name, "url": url, "sha256": digest, "fetched": fetched,
               "rule_files": rule_files}
    temporary = root / ".current.json.tmp"
    temporary.write_text(json.dumps(pointer, indent=2), encoding="utf-8")
    temporary.replace(root / "current.json")
    for old in root.glob("release-*"):
        if old != folder:
            shutil.rmtree(old, ignore_errors=True)
    return UpdateResult(url, digest, folder, rule_files, fetched)


def _download(url: str, target: Path, timeout: float) -> str:
    digest = hashlib.sha256()
    total = 0
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, target.open("wb") as out:  # noqa: S310 - scheme checked above
            while chunk := response.read(1 << 20):
                total += len(chunk)
                if total > MAX_ARCHIVE_BYTES:
                    raise RuleUpdateError(
                        f"release archive larger than {MAX_ARCHIVE_BYTES // (1 << 20)} MiB"
                    )
                digest.update(chunk)
                out.write(chunk)
    except OSError as error:
        raise RuleUpdateError(f"cannot fetch {url}: {error}") from error
    return digest.hexdigest()


def _extract(archive: Path, target: Path) -> int:
    try:
        bundle = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as error:
        raise RuleUpdateError(f"not a zip archive: {error}") from error
    with bundle:
        members = bundle.infolist()
        if len(members) > MAX_MEMBERS:
            raise RuleUpdateError(f"archive holds more than {MAX_MEMBERS} members")
        if sum(member.file_size for member in members) > MAX_EXTRACTED_BYTES:
            raise RuleUpdateError("archive would extract to more than 1 GiB")
        rule_files = 0
        for member in members:
            name = PurePosixPath(member.filename)
            unsafe = member.filename.startswith(("/", "\\")) or ":" in member.filename
            if unsafe or ".." in name.parts:
                raise RuleUpdateError(f"unsafe path in archive: {member.filename!r}")
            if member.is_dir() or (member.external_attr >> 16) & 0o170000 == 0o120000:
                continue
            if name.suffix.lower() not in KEPT_SUFFIXES and name.name not in KEPT_NAMES:
                continue
            destination = target.joinpath(*name.parts)
            destination.parent.mkdir(parents=True, exist_ok=True)
            try:
                with bundle.open(member) as source, destination.open("wb") as out:
                    shutil.copyfileobj(source, out)
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
                raise RuleUpdateError(f"damaged archive member {member.filename!r}: {error}"
                                      ) from error
            if name.suffix.lower() in KEPT_SUFFIXES:
                rule_files += 1
    if rule_files == 0:
        raise RuleUpdateError("the archive holds no rule files")
    return rule_files
